"""The core ops on numpy arrays and torch tensors: interpolation, offsets and scores.

Every op accepts numpy arrays or torch tensors (CPU, or CUDA where a device exists) and
returns the same kind, device and dtype. float32 and float64 are supported. The data
arguments (``a``, ``b``, ``z``, ``vectors``, ``out``) must share kind and dtype; the
coefficient arguments (``t``, ``alphas``) may also be Python numbers or sequences and are
converted to the data dtype. Shape and value problems raise ``ValueError``, kind and dtype
problems ``TypeError``; the message names the argument.

CPU work runs in the native ``_core`` module with the GIL released (numpy arrays and CPU
tensors share memory with it, no copies). CUDA tensors go to the ``_cuda`` kernels on the
current stream, or to the equivalent torch code when ``_cuda`` was not built. Tensors that
need gradients (and anything under ``torch.compile``) go through the custom ops of
:mod:`latentatlas.torch_ops`, which carry autograd formulas.
"""

from __future__ import annotations

import sys
from typing import Any, Literal, Sequence, Union

import numpy as np

from . import _backend
from ._core import interp as _interp_native
from ._core import offset as _offset_native
from ._core import score as _score_native

__all__ = [
    "slerp",
    "lerp",
    "slerp_gaussian",
    "lerp_gaussian",
    "interpolate",
    "offset",
    "score",
    "backend_info",
    "set_num_threads",
    "get_num_threads",
    "METHODS",
]

Array = Any  # numpy.ndarray or torch.Tensor (torch is imported only when a tensor is seen)
Times = Union[float, Sequence[float], Array]
Method = Literal["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"]

# Method names and their codes in the native modules (csrc/common.h: Method).
METHODS: dict[str, int] = {"lerp": 0, "slerp": 1, "lerp_gaussian": 2, "slerp_gaussian": 3}
_ALIASES = {"slerp-gaussian": "slerp_gaussian", "lerp-gaussian": "lerp_gaussian"}
_FLOAT_DTYPES = ("float32", "float64")


# ----------------------------------------------------------------------------- kinds


def _torch():
    import torch

    return torch


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _kind(name: str, x: Any) -> str:
    if isinstance(x, np.ndarray):
        return "numpy"
    if _is_tensor(x):
        return "torch"
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def _dtype_name(x: Array) -> str:
    return str(x.dtype).replace("torch.", "")


def _check_data(pairs: Sequence[tuple[str, Array]]) -> str:
    """Checks that the data arguments share one kind, one float dtype and one device."""
    first_name, first = pairs[0]
    kind = _kind(first_name, first)
    dtype = _dtype_name(first)
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{first_name} must be float32 or float64, got {dtype}")
    for name, x in pairs[1:]:
        other = _kind(name, x)
        if other != kind:
            raise TypeError(f"{name} is a {_kind_word(other)} but {first_name} is a {_kind_word(kind)}; "
                            "do not mix numpy and torch in one call")
        if _dtype_name(x) != dtype:
            raise TypeError(f"{name} must have the dtype of {first_name} ({dtype}), got {_dtype_name(x)}")
        if kind == "torch" and x.device != first.device:
            raise ValueError(f"{name} is on {x.device} but {first_name} is on {first.device}")
    if kind == "torch":
        for name, x in pairs:
            if x.is_complex() or x.layout != _torch().strided:
                raise TypeError(f"{name} must be a dense real tensor")
    return kind


def _kind_word(kind: str) -> str:
    return "numpy array" if kind == "numpy" else "torch tensor"


def _shape(x: Array) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def _coefficients(name: str, value: Any, like: Array, kind: str) -> Array:
    """t or alphas as an array/tensor of like's kind, dtype (and device), values checked."""
    if kind == "numpy":
        if _is_tensor(value):
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
    torch = _torch()
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
    if ten.numel() and not _is_compiling() and not bool(torch.isfinite(ten).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    return ten


def _is_compiling() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def _needs_autograd(kind: str, arrays: Sequence[Array]) -> bool:
    if kind != "torch":
        return False
    torch = _torch()
    if torch.compiler.is_compiling():
        return True
    return torch.is_grad_enabled() and any(x.requires_grad for x in arrays)


# ----------------------------------------------------------------------------- shapes


def interp_layout(a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                  t_shape: tuple[int, ...]) -> tuple[int, int, int, int, tuple[int, ...]]:
    """The normalised sizes of an interpolation call and its public output shape.

    Returns ``(B, D, Bt, T, out_shape)``: the kernels see a, b as (B, D), t as (Bt, T) with
    Bt 1 or B, and write (B, T, D), which is then viewed as ``out_shape``.
    """
    if a_shape != b_shape:
        raise ValueError(f"a and b must have the same shape, got {a_shape} and {b_shape}")
    if len(a_shape) not in (1, 2):
        raise ValueError(f"a and b must be (D,) or (B, D), got shape {a_shape}")
    vector = len(a_shape) == 1
    B, D = (1, a_shape[0]) if vector else a_shape
    if len(t_shape) == 0:
        return B, D, 1, 1, a_shape
    if len(t_shape) == 1:
        T = t_shape[0]
        return B, D, 1, T, (T, D) if vector else (B, T, D)
    if len(t_shape) == 2:
        if vector:
            raise ValueError(f"t of shape {t_shape} (per-pair times) needs a and b of shape (B, D), got {a_shape}")
        if t_shape[0] not in (1, B):
            raise ValueError(f"t must be a float, (T,) or (B, T) with B = {B}, got shape {t_shape}")
        return B, D, t_shape[0], t_shape[1], (B, t_shape[1], D)
    raise ValueError(f"t must be a float, (T,) or (B, T), got shape {t_shape}")


def _latents_and_vectors(z_shape: tuple[int, ...], v_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(N, K, D) of latents z and attribute vectors, each 1-D or 2-D, sharing D."""
    if len(z_shape) not in (1, 2):
        raise ValueError(f"z must be (D,) or (N, D), got shape {z_shape}")
    if len(v_shape) not in (1, 2):
        raise ValueError(f"vectors must be (D,) or (K, D), got shape {v_shape}")
    D = z_shape[-1]
    if v_shape[-1] != D:
        raise ValueError(f"vectors must have the latent size of z ({D}), got shapes {v_shape} and {z_shape}")
    return (1 if len(z_shape) == 1 else z_shape[0]), (1 if len(v_shape) == 1 else v_shape[0]), D


def offset_layout(z_shape: tuple[int, ...], v_shape: tuple[int, ...],
                  al_shape: tuple[int, ...]) -> tuple[int, int, int, int, tuple[int, ...]]:
    """Normalised sizes ``(N, K, A, D, out_shape)`` of an offset call (see :func:`offset`)."""
    N, K, D = _latents_and_vectors(z_shape, v_shape)
    if len(v_shape) == 1 and len(al_shape) != 1:
        raise ValueError(f"with a single vector of shape {v_shape}, alphas must be (A,), got shape {al_shape}")
    if len(v_shape) == 2 and (len(al_shape) != 2 or al_shape[1] != K):
        raise ValueError(f"alphas must be (A, K) with K = {K} vectors, got shape {al_shape}")
    A = al_shape[0]
    return N, K, A, D, ((A, D) if len(z_shape) == 1 else (N, A, D))


def score_layout(z_shape: tuple[int, ...], v_shape: tuple[int, ...]) -> tuple[int, int, int, tuple[int, ...]]:
    """Normalised sizes ``(N, K, D, out_shape)`` of a score call (see :func:`score`)."""
    N, K, D = _latents_and_vectors(z_shape, v_shape)
    out_shape = tuple(([N] if len(z_shape) == 2 else []) + ([K] if len(v_shape) == 2 else []))
    return N, K, D, out_shape


# ----------------------------------------------------------------------------- execution


def _numpy_view(name: str, x: Array) -> np.ndarray:
    """A numpy view of a CPU array or tensor (no copy), unit-stride in its last dimension."""
    if not isinstance(x, np.ndarray):
        x = x.detach()
        if x.is_conj() or x.is_neg():
            x = x.resolve_conj().resolve_neg()
        x = x.numpy()
    if x.ndim and x.shape[-1] > 1 and x.strides[-1] != x.itemsize:
        x = np.ascontiguousarray(x)
    return x


def _native_into(call, inputs: Sequence[np.ndarray], result: Array, kind: str,
                 shape: tuple[int, ...]) -> None:
    """Runs ``call(target)`` for a native op whose normalised output has ``shape``.

    The kernels write C-contiguous buffers; ``result`` is written directly when a view of
    that shape is C-contiguous and overlaps no input, else through a scratch buffer.
    """
    arr = result if kind == "numpy" else result.numpy()
    view = arr.view()
    try:
        view.shape = shape
    except AttributeError:  # not viewable without a copy
        view = None
    if view is not None and view.flags.c_contiguous and not any(np.may_share_memory(view, x) for x in inputs):
        call(view)
        return
    scratch = np.empty(shape, dtype=arr.dtype)
    try:
        call(scratch)
    finally:
        arr[...] = scratch.reshape(arr.shape)


def _prepare_out(out: Any, kind: str, like: Array, shape: tuple[int, ...], what: str) -> Array:
    if out is None:
        if kind == "numpy":
            return np.empty(shape, dtype=like.dtype)
        return _torch().empty(shape, dtype=like.dtype, device=like.device)
    if _kind("out", out) != kind:
        raise TypeError(f"out must be a {_kind_word(kind)} like the inputs, got a {_kind_word(_kind('out', out))}")
    if _dtype_name(out) != _dtype_name(like):
        raise TypeError(f"out must have dtype {_dtype_name(like)}, got {_dtype_name(out)}")
    if _shape(out) != shape:
        raise ValueError(f"out must have shape {shape} for {what}, got {_shape(out)}")
    if kind == "torch":
        if out.device != like.device:
            raise ValueError(f"out is on {out.device} but the inputs are on {like.device}")
        if out.requires_grad:
            raise ValueError("out must not require grad")
    elif not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def _check_finite_torch(pairs: Sequence[tuple[str, Array]]) -> None:
    torch = _torch()
    for name, x in pairs:
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or Inf")


def _on_cuda(kind: str, x: Array) -> bool:
    return kind == "torch" and x.device.type != "cpu"


def _interpolate(a: Array, b: Array, t: Times, method: str, out: Any) -> Array:
    method = _ALIASES.get(method, method) if isinstance(method, str) else method
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    kind = _check_data([("a", a), ("b", b)])
    tt = _coefficients("t", t, a, kind)
    if _needs_autograd(kind, (a, b, tt)):
        if out is not None:
            raise ValueError("out= cannot be used when gradients are required or under torch.compile")
        from . import torch_ops  # noqa: F401  (registers torch.ops.latentatlas.*)

        return _torch().ops.latentatlas.interpolate(a, b, tt, method)
    return _interpolate_nograd(a, b, tt, method, out=out)


def _interpolate_nograd(a: Array, b: Array, t: Array, method: str, out: Any = None) -> Array:
    """Interpolation without autograd: the body of the custom op and of the public ops.
    ``t`` must already be an array/tensor of a's kind, dtype and device."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    kind = _check_data([("a", a), ("b", b)])
    B, D, Bt, T, out_shape = interp_layout(_shape(a), _shape(b), _shape(t))
    result = _prepare_out(out, kind, a, out_shape, f"a of shape {_shape(a)} and t of shape {_shape(t)}")
    if B * T * D == 0:
        return result
    if _on_cuda(kind, a):
        _check_finite_torch([("a", a), ("b", b), ("t", t)])
        _backend.cuda_interpolate(METHODS[method], a.reshape(B, D), b.reshape(B, D), t.reshape(Bt, T), result)
        return result
    a2 = _numpy_view("a", a).reshape(B, D)
    b2 = _numpy_view("b", b).reshape(B, D)
    t2 = np.ascontiguousarray(_numpy_view("t", t).reshape(Bt, T))
    code = METHODS[method]
    _native_into(lambda target: _interp_native(code, a2, b2, t2, target), (a2, b2, t2), result, kind, (B, T, D))
    return result


def slerp(a: Array, b: Array, t: Times, *, out: Array | None = None) -> Array:
    """Spherical linear interpolation from ``a`` to ``b`` (the paper's slerp).

    The angle ω between the directions of ``a`` and ``b`` is computed accurately at every
    scale (``2·atan2(|â−b̂|, |â+b̂|)``); the weights ``sin((1−t)ω)/sin ω`` and
    ``sin(tω)/sin ω`` multiply the original vectors, so norms change smoothly along the
    arc. ``t`` outside [0, 1] extrapolates; t = 0 and t = 1 return ``a`` and ``b`` exactly.
    Per row, nearly parallel pairs (ω < 1e-7) and zero vectors fall back to lerp;
    antipodal pairs (π − ω < 1e-6) follow a deterministic great circle through the unit
    vector orthogonal to â built from the axis where |â_j| is smallest, with the norm
    interpolated linearly (lerp in one dimension). Never NaN for finite input.

    Args:
        a, b: ``(D,)`` or ``(B, D)`` float32/float64 arrays or tensors of the same shape.
        t: a float (result shaped like ``a``), ``(T,)`` (→ ``(T, D)`` or ``(B, T, D)``), or
            ``(B, T)`` per-pair times with ``(B, D)`` inputs (→ ``(B, T, D)``).
        out: optional preallocated output of the result's shape, kind and dtype.

    Returns:
        The interpolated vectors, same kind, device and dtype as ``a``.

    Raises:
        TypeError: non-float dtypes, mixed numpy/torch or mixed dtypes.
        ValueError: mismatched shapes, a bad ``t`` shape, NaN or Inf in any input.
    """
    return _interpolate(a, b, t, "slerp", out)


def lerp(a: Array, b: Array, t: Times, *, out: Array | None = None) -> Array:
    """Linear interpolation ``(1 − t)·a + t·b``, with the shapes and checks of :func:`slerp`.

    Computed in double precision and rounded once; t = 0 and t = 1 return the endpoints
    exactly.
    """
    return _interpolate(a, b, t, "lerp", out)


def slerp_gaussian(a: Array, b: Array, t: Times, *, out: Array | None = None) -> Array:
    """Slerp in the Gaussian-CDF space, as in the paper's library.

    Elementwise ``u = Φ(a) − ½``, ``v = Φ(b) − ½``; ``s = slerp(u, v, t)`` with the edge-case
    policy of :func:`slerp`; the result is ``Φ⁻¹(½ + s)``, with probabilities clamped to
    [1e-300, 1 − 1e-300] so extrapolation stays finite (|z| ≲ 37). Shapes and checks as in
    :func:`slerp`; endpoints exact.
    """
    return _interpolate(a, b, t, "slerp_gaussian", out)


def lerp_gaussian(a: Array, b: Array, t: Times, *, out: Array | None = None) -> Array:
    """Linear interpolation in the Gaussian-CDF space: ``Φ⁻¹((1 − t)·Φ(a) + t·Φ(b))``.

    The upper tail is carried separately (``Φ(−x)``), so large values keep their precision;
    probabilities are clamped to 1e-300 so extrapolation stays finite. Shapes and checks
    as in :func:`slerp`; endpoints exact.
    """
    return _interpolate(a, b, t, "lerp_gaussian", out)


def interpolate(a: Array, b: Array, t: Times, method: Method = "slerp", *, out: Array | None = None) -> Array:
    """Interpolates with the named method: ``"slerp"`` (default), ``"lerp"``,
    ``"slerp_gaussian"`` or ``"lerp_gaussian"`` (hyphenated spellings accepted).

    See :func:`slerp` for shapes, ``out`` and errors; an unknown method is a ValueError.
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    return _interpolate(a, b, t, method, out)


def offset(z: Array, vectors: Array, alphas: Any, *, out: Array | None = None) -> Array:
    """Moves latents along attribute vectors at several strengths.

    ``out[n, a] = z[n] + Σ_k alphas[a, k]·vectors[k]`` — attribute traversals, decoupled
    two-attribute grids and "smile vector" edits are all this op. The direction sums are
    formed in double precision once per strength and added to every latent.

    Args:
        z: ``(N, D)`` or ``(D,)`` latents.
        vectors: ``(K, D)`` attribute vectors, or ``(D,)`` for a single one.
        alphas: ``(A, K)`` strengths (``(A,)`` with a single vector); numbers, sequences or
            arrays/tensors of z's kind, converted to z's dtype.
        out: optional preallocated ``(N, A, D)`` (or ``(A, D)``) output.

    Returns:
        ``(N, A, D)``, or ``(A, D)`` for a single latent; same kind, device, dtype as ``z``.

    Raises:
        TypeError: non-float dtypes, mixed kinds or dtypes of z, vectors and out.
        ValueError: mismatched shapes; NaN or Inf in any input.
    """
    kind = _check_data([("z", z), ("vectors", vectors)])
    al = _coefficients("alphas", alphas, z, kind)
    if _needs_autograd(kind, (z, vectors, al)):
        if out is not None:
            raise ValueError("out= cannot be used when gradients are required or under torch.compile")
        from . import torch_ops  # noqa: F401

        return _torch().ops.latentatlas.offset(z, vectors, al)
    return _offset_nograd(z, vectors, al, out=out)


def _offset_nograd(z: Array, vectors: Array, alphas: Array, out: Any = None) -> Array:
    """offset() without autograd; ``alphas`` already of z's kind, dtype and device."""
    kind = _check_data([("z", z), ("vectors", vectors)])
    N, K, A, D, out_shape = offset_layout(_shape(z), _shape(vectors), _shape(alphas))
    result = _prepare_out(out, kind, z, out_shape, f"z of shape {_shape(z)} and alphas of shape {_shape(alphas)}")
    if N * A * D == 0:
        return result
    if _on_cuda(kind, z):
        _check_finite_torch([("z", z), ("vectors", vectors), ("alphas", alphas)])
        _backend.cuda_offset(z.reshape(N, D), vectors.reshape(K, D), alphas.reshape(A, K), result)
        return result
    z2 = _numpy_view("z", z).reshape(N, D)
    v2 = _numpy_view("vectors", vectors).reshape(K, D)
    al2 = np.ascontiguousarray(_numpy_view("alphas", alphas).reshape(A, K))
    _native_into(lambda target: _offset_native(z2, v2, al2, target), (z2, v2, al2), result, kind, (N, A, D))
    return result


def score(z: Array, vectors: Array, *, normalize: bool = False, out: Array | None = None) -> Array:
    """Dot products of latents with attribute vectors (AtDot scoring).

    Args:
        z: ``(N, D)`` or ``(D,)`` latents.
        vectors: ``(K, D)`` attribute vectors, or ``(D,)`` for one.
        normalize: cosine similarity instead of the dot product; a zero latent or vector
            scores 0 (never NaN).
        out: optional preallocated output.

    Returns:
        ``(N, K)`` scores (dimensions of 1-D inputs dropped: ``(N,)``, ``(K,)`` or a 0-d
        array), same kind, device and dtype as ``z``. Sums that overflow are recomputed
        exactly with scaled operands, so a finite answer is returned wherever one exists.

    Raises:
        TypeError: non-float dtypes, mixed kinds or dtypes.
        ValueError: mismatched shapes; NaN or Inf in any input.
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
    kind = _check_data([("z", z), ("vectors", vectors)])
    if _needs_autograd(kind, (z, vectors)):
        if out is not None:
            raise ValueError("out= cannot be used when gradients are required or under torch.compile")
        from . import torch_ops  # noqa: F401

        return _torch().ops.latentatlas.score(z, vectors, bool(normalize))
    return _score_nograd(z, vectors, bool(normalize), out=out)


def _score_nograd(z: Array, vectors: Array, normalize: bool, out: Any = None) -> Array:
    """score() without autograd."""
    kind = _check_data([("z", z), ("vectors", vectors)])
    N, K, D, out_shape = score_layout(_shape(z), _shape(vectors))
    result = _prepare_out(out, kind, z, out_shape, f"z of shape {_shape(z)} and vectors of shape {_shape(vectors)}")
    if N * K == 0:
        return result
    if _on_cuda(kind, z):
        _check_finite_torch([("z", z), ("vectors", vectors)])
        _backend.cuda_score(z.reshape(N, D), vectors.reshape(K, D), normalize, result)
        return result
    z2 = _numpy_view("z", z).reshape(N, D)
    v2 = _numpy_view("vectors", vectors).reshape(K, D)
    _native_into(lambda target: _score_native(z2, v2, normalize, target), (z2, v2), result, kind, (N, K))
    return result


# ----------------------------------------------------------------------------- backend


def backend_info() -> dict[str, Any]:
    """What this installation runs on: version, CPU build (compiler, SIMD level picked at
    run time), threads, whether the ``_cuda`` module was built, and the CUDA devices it
    sees (0 without a driver or GPU)."""
    return _backend.info()


def set_num_threads(n: int) -> None:
    """Sets the number of threads the CPU kernels use; ``n <= 0`` restores the default
    (all cores)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    _backend.core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the CPU kernels use."""
    return int(_backend.core.get_num_threads())
