"""The one conversion and validation layer for arrays, tensors, integers and image batches.

The ops accept numpy arrays or torch tensors and return the same kind; every other module
that takes user data (grids, sampling, render, attributes, AtDot, the models, the data
sets, the neighbour index) converts and checks it here too, so one input gets one wording
of one rule wherever it enters. Torch is looked up in ``sys.modules`` (a tensor cannot
exist unless torch was imported) or imported inside the functions that make tensors, so
importing this module never imports torch. Each check raises the message users see:
``TypeError`` for kinds and dtypes, ``ValueError`` for shapes, devices and values, naming
the argument.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Sequence

import numpy as np

from ._contract import FLOAT_DTYPES

__all__ = [
    "is_int",
    "is_number",
    "check_int",
    "torch_module",
    "is_tensor",
    "is_compiling",
    "kind_of",
    "kind_word",
    "dtype_name",
    "shape_of",
    "to_numpy",
    "as_numpy",
    "numpy_view",
    "finite_floats",
    "check_data",
    "coefficients",
    "needs_autograd",
    "prepare_out",
    "check_finite_tensors",
    "check_images",
    "map_rows",
    "run_batched",
    "IMAGE_DTYPE_HINT",
]

Array = Any  # numpy.ndarray or torch.Tensor

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


def torch_module() -> Any:
    """The torch module (imported on first use)."""
    import torch

    return torch


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_compiling() -> bool:
    """Whether torch.compile is tracing the current call (False when torch is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def kind_of(name: str, x: Any) -> str:
    """``"numpy"`` or ``"torch"``; anything else is a TypeError naming ``name``."""
    if isinstance(x, np.ndarray):
        return "numpy"
    if is_tensor(x):
        return "torch"
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def kind_word(kind: str) -> str:
    """The words for a kind in messages."""
    return "numpy array" if kind == "numpy" else "torch tensor"


def dtype_name(x: Array) -> str:
    """``"float32"`` etc. for numpy arrays and torch tensors alike."""
    return str(x.dtype).replace("torch.", "")


def shape_of(x: Array) -> tuple[int, ...]:
    """The shape as a tuple of Python ints."""
    return tuple(int(s) for s in x.shape)


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
    return x if kind_of(name, x) == "numpy" else _tensor_to_numpy(x)


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


def numpy_view(x: Array) -> np.ndarray:
    """A numpy view of a CPU array or tensor (no copy), unit-stride in its last dimension
    (copied only when it is not)."""
    if not isinstance(x, np.ndarray):
        x = _tensor_to_numpy(x)
    if x.ndim and x.shape[-1] > 1 and x.strides[-1] != x.itemsize:
        x = np.ascontiguousarray(x)
    return x


# ----------------------------------------------------------------------------- the ops' inputs and outputs


def check_data(pairs: Sequence[tuple[str, Array]]) -> str:
    """Checks that the data arguments share one kind, one float dtype and one device.

    Args:
        pairs: ``(name, array)`` for each data argument, the first one the reference.

    Returns:
        The kind, ``"numpy"`` or ``"torch"``.

    Raises:
        TypeError: not an array/tensor, a non-float dtype, mixed kinds or dtypes, complex
            or sparse tensors.
        ValueError: tensors on different devices.
    """
    first_name, first = pairs[0]
    kind = kind_of(first_name, first)
    dtype = dtype_name(first)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{first_name} must be float32 or float64, got {dtype}")
    for name, x in pairs[1:]:
        other = kind_of(name, x)
        if other != kind:
            raise TypeError(f"{name} is a {kind_word(other)} but {first_name} is a {kind_word(kind)}; "
                            "do not mix numpy and torch in one call")
        if dtype_name(x) != dtype:
            raise TypeError(f"{name} must have the dtype of {first_name} ({dtype}), got {dtype_name(x)}")
        if kind == "torch" and x.device != first.device:
            raise ValueError(f"{name} is on {x.device} but {first_name} is on {first.device}")
    if kind == "torch":
        for name, x in pairs:
            if x.is_complex() or x.layout != torch_module().strided:
                raise TypeError(f"{name} must be a dense real tensor")
    return kind


def coefficients(name: str, value: Any, like: Array, kind: str) -> Array:
    """``t`` or ``alphas`` as an array/tensor of ``like``'s kind, dtype (and device).

    Numbers, sequences, and arrays/tensors of the data's kind (integer, bool or float) are
    accepted and converted to the data dtype.

    Raises:
        TypeError: the other kind than the data, or values that are not real numbers.
        ValueError: NaN or Inf.
    """
    if kind == "numpy":
        if is_tensor(value):
            raise TypeError(f"{name} is a torch tensor but the data are numpy arrays; do not mix them")
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a number or an array of numbers") from exc
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
                                       or arr.dtype == np.bool_):
            raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
        arr = arr.astype(like.dtype, copy=False)
        if arr.size and not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or Inf")
        return arr
    torch = torch_module()
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name} is a numpy array but the data are torch tensors; do not mix them")
    if isinstance(value, torch.Tensor):
        if value.is_complex() or not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64, torch.bool)):
            raise TypeError(f"{name} must be real numbers, got {value.dtype}")
        ten = value.to(device=like.device, dtype=like.dtype)
    else:
        try:
            ten = torch.as_tensor(value, dtype=like.dtype, device=like.device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a number or a sequence of numbers") from exc
    if ten.numel() and not is_compiling() and not bool(torch.isfinite(ten).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    return ten


def needs_autograd(kind: str, arrays: Sequence[Array]) -> bool:
    """Whether a call must go through the torch custom ops: a tensor that requires grad
    (with grad mode on), or any call while torch.compile traces."""
    if kind != "torch":
        return False
    torch = torch_module()
    if torch.compiler.is_compiling():
        return True
    return torch.is_grad_enabled() and any(x.requires_grad for x in arrays)


def prepare_out(out: Any, kind: str, like: Array, shape: tuple[int, ...], what: str) -> Array:
    """A new output of ``shape`` (``like``'s kind, dtype and device), or ``out`` checked.

    Raises:
        TypeError: ``out`` of another kind or dtype.
        ValueError: ``out`` of another shape (``what`` says what the shape follows from),
            on another device, requiring grad, or read-only.
    """
    if out is None:
        if kind == "numpy":
            return np.empty(shape, dtype=like.dtype)
        return torch_module().empty(shape, dtype=like.dtype, device=like.device)
    if kind_of("out", out) != kind:
        raise TypeError(f"out must be a {kind_word(kind)} like the inputs, got a {kind_word(kind_of('out', out))}")
    if dtype_name(out) != dtype_name(like):
        raise TypeError(f"out must have dtype {dtype_name(like)}, got {dtype_name(out)}")
    if shape_of(out) != shape:
        raise ValueError(f"out must have shape {shape} for {what}, got {shape_of(out)}")
    if kind == "torch":
        if out.device != like.device:
            raise ValueError(f"out is on {out.device} but the inputs are on {like.device}")
        if out.requires_grad:
            raise ValueError("out must not require grad")
    elif not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def check_finite_tensors(pairs: Sequence[tuple[str, Array]]) -> None:
    """ValueError naming the first tensor that holds NaN or Inf (for the backends whose
    kernels cannot report it)."""
    torch = torch_module()
    for name, x in pairs:
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or Inf")


def latent_shape_of(model: Any) -> tuple[int, ...]:
    """A protocol model's latent shape: ``model.latent_shape`` checked against
    ``model.latent_dim`` (its product), or ``(latent_dim,)`` for a model without one."""
    if not hasattr(model, "latent_dim"):
        raise TypeError("model must follow the model protocol; it has no 'latent_dim' attribute")
    dim = check_int("model.latent_dim", model.latent_dim, 1)
    shape = getattr(model, "latent_shape", None)
    if shape is None:
        return (dim,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise ValueError(f"model.latent_shape must be a non-empty tuple of ints, got {shape!r}")
    shape = tuple(check_int("model.latent_shape entries", s, 1) for s in shape)
    if int(np.prod(shape)) != dim:
        raise ValueError(f"model.latent_shape {shape} holds {int(np.prod(shape))} numbers but model.latent_dim is {dim}")
    return shape


# ----------------------------------------------------------------------------- images


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
    if getattr(images, "is_lazy_images", False):  # image files: decode the selection now
        images = np.asarray(images)
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
    torch = torch_module()

    def call(block: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
        if device is not None:
            t = t.to(device)
        return to_numpy(fn(t), f"the result of {what}").astype(np.float32, copy=False)

    with torch.no_grad():
        return np.concatenate(map_rows(call, x, batch_size, what=what, progress=progress, desc=desc))
