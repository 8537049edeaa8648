"""``torch.library`` registrations of the core ops: ``torch.ops.latentatlas.*``.

Importing this module registers three custom ops (with fake kernels for
``torch.compile`` / meta tensors and analytic autograd formulas for every floating input):

- ``torch.ops.latentatlas.interpolate(a, b, t, method) -> Tensor``: ``a``, ``b`` of shape
  ``(D,)`` or ``(B, D)``; ``t`` a 0-d, ``(T,)``, ``(1, T)`` or ``(B, T)`` tensor of ``a``'s
  dtype and device; ``method`` one of ``"slerp"``, ``"lerp"``, ``"slerp_gaussian"``,
  ``"lerp_gaussian"``. Returns the public output shape (see ``latentatlas.slerp``).
- ``torch.ops.latentatlas.offset(z, vectors, alphas) -> Tensor``: ``(N, A, D)`` or
  ``(A, D)`` (shapes as ``latentatlas.offset``, after ``alphas`` became a tensor).
- ``torch.ops.latentatlas.score(z, vectors, normalize) -> Tensor``: ``(N, K)`` (dimensions
  of 1-d inputs dropped, as ``latentatlas.score``).

Shapes are checked with the layouts of ``latentatlas._contract`` (``interp_layout``,
``offset_layout``, ``score_layout``), in the fake kernels as in the real ones, so
``torch.compile`` reports the same ValueError/TypeError as eager code.

The op bodies call the executors of ``latentatlas._backend`` directly (native kernels, or
the pure-torch fallback on CUDA without the ``_cuda`` extension), never the public layer
above. The backward formulas are written with torch ops (``latentatlas._torch_impl``) so
they run on CPU and CUDA and trace under ``torch.compile``. ``latentatlas.ops`` routes
torch tensors here when gradients are needed or while compiling; users normally call
``latentatlas.slerp`` etc.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _backend
from . import _torch_impl as _impl
from ._contract import interp_layout, method_code, offset_layout, score_layout

__all__ = ["interpolate", "offset", "score"]

_FLOATS = (torch.float32, torch.float64)


def _check_tensors(op: str, **tensors: torch.Tensor) -> None:
    """The dtype and device rules of ``ops`` for all tensor arguments (fake kernels too).

    Raises:
        TypeError: a non-float dtype, or dtypes that differ from the first argument's.
        ValueError: tensors on different devices.
    """
    names = list(tensors)
    first = tensors[names[0]]
    for name, x in tensors.items():
        if x.dtype not in _FLOATS:
            raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype}")
        if x.dtype != first.dtype:
            raise TypeError(f"{op}: {name} must have the dtype of {names[0]} ({first.dtype}), got {x.dtype}")
        if x.device != first.device:
            raise ValueError(f"{op}: {name} is on {x.device} but {names[0]} is on {first.device}")


def _shape(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


# --------------------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------------------


@torch.library.custom_op("latentatlas::interpolate", mutates_args=())
def interpolate(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str) -> torch.Tensor:
    """Interpolate ``a`` and ``b`` at times ``t`` with ``method`` (public shapes).

    See ``latentatlas.interpolate``; this is the differentiable, compilable op behind it.
    """
    code = method_code(method)
    _check_tensors("interpolate", a=a, b=b, t=t)
    B, D, Bt, T, out_shape = interp_layout(_shape(a), _shape(b), _shape(t))
    out = a.new_empty(out_shape)
    if out.numel():
        _backend.executor(a).interpolate(code, a.reshape(B, D), b.reshape(B, D), t.reshape(Bt, T), out)
    return out


@interpolate.register_fake
def _interpolate_fake(
    a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str
) -> torch.Tensor:
    method_code(method)
    _check_tensors("interpolate", a=a, b=b, t=t)
    out_shape = interp_layout(_shape(a), _shape(b), _shape(t))[-1]
    return a.new_empty(out_shape)


def _interpolate_setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    a, b, t, method = inputs
    ctx.save_for_backward(a, b, t)
    ctx.method = method


def _interpolate_backward(
    ctx: Any, grad: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
    a, b, t = ctx.saved_tensors
    bsz, dim, bt, steps, _ = interp_layout(_shape(a), _shape(b), _shape(t))
    ga, gb, gt = _impl.interpolate_rows_backward(
        grad.reshape(bsz, steps, dim),
        a.reshape(bsz, dim),
        b.reshape(bsz, dim),
        t.reshape(bt, steps),
        ctx.method,
    )
    need = ctx.needs_input_grad
    return (
        ga.reshape(a.shape) if need[0] else None,
        gb.reshape(b.shape) if need[1] else None,
        gt.reshape(t.shape) if need[2] else None,
        None,
    )


interpolate.register_autograd(_interpolate_backward, setup_context=_interpolate_setup)


# --------------------------------------------------------------------------------------
# offset
# --------------------------------------------------------------------------------------


@torch.library.custom_op("latentatlas::offset", mutates_args=())
def offset(z: torch.Tensor, vectors: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """``z[n] + sum_k alphas[a, k] * vectors[k]`` for every n and a (public shapes).

    See ``latentatlas.offset``; this is the differentiable, compilable op behind it.
    """
    _check_tensors("offset", z=z, vectors=vectors, alphas=alphas)
    N, K, A, D, out_shape = offset_layout(_shape(z), _shape(vectors), _shape(alphas))
    out = z.new_empty(out_shape)
    if out.numel():
        _backend.executor(z).offset(z.reshape(N, D), vectors.reshape(K, D), alphas.reshape(A, K), out)
    return out


@offset.register_fake
def _offset_fake(z: torch.Tensor, vectors: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    _check_tensors("offset", z=z, vectors=vectors, alphas=alphas)
    return z.new_empty(offset_layout(_shape(z), _shape(vectors), _shape(alphas))[-1])


def _offset_setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    ctx.save_for_backward(*inputs)


def _offset_backward(
    ctx: Any, grad: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    z, vectors, alphas = ctx.saved_tensors
    n, k, a, dim, _ = offset_layout(_shape(z), _shape(vectors), _shape(alphas))
    gz, gv, ga = _impl.offset_backward(
        grad.reshape(n, a, dim), z.reshape(n, dim), vectors.reshape(k, dim), alphas.reshape(a, k)
    )
    need = ctx.needs_input_grad
    return (
        gz.reshape(z.shape) if need[0] else None,
        gv.reshape(vectors.shape) if need[1] else None,
        ga.reshape(alphas.shape) if need[2] else None,
    )


offset.register_autograd(_offset_backward, setup_context=_offset_setup)


# --------------------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------------------


@torch.library.custom_op("latentatlas::score", mutates_args=())
def score(z: torch.Tensor, vectors: torch.Tensor, normalize: bool) -> torch.Tensor:
    """Dot products (cosine similarities with ``normalize``) of rows of ``z`` with ``vectors``.

    See ``latentatlas.score``; this is the differentiable, compilable op behind it.
    """
    _check_tensors("score", z=z, vectors=vectors)
    N, K, D, out_shape = score_layout(_shape(z), _shape(vectors))
    out = z.new_empty(out_shape)
    if out.numel():
        _backend.executor(z).score(z.reshape(N, D), vectors.reshape(K, D), bool(normalize), out)
    return out


@score.register_fake
def _score_fake(z: torch.Tensor, vectors: torch.Tensor, normalize: bool) -> torch.Tensor:
    _check_tensors("score", z=z, vectors=vectors)
    return z.new_empty(score_layout(_shape(z), _shape(vectors))[-1])


def _score_setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    z, vectors, normalize = inputs
    ctx.save_for_backward(z, vectors)
    ctx.normalize = normalize


def _score_backward(
    ctx: Any, grad: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
    z, vectors = ctx.saved_tensors
    n, k, dim, _ = score_layout(_shape(z), _shape(vectors))
    gz, gv = _impl.score_backward(
        grad.reshape(n, k), z.reshape(n, dim), vectors.reshape(k, dim), ctx.normalize
    )
    need = ctx.needs_input_grad
    return (
        gz.reshape(z.shape) if need[0] else None,
        gv.reshape(vectors.shape) if need[1] else None,
        None,
    )


score.register_autograd(_score_backward, setup_context=_score_setup)
