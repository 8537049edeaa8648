"""The one place that converts and validates arrays, tensors, integers and image batches.

Every module that takes user data (ops, grids, sampling, render, attributes, AtDot, the
models, the data sets) checks it here, so one input gets one wording of one rule wherever
it enters. A leaf module: it imports numpy only; torch is looked up in ``sys.modules``
(a tensor cannot exist unless torch was imported) or imported inside the one function
that makes tensors, so importing this module never imports torch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "is_int",
    "is_number",
    "check_int",
    "is_tensor",
    "to_numpy",
    "as_numpy",
    "finite_floats",
    "check_images",
    "map_rows",
    "run_batched",
    "IMAGE_DTYPE_HINT",
]

#: Appended to the dtype error of an image batch: the usual cause is uint8 pixels.
IMAGE_DTYPE_HINT = " (images are floats in [0, 1]: divide uint8 images by 255)"


# ----------------------------------------------------------------------------- scalars


def is_int(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy integer; bools are not (``True`` is no count)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real Python or numpy number (int or float); bools are not."""
    return is_int(value) or isinstance(value, (float, np.floating))


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]`` (no upper bound when None).

    Raises:
        TypeError: not an int (bools and floats included), naming ``name``.
        ValueError: out of range, naming ``name`` and the bound it broke.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


# ----------------------------------------------------------------------------- arrays and tensors


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _tensor_to_numpy(t: Any) -> np.ndarray:
    """A tensor on any device as numpy: a view for CPU tensors, a copy otherwise. Lazy
    conjugate/negative bits are resolved and bfloat16 (which numpy lacks) becomes float32."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    if str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return t.numpy()


def to_numpy(x: Any, name: str) -> np.ndarray:
    """A numpy array as is, or a torch tensor (any device) as numpy; anything else is a
    TypeError naming ``name`` (for inputs that must already be arrays)."""
    if is_tensor(x):
        return _tensor_to_numpy(x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    return x


def as_numpy(x: Any, dtype: Any = None) -> np.ndarray:
    """Anything array-like (tensor on any device, array, nested lists, scalar) as a numpy
    array, cast to ``dtype`` when given; for inputs where plain lists are welcome."""
    if is_tensor(x):
        x = _tensor_to_numpy(x)
    return np.asarray(x, dtype=dtype)


def finite_floats(x: Any, name: str, hint: str = "") -> np.ndarray:
    """:func:`to_numpy`, then a float dtype (TypeError, with ``hint`` appended) and finite
    values (ValueError), each naming ``name``."""
    x = to_numpy(x, name)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}{hint}")
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x


def check_images(images: Any, name: str = "images", *, dtype: Any = np.float32, single: bool = False,
                 clip: bool = False) -> np.ndarray:
    """An image batch checked against the library's one image convention, as numpy.

    Images are NCHW: ``(N, C, H, W)`` with ``C`` 1 (grayscale) or 3 (RGB), ``H`` and ``W``
    at least 1, float values meant to lie in [0, 1], none NaN or Inf. ``N`` may be 0.

    Args:
        images: numpy array or torch tensor (any device).
        name: the argument name used in error messages.
        dtype: the float dtype of the result.
        single: also accept one image ``(C, H, W)``, returned as a batch of one.
        clip: clip the values to [0, 1] (sheets and GIFs draw them); otherwise values are
            returned as given.

    Raises:
        TypeError: not an array/tensor, or not a float dtype.
        ValueError: the wrong number of dimensions, ``C`` not 1 or 3, an empty image, or
            NaN/Inf values.
    """
    arr = finite_floats(images, name, hint=IMAGE_DTYPE_HINT)
    if single and arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        also = " or one image (C, H, W)" if single else ""
        raise ValueError(f"{name} must be NCHW (N, C, H, W){also}, got shape {tuple(arr.shape)}")
    _, c, h, w = arr.shape
    if c not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (grayscale or RGB), got C = {c} in shape "
                         f"{tuple(arr.shape)}")
    if h == 0 or w == 0:
        raise ValueError(f"{name} has empty images of size {h}x{w}")
    arr = arr.astype(dtype, copy=False)
    return np.clip(arr, 0.0, 1.0) if clip else arr


# ----------------------------------------------------------------------------- batching


def map_rows(fn: Callable[[Any], Any], x: Any, batch_size: int, *, what: str = "the function",
             progress: bool = False, desc: str = "batches") -> list[Any]:
    """``fn`` applied to consecutive blocks of ``batch_size`` rows of ``x`` (an array or a
    tensor), in order: the one batching loop of the library.

    An empty ``x`` gets one call on the empty block, so the caller still learns the
    output's trailing shape. Each output must have as many rows as its block; a wrong count
    is a ValueError naming ``what``. ``progress`` shows a tqdm bar labelled ``desc``.
    Returns the outputs, for the caller to concatenate in its own kind (numpy or torch).
    """
    batch_size = check_int("batch_size", batch_size, 1)
    n = len(x)
    starts: Any = range(0, max(n, 1), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=desc, leave=False)
    outs = []
    for start in starts:
        block = x[start:start + batch_size]
        out = fn(block)
        if np.ndim(out) == 0 or len(out) != len(block):
            raise ValueError(f"{what} returned shape {tuple(np.shape(out))} for a batch of {len(block)} rows")
        outs.append(out)
    return outs


def run_batched(fn: Callable[[Any], Any], x: np.ndarray, batch_size: int, *, device: Any = None,
                what: str = "the model", progress: bool = False, desc: str = "batches") -> np.ndarray:
    """A protocol model's ``encode`` or ``decode`` over the rows of ``x``, batch by batch.

    Each block goes in as a float32 torch tensor (on ``device`` when given) under
    ``torch.no_grad()``; each result (array or tensor, any device) comes back as float32
    numpy, and the blocks are concatenated. Row counts are checked as in :func:`map_rows`.
    """
    import torch

    def call(block: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
        if device is not None:
            t = t.to(device)
        return to_numpy(fn(t), f"the result of {what}").astype(np.float32, copy=False)

    with torch.no_grad():
        return np.concatenate(map_rows(call, x, batch_size, what=what, progress=progress, desc=desc))
