"""Row sources for distributed encoding: a data set's annotations held by the driver, its
images read by the workers, a range of rows at a time.

The driver parses only the small annotation files (a labels CSV, CelebA's attribute and
partition lists, MNIST's label files); each worker decodes the images of the rows it is
given. Every source gives the rows in the order, and with the decoding, of the matching
loader (:func:`~latentatlas.data.load_image_folder`, :func:`~latentatlas.data.load_celeba`,
:func:`~latentatlas.data.load_mnist`), so a distributed encode equals
:func:`~latentatlas.data.encode_dataset` on the loaded data set row for row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset
from ..data._images import normalize_size, read_image
from ..data.celeba import celeba_rows
from ..data.folder import read_labels_csv
from ..data.mnist import idx_shape, mnist_paths, mnist_split, read_idx, read_idx_rows

__all__ = ["RowSource", "DatasetSource", "FileSource", "MnistSource", "as_source", "folder_source",
           "celeba_source", "mnist_source"]


@dataclass
class RowSource:
    """Rows to encode: ``n`` rows with their labels, split and classes (in the driver), and
    :meth:`read` giving the images of rows ``start:stop`` (in a worker)."""

    labels: np.ndarray
    label_names: list[str]
    split: np.ndarray
    classes: np.ndarray | None
    name: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def read(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover - abstract
        """``(stop - start, C, H, W)`` float32 images in [0, 1]."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-able description of where the rows come from (part of the run's plan)."""
        return {"name": self.name, "n": len(self)}


@dataclass
class DatasetSource(RowSource):
    """An in-memory :class:`~latentatlas.data.Dataset` (the images travel with the source)."""

    images: np.ndarray = field(default_factory=lambda: np.empty((0, 1, 1, 1), np.float32))

    def read(self, start: int, stop: int) -> np.ndarray:
        """The images of rows ``start:stop``."""
        return self.images[start:stop]

    def describe(self) -> dict[str, Any]:
        """Name, size, image shape and a SHA-256 of the images, labels, split and classes."""
        import hashlib

        h = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        for part in (self.labels, self.split.astype("<U5"), self.classes):
            if part is not None:
                h.update(np.ascontiguousarray(part).tobytes())
        return {"name": self.name, "n": len(self), "image_shape": list(self.images.shape[1:]),
                "sha256": h.hexdigest()}


@dataclass
class FileSource(RowSource):
    """Image files (one per row) decoded as the folder and CelebA loaders decode them."""

    paths: list[str] = field(default_factory=list)
    channels: int = 3
    size: tuple[int, int] | None = None
    crop: int | None = None
    center_crop_square: bool = False

    def read(self, start: int, stop: int) -> np.ndarray:
        """Decode the files of rows ``start:stop``; without ``size`` they must share a shape."""
        images = [read_image(Path(p), channels=self.channels, crop=self.crop,
                             center_crop_square=self.center_crop_square, size=self.size)
                  for p in self.paths[start:stop]]
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise ValueError(f"images of rows {start}:{stop} differ in shape {sorted(shapes)}; pass size= to resize")
        return np.stack(images).astype(np.float32, copy=False)

    def describe(self) -> dict[str, Any]:
        """Name, size, decoding options, and the first and last file."""
        return {"name": self.name, "n": len(self), "channels": self.channels,
                "size": None if self.size is None else list(self.size), "crop": self.crop,
                "first": self.paths[0], "last": self.paths[-1]}


@dataclass
class MnistSource(RowSource):
    """MNIST idx files: rows ``0..n_train-1`` from the training file, then the t10k file."""

    train_images: str = ""
    test_images: str = ""
    n_train: int = 0

    def read(self, start: int, stop: int) -> np.ndarray:
        """The rows' pixels read from the idx files (only those bytes), scaled to [0, 1]."""
        parts = []
        if start < self.n_train:
            parts.append(read_idx_rows(self.train_images, start, min(stop, self.n_train)))
        if stop > self.n_train:
            parts.append(read_idx_rows(self.test_images, max(start, self.n_train) - self.n_train,
                                       stop - self.n_train))
        raw = np.concatenate(parts)
        if raw.dtype != np.uint8 or raw.ndim != 3:
            raise ValueError(f"MNIST images must be a 3-D uint8 idx array, got {raw.dtype} {raw.shape}")
        return raw[:, None].astype(np.float32) / 255.0

    def describe(self) -> dict[str, Any]:
        """Name, size and the two image files."""
        return {"name": self.name, "n": len(self), "train_images": self.train_images,
                "test_images": self.test_images}


def as_source(data: Any) -> RowSource:
    """A :class:`RowSource` from a source (returned as is) or an in-memory Dataset."""
    if isinstance(data, RowSource):
        if len(data) == 0:
            raise ValueError("the source has no rows")
        return data
    if isinstance(data, Dataset):
        return DatasetSource(labels=data.labels, label_names=list(data.label_names), split=data.split,
                             classes=data.classes, name=data.name, images=data.images)
    raise TypeError(f"data must be a Dataset or a row source (folder_source, celeba_source, mnist_source), "
                    f"got {type(data).__name__}")


def folder_source(root: str | os.PathLike[str], labels_csv: str | os.PathLike[str], *,
                  size: int | tuple[int, int] | None = None, channels: int = 3, seed: int = 0) -> FileSource:
    """An image folder with a labels CSV, as :func:`~latentatlas.data.load_image_folder` reads it."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    hw = normalize_size(size)
    filenames, labels, names, split, classes = read_labels_csv(root, labels_csv, seed=seed)
    root = Path(root)
    return FileSource(labels=labels, label_names=names, split=split, classes=classes,
                      name=f"folder:{root.name}", paths=[str(root / f) for f in filenames],
                      channels=channels, size=hw)


def celeba_source(root: str | os.PathLike[str], *, size: int | tuple[int, int] = 64, crop: int | None = None,
                  limit: int | None = None) -> FileSource:
    """CelebA's folder layout, as :func:`~latentatlas.data.load_celeba` reads it."""
    hw = normalize_size(size)
    filenames, names, labels, split = celeba_rows(root, limit=limit)
    folder = Path(root) / "img_align_celeba"
    return FileSource(labels=labels, label_names=names, split=split, classes=None, name="celeba",
                      paths=[str(folder / f) for f in filenames], channels=3, size=hw, crop=crop,
                      center_crop_square=True)


def mnist_source(root: str | os.PathLike[str], *, valid_fraction: float = 1.0 / 12.0, seed: int = 0) -> MnistSource:
    """MNIST idx files, as :func:`~latentatlas.data.load_mnist` reads them (the driver
    reads only the label files)."""
    paths = mnist_paths(root)
    train_labels, test_labels = read_idx(paths["train_labels"]), read_idx(paths["test_labels"])
    for key, arr in (("train_labels", train_labels), ("test_labels", test_labels)):
        if arr.ndim != 1 or arr.dtype != np.uint8 or (arr.size and arr.max() > 9):
            raise ValueError(f"{str(paths[key])!r}: labels must be a 1-D uint8 idx array of digits 0..9")
    classes = np.concatenate([train_labels, test_labels]).astype(np.int64)
    n_train = int(train_labels.shape[0])
    for part, n_labels in (("train", n_train), ("test", int(test_labels.shape[0]))):
        dims, dtype = idx_shape(paths[f"{part}_images"])
        if len(dims) != 3 or dtype != np.uint8:
            raise ValueError(f"{str(paths[part + '_images'])!r}: images must be a 3-D uint8 idx array, "
                             f"got {dtype} {dims}")
        if dims[0] != n_labels:
            raise ValueError(f"MNIST {part} files disagree: {dims[0]} images but {n_labels} labels")
    return MnistSource(labels=np.eye(10, dtype=np.uint8)[classes], label_names=[str(d) for d in range(10)],
                       split=mnist_split(n_train, int(test_labels.shape[0]), valid_fraction, seed),
                       classes=classes, name="mnist", train_images=str(paths["train_images"]),
                       test_images=str(paths["test_images"]), n_train=n_train)
