"""Reading image files into float arrays: decode fully, crop, resize, validate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .._arrays import is_int


def normalize_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``None``, an int (square) or ``(H, W)`` -> ``(H, W)`` of positive ints, or None."""
    if size is None:
        return None
    if is_int(size):
        hw = (int(size), int(size))
    elif isinstance(size, Sequence) and len(size) == 2 and all(is_int(s) for s in size):
        hw = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"size must be an int or (height, width), got {size!r}")
    if min(hw) <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return hw


def read_image(
    path: Path,
    *,
    channels: int = 3,
    crop: int | None = None,
    center_crop_square: bool = False,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode one image to ``(C, H, W)`` float32 in [0, 1].

    ``crop`` takes a centred ``crop x crop`` square; ``center_crop_square`` takes the
    largest centred square (used when ``crop`` is None); ``size`` resizes last. A missing,
    truncated or undecodable file is a ValueError naming it.
    """
    from PIL import Image, UnidentifiedImageError

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if not path.is_file():
        raise ValueError(f"image file {str(path)!r} does not exist")
    try:
        with Image.open(path) as img:
            img.load()
            img = img.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot read image {str(path)!r}: {exc}") from None
    w, h = img.size
    side = crop if crop is not None else (min(w, h) if center_crop_square else None)
    if side is not None:
        if side <= 0 or side > min(w, h):
            raise ValueError(f"crop {side} does not fit image {str(path)!r} of size {w}x{h}")
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def read_images(
    paths: Sequence[Path],
    *,
    channels: int,
    size: tuple[int, int] | None,
    crop: int | None = None,
    center_crop_square: bool = False,
    progress: bool = True,
    desc: str = "images",
) -> np.ndarray:
    """Decode many images into one ``(N, C, H, W)`` array; without ``size`` all must match."""
    out: np.ndarray | None = None
    for i, path in enumerate(tqdm(paths, desc=desc, disable=not progress, leave=False)):
        img = read_image(path, channels=channels, crop=crop, center_crop_square=center_crop_square, size=size)
        if out is None:
            out = np.empty((len(paths), *img.shape), dtype=np.float32)
        elif img.shape != out.shape[1:]:
            raise ValueError(
                f"image {str(path)!r} has shape {img.shape[1:]} but earlier images have {out.shape[2:]}; pass size= to resize"
            )
        out[i] = img
    if out is None:
        raise ValueError("no images to read")
    return out
