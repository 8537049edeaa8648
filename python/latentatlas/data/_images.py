"""Reading image files into float arrays: decode fully, crop, resize, validate; or lazily,
a batch at a time (:class:`LazyImages`), for large images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .._arrays import is_int


#: Above this many bytes of decoded images, the loaders' ``lazy=None`` keeps file names instead.
LAZY_BYTES = 256 * 2**20


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
    center_crop: bool = False,
) -> np.ndarray:
    """Decode one image to ``(C, H, W)`` float32 in [0, 1].

    ``crop`` takes a centred ``crop x crop`` square; ``center_crop_square`` takes the
    largest centred square (used when ``crop`` is None); ``center_crop`` (with ``size``)
    takes the largest centred box of ``size``'s aspect ratio; ``size`` resizes last. A missing,
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
    elif center_crop and size is not None:
        w, h = img.size
        # the largest box of aspect size[1]:size[0] (width:height) that fits, centred
        cw, ch = (w, max(1, round(w * size[0] / size[1]))) if w * size[0] <= h * size[1] else \
            (max(1, round(h * size[1] / size[0])), h)
        left, top = (w - cw) // 2, (h - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
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
    center_crop: bool = False,
    progress: bool = True,
    desc: str = "images",
) -> np.ndarray:
    """Decode many images into one ``(N, C, H, W)`` array; without ``size`` all must match."""
    out: np.ndarray | None = None
    for i, path in enumerate(tqdm(paths, desc=desc, disable=not progress, leave=False)):
        img = read_image(path, channels=channels, crop=crop, center_crop_square=center_crop_square, size=size,
                         center_crop=center_crop)
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


def image_size_of(path: Path) -> tuple[int, int]:
    """``(H, W)`` of an image file from its header, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot read image {str(path)!r}: {exc}") from None
    return int(h), int(w)


class LazyImages:
    """Image files read as an ``(N, C, H, W)`` float32 batch on demand, never all at once.

    Indexing with an int decodes one image ``(C, H, W)``; with a slice, an index array or
    a boolean mask it returns another :class:`LazyImages` over those files (nothing is
    decoded); ``np.asarray`` (or :meth:`read`) decodes the selection. So a data set of
    thousands of 512 px images costs its file names until a batch is needed: the batching
    loops (``encode_dataset``, ``encode_batched``) decode one batch at a time.
    """

    is_lazy_images = True
    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, paths: Sequence[Path], *, channels: int, size: tuple[int, int], crop: int | None = None,
                 center_crop_square: bool = False, center_crop: bool = False) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.paths = [Path(p) for p in paths]
        self.channels = channels
        self.size = (int(size[0]), int(size[1]))
        self._options = {"crop": crop, "center_crop_square": center_crop_square, "center_crop": center_crop}

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(N, C, H, W)``."""
        return (len(self.paths), self.channels, *self.size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> Any:
        if is_int(index):
            i = int(index)
            if not -len(self) <= i < len(self):
                raise IndexError(f"image index {i} out of range for {len(self)} images")
            return self._read_one(self.paths[i])
        if isinstance(index, slice):
            chosen = self.paths[index]
        else:
            idx = np.asarray(index)
            if idx.dtype == bool:
                if idx.shape != (len(self),):
                    raise IndexError(f"a boolean mask must have shape ({len(self)},), got {idx.shape}")
                idx = np.flatnonzero(idx)
            if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
                raise IndexError(f"LazyImages takes an int, a slice, a 1-D index array or a mask, got {index!r}")
            chosen = [self.paths[int(i)] for i in idx]
        out = LazyImages.__new__(LazyImages)
        out.paths, out.channels, out.size, out._options = list(chosen), self.channels, self.size, self._options
        return out

    def _read_one(self, path: Path) -> np.ndarray:
        img = read_image(path, channels=self.channels, size=self.size, **self._options)
        if img.shape[1:] != self.size:
            raise ValueError(f"image {str(path)!r} decodes to {img.shape[1:]}, not {self.size}")
        return img

    def read(self) -> np.ndarray:
        """Decode every image of the selection into one ``(N, C, H, W)`` float32 array."""
        out = np.empty(self.shape, dtype=np.float32)
        for i, path in enumerate(self.paths):
            out[i] = self._read_one(path)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.read()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"LazyImages({len(self)} files, shape={self.shape})"
