"""Data sets that need no network (digits, procedural shapes) and loaders for data on disk.

Every loader returns a :class:`Dataset`; :func:`encode_dataset` turns one into a
:class:`LatentStore` of encodings.
"""

from __future__ import annotations

from .celeba import load_celeba, parse_attr_file, parse_partition_file
from ._images import LazyImages
from .dataset import Dataset
from .digits import load_digits
from .folder import load_image_folder
from .mnist import load_mnist, read_idx
from .shapes import (
    ATTRIBUTES as SHAPE_ATTRIBUTES,
    SHAPE_NAMES,
    make_shapes,
    measure_area,
    measure_brightness,
    measure_factors,
    measure_hue,
    measure_position,
    measure_sharpness,
    measure_size,
    render_shapes,
)
from .store import LatentStore, VectorSet, encode_dataset, read_json_vectors, write_json_vectors

__all__ = [
    "Dataset",
    "LatentStore",
    "LazyImages",
    "SHAPE_ATTRIBUTES",
    "SHAPE_NAMES",
    "VectorSet",
    "encode_dataset",
    "load_celeba",
    "load_digits",
    "load_image_folder",
    "load_mnist",
    "make_shapes",
    "measure_area",
    "measure_brightness",
    "measure_factors",
    "measure_hue",
    "measure_position",
    "measure_sharpness",
    "measure_size",
    "parse_attr_file",
    "parse_partition_file",
    "read_idx",
    "read_json_vectors",
    "render_shapes",
    "write_json_vectors",
]
