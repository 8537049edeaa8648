"""What a request may ask for, and turning request JSON into checked arrays.

Every check here raises :class:`HTTPError` with the status the service answers and a
message that names the problem, so a client's mistake is a 4xx, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The most pixels (width x height) an uploaded image may have: past this it is refused
#: before it is decoded (decompression bombs).
MAX_PIXELS = 4096 * 4096
#: The most images or latents one request may carry, and the most frames it may ask for.
MAX_ITEMS = 256
#: The most interpolation steps or strengths in one request.
MAX_FRAMES = 256
#: The largest grid side of a J-Diagram or MINE grid request.
MAX_GRID = 16
#: The most neighbours one request may ask for.
MAX_NEIGHBORS = 1000


class HTTPError(Exception):
    """An error the service answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Limits:
    """Per-request limits (the module constants by default; tests may lower them)."""

    max_pixels: int = MAX_PIXELS
    max_items: int = MAX_ITEMS
    max_frames: int = MAX_FRAMES
    max_grid: int = MAX_GRID
    max_neighbors: int = MAX_NEIGHBORS


def require(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``body[name]``, a 422 when it is missing or not of ``kind`` (``what`` describes it)."""
    if name not in body:
        raise HTTPError(422, f"missing field {name!r} ({what})")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise HTTPError(422, f"field {name!r} must be {what}, got {type(value).__name__}")
    return value


def check_fields(body: Any, allowed: set[str]) -> dict[str, Any]:
    """The JSON body as a dict whose keys are all in ``allowed`` (422 otherwise)."""
    if not isinstance(body, dict):
        raise HTTPError(422, f"the request body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise HTTPError(422, f"unknown field(s) {unknown}; this route takes {sorted(allowed)}")
    return body


def parse_count(value: Any, name: str, minimum: int, maximum: int) -> int:
    """An integer field in ``[minimum, maximum]``: 422 for a non-integer, 400 below the
    minimum, 413 above the per-request maximum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise HTTPError(422, f"field {name!r} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise HTTPError(400, f"{name} must be at least {minimum}, got {value}")
    if value > maximum:
        raise HTTPError(413, f"{name} = {value} is over the per-request limit of {maximum}")
    return int(value)


def check_items(n: int, name: str, limits: Limits) -> None:
    """400 for an empty list, 413 for more than ``limits.max_items``."""
    if n == 0:
        raise HTTPError(400, f"{name} is empty")
    if n > limits.max_items:
        raise HTTPError(413, f"{n} {name} is over the per-request limit of {limits.max_items}")


def parse_latents(value: Any, name: str, dim: int, limits: Limits) -> np.ndarray:
    """A list of latents (each a list of ``dim`` numbers) as float32 ``(N, dim)``."""
    if not isinstance(value, list):
        raise HTTPError(422, f"field {name!r} must be a list of latents (lists of numbers)")
    check_items(len(value), name, limits)
    return np.stack([parse_latent(v, f"{name}[{i}]", dim) for i, v in enumerate(value)])


def parse_latent(value: Any, name: str, dim: int) -> np.ndarray:
    """One latent (a list of ``dim`` finite numbers) as float32 ``(dim,)``."""
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise HTTPError(422, f"{name} must be a list of numbers")
    if len(value) != dim:
        raise HTTPError(400, f"{name} has length {len(value)} but the model's latent size is {dim}")
    z = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(z)):
        raise HTTPError(400, f"{name} contains NaN or infinite values")
    z32 = z.astype(np.float32)
    if not np.all(np.isfinite(z32)):
        raise HTTPError(400, f"{name} has values too large for float32")
    return z32


def parse_strengths(value: Any, name: str, limits: Limits) -> np.ndarray:
    """A non-empty list of finite numbers (at most ``limits.max_frames``) as float64."""
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise HTTPError(422, f"field {name!r} must be a list of numbers")
    if not value:
        raise HTTPError(400, f"{name} is empty")
    if len(value) > limits.max_frames:
        raise HTTPError(413, f"{len(value)} {name} is over the per-request limit of {limits.max_frames} frames")
    s = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(s)):
        raise HTTPError(400, f"{name} contains NaN or infinite values")
    return s


def parse_number(value: Any, name: str) -> float:
    """A finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HTTPError(422, f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise HTTPError(400, f"{name} must be finite, got {value}")
    return float(value)


def parse_image(text: Any, name: str, shape: tuple[int, int, int], limits: Limits) -> tuple[np.ndarray, str | None]:
    """A base64 PNG/JPEG string as a ``(C, H, W)`` float32 image in [0, 1] of the model's
    ``shape``, converted and resized as the data loaders do (grayscale or RGB, Lanczos).

    Returns the image and a note saying what was changed (None when nothing was).
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(text, str):
        raise HTTPError(422, f"{name} must be a base64 string, got {type(text).__name__}")
    if text.startswith("data:") and "," in text:  # a data URL
        text = text.split(",", 1)[1]
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPError(400, f"{name} is not valid base64") from None
    if not raw:
        raise HTTPError(400, f"{name} is empty: send a base64 PNG or JPEG")
    c, h, w = shape
    try:
        with Image.open(io.BytesIO(raw)) as img:
            width, height = img.size
            if width * height > limits.max_pixels:
                raise HTTPError(413, f"{name} is {width}x{height} = {width * height} pixels, over the limit of "
                                     f"{limits.max_pixels}")
            if img.format not in ("PNG", "JPEG"):
                raise HTTPError(400, f"{name} is a {img.format} image; send PNG or JPEG")
            img.load()
            mode = img.mode
            img = img.convert("L" if c == 1 else "RGB")
    except HTTPError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise HTTPError(400, f"{name} is not a readable PNG or JPEG image: {exc}") from None
    changes = []
    if mode != img.mode:
        changes.append(f"converted from {mode} to {img.mode}")
    if img.size != (w, h):
        changes.append(f"resized from {width}x{height} to {w}x{h}")
        img = img.resize((w, h), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = arr[None] if c == 1 else arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr), (f"{name} " + " and ".join(changes)) if changes else None


def to_png(image_chw: np.ndarray) -> str:
    """One ``(C, H, W)`` image in [0, 1] as a base64 PNG string (pixels rounded as the
    image sheets round them)."""
    from ..render import image_sheet

    pixels = image_sheet(image_chw[None], 1, 1, pad=0, scale=1)
    return encode_picture(pixels, "PNG")


def encode_picture(pixels: np.ndarray, fmt: str, **save: Any) -> str:
    """A ``uint8`` picture (or a list of them, an animation) as base64 in ``fmt``."""
    from PIL import Image

    frames = [Image.fromarray(p) for p in (pixels if isinstance(pixels, list) else [pixels])]
    buf = io.BytesIO()
    if len(frames) > 1:
        save = {"save_all": True, "append_images": frames[1:], **save}
    frames[0].save(buf, format=fmt, **save)
    return base64.b64encode(buf.getvalue()).decode("ascii")
