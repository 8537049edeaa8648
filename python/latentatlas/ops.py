"""The core ops on numpy arrays and torch tensors: interpolation, offsets and scores.

Every op accepts numpy arrays or torch tensors (CPU, or CUDA where a device exists) and
returns the same kind, device and dtype. float32 and float64 are supported. The data
arguments (``a``, ``b``, ``z``, ``vectors``, ``out``) must share kind and dtype; the
coefficient arguments (``t``, ``alphas``) may also be Python numbers or sequences and are
converted to the data dtype. Shape and value problems raise ``ValueError``, kind and dtype
problems ``TypeError``; the message names the argument.

This is the thin public layer: each function checks its inputs once (kinds, dtypes and
values with :mod:`._arrays`, shapes with the layouts of :mod:`._contract`), allocates or
checks ``out``, and hands the normalised arrays to an executor of :mod:`._backend` (the
native ``_core`` kernels with the GIL released for CPU data, no copies; the ``_cuda``
kernels on the current stream for CUDA tensors, or the torch fallback without them).
Tensors that need gradients (and anything under ``torch.compile``) go through the custom
ops of :mod:`latentatlas.torch_ops`, which call the same executors and carry autograd
formulas. Calls only go down: nothing below imports this module.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence, Union

import numpy as np

from . import _backend
from ._arrays import check_data, coefficients, needs_autograd, prepare_out, shape_of, torch_module
from ._contract import METHODS, interp_layout, method_code, method_name, offset_layout, score_layout

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

_NO_OUT_WITH_GRAD = "out= cannot be used when gradients are required or under torch.compile"


def _interpolate(a: Array, b: Array, t: Times, method: str, out: Any) -> Array:
    code = method_code(method)
    kind = check_data([("a", a), ("b", b)])
    tt = coefficients("t", t, a, kind)
    if needs_autograd(kind, (a, b, tt)):
        if out is not None:
            raise ValueError(_NO_OUT_WITH_GRAD)
        from . import torch_ops  # noqa: F401  (registers torch.ops.latentatlas.*)

        return torch_module().ops.latentatlas.interpolate(a, b, tt, method_name(method))
    B, D, Bt, T, out_shape = interp_layout(shape_of(a), shape_of(b), shape_of(tt))
    result = prepare_out(out, kind, a, out_shape, f"a of shape {shape_of(a)} and t of shape {shape_of(tt)}")
    if B * T * D:
        _backend.executor(a).interpolate(code, a.reshape(B, D), b.reshape(B, D), tt.reshape(Bt, T), result)
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
    kind = check_data([("z", z), ("vectors", vectors)])
    al = coefficients("alphas", alphas, z, kind)
    if needs_autograd(kind, (z, vectors, al)):
        if out is not None:
            raise ValueError(_NO_OUT_WITH_GRAD)
        from . import torch_ops  # noqa: F401

        return torch_module().ops.latentatlas.offset(z, vectors, al)
    N, K, A, D, out_shape = offset_layout(shape_of(z), shape_of(vectors), shape_of(al))
    result = prepare_out(out, kind, z, out_shape, f"z of shape {shape_of(z)} and alphas of shape {shape_of(al)}")
    if N * A * D:
        _backend.executor(z).offset(z.reshape(N, D), vectors.reshape(K, D), al.reshape(A, K), result)
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
    kind = check_data([("z", z), ("vectors", vectors)])
    if needs_autograd(kind, (z, vectors)):
        if out is not None:
            raise ValueError(_NO_OUT_WITH_GRAD)
        from . import torch_ops  # noqa: F401

        return torch_module().ops.latentatlas.score(z, vectors, bool(normalize))
    N, K, D, out_shape = score_layout(shape_of(z), shape_of(vectors))
    result = prepare_out(out, kind, z, out_shape, f"z of shape {shape_of(z)} and vectors of shape {shape_of(vectors)}")
    if N * K:
        _backend.executor(z).score(z.reshape(N, D), vectors.reshape(K, D), bool(normalize), result)
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
