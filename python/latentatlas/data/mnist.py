"""MNIST (and MNIST-format, e.g. Fashion-MNIST) idx files from a folder, raw or gzipped."""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._util import random_split
from .dataset import Dataset

_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one idx file (``.gz`` or raw) into a native-endian numpy array.

    Checks the magic number (two zero bytes, a type code, the rank) and that the payload
    holds exactly the product of the dimensions -- a truncated or padded file is a
    ValueError naming the file, never a silently shorter array.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            raw = gzip.decompress(fh.read()) if head == b"\x1f\x8b" else fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"cannot read idx file {str(path)!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{str(path)!r} is not an idx file (bad magic number {raw[:4].hex()!r})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{str(path)!r}: idx header is truncated or has rank 0")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - 4 - 4 * ndim
    if payload != expected:
        raise ValueError(
            f"{str(path)!r}: header declares shape {dims} ({expected} bytes of data) but the file holds {payload} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / stem, root / f"{stem}.gz", root / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    raise ValueError(f"MNIST file {stem!r} (or {stem}.gz) not found in {str(root)!r}")


def load_mnist(
    root: str | os.PathLike[str],
    *,
    valid_fraction: float = 1.0 / 12.0,
    seed: int = 0,
) -> Dataset:
    """Load MNIST-format idx files from ``root`` as a Dataset.

    Expects ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or ``.gz``).
    Images are ``(N, 1, 28, 28)`` scaled to ``[0, 1]``; ``labels`` is one-hot with names
    ``"0"``..``"9"``; the t10k files are the test split and a seeded ``valid_fraction`` of
    the training files (5000 of 60000 by default) is the valid split.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    parts = {}
    for key, path in mnist_paths(root).items():
        arr = read_idx(path)
        kind = key.split("_")[1]
        if kind == "images" and (arr.ndim != 3 or arr.dtype != np.uint8):
            raise ValueError(f"{str(path)!r}: images must be a 3-D uint8 idx array, got {arr.dtype} {arr.shape}")
        if kind == "labels":
            if arr.ndim != 1 or arr.dtype != np.uint8:
                raise ValueError(f"{str(path)!r}: labels must be a 1-D uint8 idx array, got {arr.dtype} {arr.shape}")
            if arr.size and arr.max() > 9:
                raise ValueError(f"{str(path)!r}: labels must be digits 0..9, found {int(arr.max())}")
        parts[key] = arr
    for part in ("train", "test"):
        ni, nl = parts[f"{part}_images"].shape[0], parts[f"{part}_labels"].shape[0]
        if ni != nl:
            raise ValueError(f"MNIST {part} files disagree: {ni} images but {nl} labels")
    if parts["train_images"].shape[1:] != parts["test_images"].shape[1:]:
        raise ValueError(
            f"MNIST train and test images differ in size: {parts['train_images'].shape[1:]} vs {parts['test_images'].shape[1:]}"
        )
    images = np.concatenate([parts["train_images"], parts["test_images"]])[:, None].astype(np.float32) / 255.0
    classes = np.concatenate([parts["train_labels"], parts["test_labels"]]).astype(np.int64)
    split = mnist_split(parts["train_images"].shape[0], parts["test_images"].shape[0], valid_fraction, seed)
    return Dataset(
        images=images,
        labels=np.eye(10, dtype=np.uint8)[classes],
        label_names=[str(d) for d in range(10)],
        split=split,
        classes=classes,
        name="mnist",
        meta={"root": str(root), "split_seed": seed},
    )


def _fractions(valid_fraction: float) -> Sequence[float]:
    return (1.0 - valid_fraction, valid_fraction, 0.0)


def _open_idx(path: Path) -> Any:
    """The idx file opened for reading bytes (decompressing a ``.gz`` as a stream)."""
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _idx_header(fh: Any, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """The element type and dimensions from an open idx file's header (checked)."""
    head = fh.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise ValueError(f"{str(path)!r} is not an idx file (bad magic number {head.hex()!r})")
    dtype, ndim = _IDX_DTYPES[head[2]], head[3]
    raw_dims = fh.read(4 * ndim)
    if ndim == 0 or len(raw_dims) < 4 * ndim:
        raise ValueError(f"{str(path)!r}: idx header is truncated or has rank 0")
    return dtype, struct.unpack(f">{ndim}I", raw_dims)


def idx_shape(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype]:
    """The declared shape and element type of an idx file, reading only its header."""
    path = Path(path)
    try:
        with _open_idx(path) as fh:
            dtype, dims = _idx_header(fh, path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"cannot read idx file {str(path)!r}: {exc}") from None
    return dims, dtype.newbyteorder("=")


def read_idx_rows(path: str | os.PathLike[str], start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` (along the first axis) of an idx file, reading only those bytes
    (a ``.gz`` file is decompressed as a stream up to them), native-endian.

    The header is checked as in :func:`read_idx`, and a range past the declared row count
    or a file too short to hold it is a ValueError naming the file.
    """
    path = Path(path)
    try:
        with _open_idx(path) as fh:
            dtype, dims = _idx_header(fh, path)
            if not 0 <= start <= stop <= dims[0]:
                raise ValueError(f"{str(path)!r}: rows {start}:{stop} are outside its {dims[0]} rows")
            row_bytes = int(np.prod(dims[1:], dtype=np.int64)) * dtype.itemsize
            fh.seek(4 + 4 * len(dims) + start * row_bytes)
            data = fh.read((stop - start) * row_bytes)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"cannot read idx file {str(path)!r}: {exc}") from None
    if len(data) != (stop - start) * row_bytes:
        raise ValueError(f"{str(path)!r} is truncated: rows {start}:{stop} need {(stop - start) * row_bytes} bytes, "
                         f"found {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape((stop - start, *dims[1:])).astype(dtype.newbyteorder("="))


def mnist_paths(root: str | os.PathLike[str]) -> dict[str, Path]:
    """The four idx files of an MNIST folder (raw or ``.gz``), keyed ``train_images``,
    ``train_labels``, ``test_images``, ``test_labels``; ValueError naming a missing one."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"MNIST folder {str(root)!r} does not exist")
    return {key: _find(root, stem) for key, stem in _FILES.items()}


def mnist_split(n_train: int, n_test: int, valid_fraction: float = 1.0 / 12.0, seed: int = 0) -> np.ndarray:
    """The split :func:`load_mnist` gives its rows: a seeded ``valid_fraction`` of the
    ``n_train`` training rows is valid, the ``n_test`` t10k rows are test."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    return np.concatenate([random_split(n_train, _fractions(valid_fraction), seed), np.full(n_test, "test")])
