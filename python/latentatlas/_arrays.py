"""The one conversion and validation layer for arrays and tensors.

The ops accept numpy arrays or torch tensors and return the same kind; torch is imported
only once a tensor has been seen (``sys.modules``), so numpy users never pay for it. Each
check here raises the message users see: ``TypeError`` for kinds and dtypes, ``ValueError``
for shapes, devices and values, naming the argument.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from ._contract import FLOAT_DTYPES

__all__ = [
    "torch_module",
    "is_tensor",
    "is_compiling",
    "kind_of",
    "kind_word",
    "dtype_name",
    "shape_of",
    "check_data",
    "coefficients",
    "needs_autograd",
    "prepare_out",
    "numpy_view",
    "check_finite_tensors",
]

Array = Any  # numpy.ndarray or torch.Tensor


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


def numpy_view(x: Array) -> np.ndarray:
    """A numpy view of a CPU array or tensor (no copy), unit-stride in its last dimension
    (copied only when it is not)."""
    if not isinstance(x, np.ndarray):
        x = x.detach()
        if x.is_conj() or x.is_neg():
            x = x.resolve_conj().resolve_neg()
        x = x.numpy()
    if x.ndim and x.shape[-1] > 1 and x.strides[-1] != x.itemsize:
        x = np.ascontiguousarray(x)
    return x


def check_finite_tensors(pairs: Sequence[tuple[str, Array]]) -> None:
    """ValueError naming the first tensor that holds NaN or Inf (for the backends whose
    kernels cannot report it)."""
    torch = torch_module()
    for name, x in pairs:
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or Inf")
