"""Image sheets and GIF walks from NCHW image batches.

Images come in as ``(N, C, H, W)`` float arrays or tensors with ``C`` 1 (grayscale) or 3
(RGB) and values meant to lie in [0, 1]; values outside are clipped, NaN or Inf is an
error. Sheets come out as ``uint8`` numpy arrays, ``(H, W)`` for grayscale and
``(H, W, 3)`` for RGB, ready for :func:`save_image` or any image library. Tiny images (the
8×8 digits) are upscaled with nearest neighbour so every pixel stays a visible square.

Files are written atomically: to a temporary file in the target's folder, then moved over
the target with :func:`os.replace`, so a reader never sees half a PNG or GIF.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._files import atomic_write
from ._arrays import check_images, check_int, is_number

__all__ = ["to_numpy_images", "auto_scale", "fit_cells", "image_sheet", "save_image", "save_gif"]

Array = Any  # numpy.ndarray or torch.Tensor

# Cells smaller than this many pixels are upscaled (by an integer factor) to at least it.
MIN_CELL_PIXELS = 64
# Cells larger than this many pixels on their longer side (a 512 px VAE's outputs) are
# downscaled (area averaging) to fit it, unless the caller asks for max_cell=None.
MAX_CELL_PIXELS = 256
_LABEL_PAD = 4


def to_numpy_images(images: Array, name: str = "images") -> np.ndarray:
    """Checks an NCHW image batch and returns it as a float32 numpy array clipped to [0, 1].

    Args:
        images: ``(N, C, H, W)`` numpy array or torch tensor (any device), real dtype,
            ``C`` 1 or 3.
        name: the argument name used in error messages.

    Raises:
        TypeError: not an array/tensor, or not a float dtype.
        ValueError: not 4-D, ``C`` not 1 or 3, an empty image, or NaN/Inf values.
    """
    return check_images(images, name, clip=True)


def auto_scale(height: int, width: int) -> int:
    """The integer nearest-neighbour factor that makes a cell at least
    :data:`MIN_CELL_PIXELS` pixels on its shorter side (1 for images already that big)."""
    side = min(int(height), int(width))
    if side <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return max(1, math.ceil(MIN_CELL_PIXELS / side))


def fit_cells(images: np.ndarray, max_cell: int) -> np.ndarray:
    """NCHW images in [0, 1] downscaled by area averaging so that neither side exceeds
    ``max_cell`` pixels (aspect kept); images already that small are returned unchanged."""
    n, c, h, w = images.shape
    max_cell = check_int("max_cell", max_cell, 1)
    if max(h, w) <= max_cell:
        return images
    f = max(h, w) / max_cell
    nh, nw = max(1, round(h / f)), max(1, round(w / f))
    out = np.empty((n, c, nh, nw), dtype=np.float32)
    for i in range(n):
        for ch in range(c):
            tile = Image.fromarray(np.ascontiguousarray(images[i, ch], dtype=np.float32), mode="F")
            out[i, ch] = np.asarray(tile.resize((nw, nh), Image.Resampling.BOX), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)


def _check_unit(name: str, value: Any) -> float:
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


def _check_labels(name: str, labels: Sequence[str] | None, count: int) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    labels = list(labels)
    if len(labels) != count:
        raise ValueError(f"{name} must have {count} entries, got {len(labels)}")
    for label in labels:
        if not isinstance(label, str):
            raise TypeError(f"{name} must contain strings, got {type(label).__name__}")
    return labels


def image_sheet(images: Array, rows: int, cols: int, *, pad: int = 2, pad_value: float = 0.5,
                scale: int | None = None, row_labels: Sequence[str] | None = None,
                col_labels: Sequence[str] | None = None, max_cell: int | None = MAX_CELL_PIXELS) -> np.ndarray:
    """Lays an image batch out on a ``rows × cols`` sheet, in reading order.

    Args:
        images: ``(N, C, H, W)`` with ``N <= rows * cols``; cells past ``N`` stay background.
            Values are clipped to [0, 1].
        rows, cols: the sheet's grid, each >= 1.
        pad: pixels of background between cells and around the border (>= 0).
        pad_value: the background's gray level in [0, 1].
        scale: integer nearest-neighbour upscaling of every image; None picks
            :func:`auto_scale` (8×8 digits become 64×64).
        row_labels, col_labels: optional texts drawn left of each row / above each column.
        max_cell: images with a side longer than this are first downscaled (area
            averaging, aspect kept) to fit it (:func:`fit_cells`), so a sheet of 512 px
            VAE outputs stays a reasonable size; None keeps every image at full size.

    Returns:
        ``uint8`` array ``(height, width)`` for grayscale input, ``(height, width, 3)`` for
        RGB, with ``height = pad + rows·(H·scale + pad)`` (plus a label band when labelled)
        and likewise for the width.

    Raises:
        TypeError / ValueError: see :func:`to_numpy_images`; bad rows, cols, pad, scale or
        pad_value; more images than cells; label counts that do not match.
    """
    rows = check_int("rows", rows, 1)
    cols = check_int("cols", cols, 1)
    pad = check_int("pad", pad, 0)
    pad_value = _check_unit("pad_value", pad_value)
    imgs = to_numpy_images(images)
    if max_cell is not None:
        imgs = fit_cells(imgs, max_cell)
    n, c, h, w = imgs.shape
    if n > rows * cols:
        raise ValueError(f"images has {n} images but a {rows}x{cols} sheet holds only {rows * cols}")
    scale = auto_scale(h, w) if scale is None else check_int("scale", scale, 1)
    row_labels = _check_labels("row_labels", row_labels, rows)
    col_labels = _check_labels("col_labels", col_labels, cols)

    ch, cw = h * scale, w * scale
    sheet = np.full((pad + rows * (ch + pad), pad + cols * (cw + pad), c), pad_value, dtype=np.float32)
    if n:
        big = imgs.repeat(scale, axis=2).repeat(scale, axis=3).transpose(0, 2, 3, 1)  # N, ch, cw, C
        for i in range(n):
            r, col = divmod(i, cols)
            y, x = pad + r * (ch + pad), pad + col * (cw + pad)
            sheet[y:y + ch, x:x + cw] = big[i]
    pixels = np.rint(sheet * 255.0).astype(np.uint8)
    if row_labels or col_labels:
        pixels = _add_labels(pixels, row_labels, col_labels, pad, ch, cw, pad_value)
    return pixels[..., 0] if c == 1 else pixels


def _add_labels(pixels: np.ndarray, row_labels: list[str] | None, col_labels: list[str] | None,
                pad: int, ch: int, cw: int, pad_value: float) -> np.ndarray:
    """Adds a left band with the row labels and a top band with the column labels."""
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def size(text: str) -> tuple[int, int]:
        left, top, right, bottom = measure.textbbox((0, 0), text, font=font)
        return right - left, bottom - top

    left = max((size(t)[0] for t in row_labels), default=0) + 2 * _LABEL_PAD if row_labels else 0
    top = max((size(t)[1] for t in col_labels), default=0) + 2 * _LABEL_PAD if col_labels else 0
    height, width, c = pixels.shape
    background = int(round(pad_value * 255))
    canvas = np.full((height + top, width + left, c), background, dtype=np.uint8)
    canvas[top:, left:] = pixels
    image = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    draw = ImageDraw.Draw(image)
    ink = 0 if pad_value >= 0.5 else 255
    fill = ink if c == 1 else (ink, ink, ink)
    for r, text in enumerate(row_labels or []):
        tw, th = size(text)
        y = top + pad + r * (ch + pad) + (ch - th) // 2
        draw.text((left - _LABEL_PAD - tw, y), text, fill=fill, font=font)
    for col, text in enumerate(col_labels or []):
        tw, th = size(text)
        x = left + pad + col * (cw + pad) + (cw - tw) // 2
        draw.text((x, _LABEL_PAD), text, fill=fill, font=font)
    out = np.asarray(image)
    return out[..., None] if c == 1 else out


def _image_format(path: str, allowed: Sequence[str]) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}.get(ext)
    if fmt not in allowed:
        raise ValueError(f"cannot tell the image format of {path!r}: use one of "
                         + ", ".join("." + a.lower() for a in allowed))
    return fmt


def save_image(sheet: np.ndarray, path: str | os.PathLike) -> str:
    """Writes a sheet from :func:`image_sheet` (``uint8`` ``(H, W)`` or ``(H, W, 3)``)
    atomically; the format follows the suffix (.png, .jpg, .webp). Returns the path."""
    if not isinstance(sheet, np.ndarray):
        raise TypeError(f"sheet must be a numpy array, got {type(sheet).__name__}")
    if sheet.dtype != np.uint8:
        raise TypeError(f"sheet must be uint8 (from image_sheet), got {sheet.dtype}")
    if sheet.ndim not in (2, 3) or (sheet.ndim == 3 and sheet.shape[2] != 3) or 0 in sheet.shape:
        raise ValueError(f"sheet must be (H, W) or (H, W, 3), got shape {sheet.shape}")
    fmt = _image_format(os.fspath(path), ("PNG", "JPEG", "WEBP"))
    image = Image.fromarray(sheet)
    return atomic_write(path, lambda tmp: image.save(tmp, format=fmt))


def save_gif(frames: Array, path: str | os.PathLike, *, duration_ms: int = 80, loop: int = 0,
             scale: int | None = None, boomerang: bool = False) -> str:
    """Writes an animation of an image batch (a latent walk, one frame per image).

    Args:
        frames: ``(N, C, H, W)`` with ``N >= 1``, values clipped to [0, 1].
        path: the target ``.gif`` file, written atomically.
        duration_ms: display time of each frame.
        loop: GIF loop count (0: forever).
        scale: nearest-neighbour upscaling; None picks :func:`auto_scale`.
        boomerang: append the frames in reverse (without repeating the ends) so the walk
            goes there and back.

    Returns:
        The path written.
    """
    imgs = to_numpy_images(frames, "frames")
    if imgs.shape[0] == 0:
        raise ValueError("frames is empty: a GIF needs at least one frame")
    duration_ms = check_int("duration_ms", duration_ms, 1)
    loop = check_int("loop", loop, 0)
    fmt = _image_format(os.fspath(path), ("GIF",))
    if boomerang and imgs.shape[0] > 2:
        imgs = np.concatenate([imgs, imgs[-2:0:-1]])
    pictures = [Image.fromarray(image_sheet(img[None], 1, 1, pad=0, scale=scale)) for img in imgs]

    def write(tmp: str) -> None:
        pictures[0].save(tmp, format=fmt, save_all=True, append_images=pictures[1:],
                         duration=duration_ms, loop=loop)

    return atomic_write(path, write)
