"""CelebA in its distributed folder layout, with centre crop and resize."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._images import LAZY_BYTES, LazyImages, normalize_size, read_images
from .dataset import Dataset

_PARTITIONS = {"0": "train", "1": "valid", "2": "test"}


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise ValueError(f"CelebA file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def parse_attr_file(path: str | os.PathLike[str]) -> tuple[list[str], list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt``: a count line, a header of names, rows of a file name and +-1 values.

    Returns ``(filenames, names, labels)`` with labels ``(N, K)`` uint8 in {0, 1}. The row
    count must equal the count line, every row must have one value per name, values must
    be -1 or 1, and file names must be unique.
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) < 2:
        raise ValueError(f"{str(path)!r}: expected a count line and a header line, got {len(lines)} lines")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise ValueError(f"{str(path)!r}: first line must be the image count, got {lines[0]!r}") from None
    names = lines[1].split()
    if not names:
        raise ValueError(f"{str(path)!r}: header line (line 2) has no attribute names")
    rows = lines[2:]
    if len(rows) != count:
        raise ValueError(f"{str(path)!r}: count line says {count} images but the file has {len(rows)} rows")
    filenames: list[str] = []
    labels = np.empty((count, len(names)), dtype=np.uint8)
    for i, line in enumerate(rows):
        fields = line.split()
        if len(fields) != len(names) + 1:
            raise ValueError(
                f"{str(path)!r} line {i + 3}: expected a file name and {len(names)} values, got {len(fields)} fields"
            )
        bad = [v for v in fields[1:] if v not in ("1", "-1")]
        if bad:
            raise ValueError(f"{str(path)!r} line {i + 3}: attribute values must be 1 or -1, got {bad[0]!r}")
        filenames.append(fields[0])
        labels[i] = [v == "1" for v in fields[1:]]
    if len(set(filenames)) != len(filenames):
        raise ValueError(f"{str(path)!r}: file names are not unique")
    return filenames, names, labels


def parse_partition_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse ``list_eval_partition.txt`` (``name 0|1|2`` per line) into name -> train/valid/test."""
    path = Path(path)
    out: dict[str, str] = {}
    for i, line in enumerate(_read_lines(path)):
        fields = line.split()
        if len(fields) != 2 or fields[1] not in _PARTITIONS:
            raise ValueError(f"{str(path)!r} line {i + 1}: expected 'filename 0|1|2', got {line!r}")
        if fields[0] in out:
            raise ValueError(f"{str(path)!r} line {i + 1}: {fields[0]!r} is listed twice")
        out[fields[0]] = _PARTITIONS[fields[1]]
    return out


def celeba_rows(
    root: str | os.PathLike[str], *, limit: int | None = None
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """CelebA's annotations without reading any image: ``(filenames, attribute names,
    labels (N, 40) uint8, split (N,))`` for the first ``limit`` rows (all when None),
    as :func:`load_celeba` uses them. Problems are ValueErrors naming the file."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"CelebA folder {str(root)!r} does not exist")
    filenames, names, labels = parse_attr_file(root / "list_attr_celeba.txt")
    partition = parse_partition_file(root / "list_eval_partition.txt")
    missing = [f for f in filenames if f not in partition]
    if missing:
        raise ValueError(f"list_eval_partition.txt has no entry for {len(missing)} images, e.g. {missing[0]!r}")
    extra = len(partition) - len(filenames)
    if extra:
        raise ValueError(f"list_eval_partition.txt lists {extra} images that list_attr_celeba.txt does not")
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        filenames, labels = filenames[:limit], labels[:limit]
    if not (root / "img_align_celeba").is_dir():
        raise ValueError(f"CelebA image folder {str(root / 'img_align_celeba')!r} not found")
    return filenames, names, labels, np.array([partition[f] for f in filenames])


def load_celeba(
    root: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] = 64,
    crop: int | None = None,
    limit: int | None = None,
    progress: bool = True,
    lazy: bool | None = None,
) -> Dataset:
    """Load CelebA from ``root`` (``img_align_celeba/``, ``list_attr_celeba.txt``, ``list_eval_partition.txt``).

    Each image is centre-cropped to a ``crop x crop`` square (the largest centred square
    when None; 140 is the common choice for the aligned 178x218 images) and resized to
    ``size``. Labels are the 40 attributes mapped from -1/+1 to 0/1. ``limit`` loads only
    the first ``limit`` rows of the attribute file (the whole set at 64x64 needs ~10 GB).
    ``lazy=True`` keeps the file names and decodes a batch at a time when the images are
    used (see :func:`~latentatlas.data.load_image_folder`); ``None`` (default) is lazy when
    the decoded images would pass 256 MiB.
    """
    hw = normalize_size(size)
    filenames, names, labels, split = celeba_rows(root, limit=limit)
    paths = [Path(root) / "img_align_celeba" / f for f in filenames]
    if lazy is None:
        lazy = hw is not None and len(paths) * 3 * hw[0] * hw[1] * 4 > LAZY_BYTES
    if lazy:
        if hw is None:
            raise ValueError("lazy=True needs size=")
        missing_file = next((p for p in paths if not p.is_file()), None)
        if missing_file is not None:
            raise ValueError(f"image file {str(missing_file)!r} does not exist")
        images: Any = LazyImages(paths, channels=3, size=hw, crop=crop, center_crop_square=True)
    else:
        images = read_images(paths, channels=3, size=hw, crop=crop, center_crop_square=True,
                             progress=progress, desc="celeba")
    return Dataset(
        images=images,
        labels=labels,
        label_names=names,
        split=split,
        classes=None,
        name="celeba",
        meta={"root": str(root), "filenames": filenames, "crop": crop, "size": list(hw or ())},
    )
