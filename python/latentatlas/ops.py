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
from ._arrays import check_data, check_int, coefficients, is_int, needs_autograd, prepare_out, shape_of, torch_module
from ._contract import METHODS, PUBLIC_OPS, interp_layout, method_code, method_name, offset_layout, score_layout

__all__ = [*PUBLIC_OPS, "METHODS"]

Array = Any  # numpy.ndarray or torch.Tensor (torch is imported only when a tensor is seen)
Times = Union[float, Sequence[float], Array]
Method = Literal["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"]

_NO_OUT_WITH_GRAD = "out= cannot be used when gradients are required or under torch.compile"


# ----------------------------------------------------------------------------- latent shapes
#
# The rule (README, "Latents of any shape"): a 1-D array is one flat latent (D,); an array
# of two or more dimensions is a batch along its first axis, (B, *S), each latent one
# vector of prod(S) numbers. ``latent_ndim=k`` says instead that the last k dimensions
# form one latent (so a single (4, 64, 64) latent is ``latent_ndim=3``). Spatial latents
# are flattened to the (B, prod(S)) rows the kernels take (a view for contiguous data)
# and the results viewed back as (..., *S).


def _split_latent(name: str, shape: tuple[int, ...], latent_ndim: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(leading, S)``: the batch dimensions (none or one) and the latent shape."""
    if latent_ndim is None:
        if not shape:
            raise ValueError(f"{name} must be (D,), (B, D) or (B, *S), got a 0-d array")
        return (shape[:1], shape[1:]) if len(shape) >= 2 else ((), shape)
    if not is_int(latent_ndim):
        raise TypeError(f"latent_ndim must be an int or None, got {type(latent_ndim).__name__}")
    k = check_int("latent_ndim", latent_ndim, 1)
    if not k <= len(shape) <= k + 1:
        raise ValueError(f"with latent_ndim={k}, {name} must have {k} dimensions (one latent) or {k + 1} "
                         f"(a batch), got shape {shape}")
    return shape[: len(shape) - k], shape[len(shape) - k:]


def _on_flat_rows(run: Any, inner_shape: tuple[int, ...], latent: tuple[int, ...], out: Any, what: str) -> Array:
    """Runs a row op whose flat output has ``inner_shape`` (last axis ``prod(latent)``) and
    returns it shaped ``(..., *latent)``: into ``out`` (checked against that shape) through a
    flat view when one exists without a copy, else through a scratch result."""
    public = inner_shape[:-1] + latent
    if out is None:
        return run(None).reshape(public)
    if shape_of(out) != public:
        raise ValueError(f"out must have shape {public} for {what}, got {shape_of(out)}")
    try:
        if isinstance(out, np.ndarray):
            view = out.view()
            view.shape = inner_shape
        else:
            view = out.view(inner_shape)
    except (AttributeError, RuntimeError, ValueError):
        view = None
    if view is not None:
        run(view)
    else:
        out[...] = run(None).reshape(public)
    return out


def _flat_shape(leading: tuple[int, ...], latent: tuple[int, ...]) -> tuple[int, ...]:
    return (*leading, int(np.prod(latent, dtype=np.int64)))


def _is_flat(latent: tuple[int, ...], latent_ndim: Any) -> bool:
    return latent_ndim is None and len(latent) == 1


def _interpolate(a: Array, b: Array, t: Times, method: str, out: Any, latent_ndim: Any) -> Array:
    code = method_code(method)
    kind = check_data([("a", a), ("b", b)])
    tt = coefficients("t", t, a, kind)
    a_shape, b_shape = shape_of(a), shape_of(b)
    if a_shape != b_shape:
        raise ValueError(f"a and b must have the same shape, got {a_shape} and {b_shape}")
    leading, latent = _split_latent("a", a_shape, latent_ndim)
    if _is_flat(latent, latent_ndim):
        return _interpolate_rows(code, a, b, tt, out, kind)
    flat = _flat_shape(leading, latent)
    inner_shape = interp_layout(flat, flat, shape_of(tt))[-1]
    return _on_flat_rows(lambda o: _interpolate_rows(code, a.reshape(flat), b.reshape(flat), tt, o, kind),
                         inner_shape, latent, out, f"a of shape {a_shape} and t of shape {shape_of(tt)}")


def _interpolate_rows(code: int, a: Array, b: Array, tt: Array, out: Any, kind: str) -> Array:
    """Interpolation of flat latents, (D,) or (B, D), with ``tt`` already converted."""
    if needs_autograd(kind, (a, b, tt)):
        if out is not None:
            raise ValueError(_NO_OUT_WITH_GRAD)
        from . import torch_ops  # noqa: F401  (registers torch.ops.latentatlas.*)

        name = next(n for n, c in METHODS.items() if c == code)
        return torch_module().ops.latentatlas.interpolate(a, b, tt, name)
    B, D, Bt, T, out_shape = interp_layout(shape_of(a), shape_of(b), shape_of(tt))
    result = prepare_out(out, kind, a, out_shape, f"a of shape {shape_of(a)} and t of shape {shape_of(tt)}")
    if B * T * D:
        _backend.executor(a).interpolate(code, a.reshape(B, D), b.reshape(B, D), tt.reshape(Bt, T), result)
    return result


def slerp(a: Array, b: Array, t: Times, *, out: Array | None = None,
          latent_ndim: int | None = None) -> Array:
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
        a, b: float32/float64 arrays or tensors of the same shape: ``(D,)`` (one latent),
            ``(B, D)``, or ``(B, *S)`` — a batch of latents of any shape ``S``, each one
            vector of ``prod(S)`` numbers (the angle is between whole latents).
        t: a float (result shaped like ``a``), ``(T,)`` (→ ``(T, D)`` or ``(B, T, *S)``), or
            ``(B, T)`` per-pair times with batched inputs (→ ``(B, T, *S)``).
        out: optional preallocated output of the result's shape, kind and dtype.
        latent_ndim: how many trailing dimensions form one latent. By default a 1-D
            array is one latent and an array of two or more dimensions is a batch along
            its first axis; ``latent_ndim=len(S)`` passes a single latent of shape ``S``
            (e.g. ``latent_ndim=3`` for one ``(4, 64, 64)`` diffusion latent).

    Returns:
        The interpolated vectors, same kind, device and dtype as ``a``.

    Raises:
        TypeError: non-float dtypes, mixed numpy/torch or mixed dtypes.
        ValueError: mismatched shapes, a bad ``t`` shape, NaN or Inf in any input.
    """
    return _interpolate(a, b, t, "slerp", out, latent_ndim)


def lerp(a: Array, b: Array, t: Times, *, out: Array | None = None,
         latent_ndim: int | None = None) -> Array:
    """Linear interpolation ``(1 − t)·a + t·b``, with the shapes and checks of :func:`slerp`.

    Computed in double precision and rounded once; t = 0 and t = 1 return the endpoints
    exactly.
    """
    return _interpolate(a, b, t, "lerp", out, latent_ndim)


def slerp_gaussian(a: Array, b: Array, t: Times, *, out: Array | None = None,
                   latent_ndim: int | None = None) -> Array:
    """Slerp in the Gaussian-CDF space, as in the paper's library.

    Elementwise ``u = Φ(a) − ½``, ``v = Φ(b) − ½``; ``s = slerp(u, v, t)`` with the edge-case
    policy of :func:`slerp`; the result is ``Φ⁻¹(½ + s)``, with probabilities clamped to
    [1e-300, 1 − 1e-300] so extrapolation stays finite (|z| ≲ 37). Shapes and checks as in
    :func:`slerp`; endpoints exact.
    """
    return _interpolate(a, b, t, "slerp_gaussian", out, latent_ndim)


def lerp_gaussian(a: Array, b: Array, t: Times, *, out: Array | None = None,
                  latent_ndim: int | None = None) -> Array:
    """Linear interpolation in the Gaussian-CDF space: ``Φ⁻¹((1 − t)·Φ(a) + t·Φ(b))``.

    The upper tail is carried separately (``Φ(−x)``), so large values keep their precision;
    probabilities are clamped to 1e-300 so extrapolation stays finite. Shapes and checks
    as in :func:`slerp`; endpoints exact.
    """
    return _interpolate(a, b, t, "lerp_gaussian", out, latent_ndim)


def interpolate(a: Array, b: Array, t: Times, method: Method = "slerp", *, out: Array | None = None,
                latent_ndim: int | None = None) -> Array:
    """Interpolates with the named method: ``"slerp"`` (default), ``"lerp"``,
    ``"slerp_gaussian"`` or ``"lerp_gaussian"`` (hyphenated spellings accepted).

    See :func:`slerp` for shapes, ``out`` and errors; an unknown method is a ValueError.
    """
    return _interpolate(a, b, t, method, out, latent_ndim)


def _vectors_like(z_shape: tuple[int, ...], v_shape: tuple[int, ...],
                  latent_ndim: Any) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """For spatial latents: ``(z_flat, v_flat, S)``, the flat shapes the row ops take and
    the latent shape; None for flat latents (the row ops' own rules and messages apply)."""
    leading, latent = _split_latent("z", z_shape, latent_ndim)
    if _is_flat(latent, latent_ndim):
        return None
    if v_shape == latent:
        v_flat: tuple[int, ...] = _flat_shape((), latent)
    elif v_shape[1:] == latent and len(v_shape) == len(latent) + 1:
        v_flat = _flat_shape(v_shape[:1], latent)
    else:
        raise ValueError(f"vectors must be one latent of shape {latent} or (K, *{latent}), got shape {v_shape} "
                         f"(z of shape {z_shape} is read as {'a batch of latents' if leading else 'one latent'} "
                         f"of shape {latent}; pass latent_ndim= to say otherwise)")
    return _flat_shape(leading, latent), v_flat, latent


def offset(z: Array, vectors: Array, alphas: Any, *, out: Array | None = None,
           latent_ndim: int | None = None) -> Array:
    """Moves latents along attribute vectors at several strengths.

    ``out[n, a] = z[n] + Σ_k alphas[a, k]·vectors[k]`` — attribute traversals, decoupled
    two-attribute grids and "smile vector" edits are all this op. The direction sums are
    formed in double precision once per strength and added to every latent.

    Args:
        z: ``(N, D)`` or ``(D,)`` latents, or ``(N, *S)`` latents of any shape ``S``.
        vectors: ``(K, D)`` attribute vectors, or ``(D,)`` for a single one (``(K, *S)``
            or ``S`` for latents of shape ``S``).
        alphas: ``(A, K)`` strengths (``(A,)`` with a single vector); numbers, sequences or
            arrays/tensors of z's kind, converted to z's dtype.
        out: optional preallocated ``(N, A, D)`` (or ``(A, D)``) output.
        latent_ndim: trailing dimensions of ``z`` that form one latent (see :func:`slerp`).

    Returns:
        ``(N, A, D)`` (``(N, A, *S)``), or ``(A, D)`` for a single latent; same kind,
        device, dtype as ``z``.

    Raises:
        TypeError: non-float dtypes, mixed kinds or dtypes of z, vectors and out.
        ValueError: mismatched shapes; NaN or Inf in any input.
    """
    kind = check_data([("z", z), ("vectors", vectors)])
    al = coefficients("alphas", alphas, z, kind)
    spatial = _vectors_like(shape_of(z), shape_of(vectors), latent_ndim)
    if spatial is None:
        return _offset_rows(z, vectors, al, out, kind)
    z_flat, v_flat, latent = spatial
    inner_shape = offset_layout(z_flat, v_flat, shape_of(al))[-1]
    return _on_flat_rows(lambda o: _offset_rows(z.reshape(z_flat), vectors.reshape(v_flat), al, o, kind),
                         inner_shape, latent, out, f"z of shape {shape_of(z)} and alphas of shape {shape_of(al)}")


def _offset_rows(z: Array, vectors: Array, al: Array, out: Any, kind: str) -> Array:
    """offset() on flat latents, with ``al`` already converted."""
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


def score(z: Array, vectors: Array, *, normalize: bool = False, out: Array | None = None,
          latent_ndim: int | None = None) -> Array:
    """Dot products of latents with attribute vectors (AtDot scoring).

    Args:
        z: ``(N, D)`` or ``(D,)`` latents, or ``(N, *S)`` latents of any shape ``S``.
        vectors: ``(K, D)`` attribute vectors, or ``(D,)`` for one (``(K, *S)`` or ``S``).
        normalize: cosine similarity instead of the dot product; a zero latent or vector
            scores 0 (never NaN).
        out: optional preallocated output.
        latent_ndim: trailing dimensions of ``z`` that form one latent (see :func:`slerp`).

    Returns:
        ``(N, K)`` scores (dimensions of a single latent or vector dropped: ``(N,)``,
        ``(K,)`` or a 0-d array), same kind, device and dtype as ``z``. Sums that overflow
        are recomputed exactly with scaled operands, so a finite answer is returned
        wherever one exists.

    Raises:
        TypeError: non-float dtypes, mixed kinds or dtypes.
        ValueError: mismatched shapes; NaN or Inf in any input.
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
    kind = check_data([("z", z), ("vectors", vectors)])
    spatial = _vectors_like(shape_of(z), shape_of(vectors), latent_ndim)
    if spatial is not None:
        z, vectors = z.reshape(spatial[0]), vectors.reshape(spatial[1])
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
    _backend.core.set_num_threads(check_int("n", n, -(2**31)))


def get_num_threads() -> int:
    """The number of threads the CPU kernels use."""
    return int(_backend.core.get_num_threads())
