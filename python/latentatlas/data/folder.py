"""An image folder with a CSV of labels."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._images import LAZY_BYTES, LazyImages, image_size_of, normalize_size, read_images
from ._util import SPLITS, random_split
from .dataset import Dataset


def _parse_binary(value: str, column: str, line: int) -> int:
    v = value.strip().lower()
    if v in ("1", "true", "yes"):
        return 1
    if v in ("0", "-1", "false", "no"):
        return 0
    raise ValueError(f"labels CSV line {line}, column {column!r}: expected 0/1 (or -1/1, true/false), got {value!r}")


def read_labels_csv(
    root: str | os.PathLike[str],
    labels_csv: str | os.PathLike[str],
    *,
    filename_column: str = "filename",
    split_column: str = "split",
    class_column: str = "class",
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[list[str], np.ndarray, list[str], np.ndarray, np.ndarray | None]:
    """The rows of an image folder's labels CSV, without reading any image.

    Returns ``(filenames, labels (N, K) uint8, attribute names, split (N,), classes (N,) or None)``
    as :func:`load_image_folder` uses them (a seeded random split when the CSV has no
    split column). Every problem with the folder or the CSV is a ValueError naming it.
    """
    root = Path(root)
    labels_csv = Path(labels_csv)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist")
    if not labels_csv.is_file():
        raise ValueError(f"labels CSV {str(labels_csv)!r} does not exist")
    try:
        with open(labels_csv, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read labels CSV {str(labels_csv)!r}: {exc}") from None
    if not rows:
        raise ValueError(f"labels CSV {str(labels_csv)!r} is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if filename_column not in header:
        raise ValueError(f"labels CSV {str(labels_csv)!r} has no {filename_column!r} column; columns: {header}")
    if len(set(header)) != len(header):
        raise ValueError(f"labels CSV {str(labels_csv)!r} has duplicate column names: {header}")
    if not body:
        raise ValueError(f"labels CSV {str(labels_csv)!r} has a header but no rows")
    special = {filename_column, split_column, class_column}
    attr_cols = [h for h in header if h not in special]
    idx = {h: i for i, h in enumerate(header)}
    filenames: list[str] = []
    labels = np.empty((len(body), len(attr_cols)), dtype=np.uint8)
    classes = np.empty(len(body), dtype=np.int64) if class_column in idx else None
    split = np.empty(len(body), dtype="<U5") if split_column in idx else None
    for r, row in enumerate(body):
        line = r + 2
        if len(row) != len(header):
            raise ValueError(f"labels CSV line {line}: expected {len(header)} fields, got {len(row)}")
        name = row[idx[filename_column]].strip()
        if not name:
            raise ValueError(f"labels CSV line {line}: empty {filename_column!r}")
        filenames.append(name)
        labels[r] = [_parse_binary(row[idx[c]], c, line) for c in attr_cols]
        if classes is not None:
            text = row[idx[class_column]].strip()
            if not text.isdigit():
                raise ValueError(f"labels CSV line {line}: {class_column!r} must be a non-negative integer, got {text!r}")
            classes[r] = int(text)
        if split is not None:
            value = row[idx[split_column]].strip()
            if value not in SPLITS:
                raise ValueError(f"labels CSV line {line}: {split_column!r} must be one of {SPLITS}, got {value!r}")
            split[r] = value
    if len(set(filenames)) != len(filenames):
        dup = next(f for f in filenames if filenames.count(f) > 1)
        raise ValueError(f"labels CSV {str(labels_csv)!r} lists {dup!r} more than once")
    if split is None:
        split = random_split(len(filenames), split_fractions, seed)
    return filenames, labels, attr_cols, split, classes


def load_image_folder(
    root: str | os.PathLike[str],
    labels_csv: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] | None = None,
    channels: int = 3,
    filename_column: str = "filename",
    split_column: str = "split",
    class_column: str = "class",
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    progress: bool = True,
    crop: bool = True,
    lazy: bool | None = None,
) -> Dataset:
    """Load the images named in a CSV (paths relative to ``root``) with their labels.

    The CSV needs a header with ``filename_column``. An optional ``split_column`` holds
    train/valid/test per row (otherwise a seeded random split with ``split_fractions``);
    an optional ``class_column`` holds non-negative integer class ids. Every other column
    is a binary attribute (0/1, -1/1 or true/false). Images are resized to ``size`` when
    given (after a centred crop to ``size``'s aspect ratio unless ``crop=False``),
    otherwise they must all have the same size.

    ``lazy=True`` keeps only the file names and decodes a batch at a time when the images
    are used (:class:`LazyImages`: the way to take thousands of 256–512 px images to a
    diffusion VAE); ``None`` (default) is lazy when the decoded set would pass 256 MiB.
    Without ``size``, a lazy set takes the first image's size and every other image must
    match it.
    """
    hw = normalize_size(size)
    filenames, labels, attr_cols, split, classes = read_labels_csv(
        root, labels_csv, filename_column=filename_column, split_column=split_column, class_column=class_column,
        split_fractions=split_fractions, seed=seed)
    root = Path(root)
    paths = [root / f for f in filenames]
    if lazy is None or lazy:
        missing = next((p for p in paths if not p.is_file()), None)
        if missing is not None:
            raise ValueError(f"image file {str(missing)!r} does not exist")
        shape_hw = hw if hw is not None else image_size_of(paths[0])
        lazy = bool(lazy) or len(paths) * channels * shape_hw[0] * shape_hw[1] * 4 > LAZY_BYTES
    if lazy:
        images: Any = LazyImages(paths, channels=channels, size=shape_hw, center_crop=crop and hw is not None)
    else:
        images = read_images(paths, channels=channels, size=hw, center_crop=crop and hw is not None,
                             progress=progress, desc="folder")
    return Dataset(
        images=images,
        labels=labels,
        label_names=attr_cols,
        split=split,
        classes=classes,
        name=f"folder:{root.name}",
        meta={"root": str(root), "labels_csv": str(labels_csv), "filenames": filenames},
    )
