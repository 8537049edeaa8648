"""The backends behind the ops, each with one executor signature.

An executor runs one op on inputs already checked by the layer above (:mod:`.ops` or
:mod:`.torch_ops`) and already in the normalised shapes of :mod:`._contract`, writing into
``result``, an array or tensor of the call's public output shape:

- ``interpolate(code, a, b, t, result)``: ``a``, ``b`` (B, D), ``t`` (Bt, T) → (B, T, D)
- ``offset(z, vectors, alphas, result)``: (N, D), (K, D), (A, K) → (N, A, D)
- ``score(z, vectors, normalize, result)``: (N, D), (K, D) → (N, K)

Three backends implement them: ``cpu`` (the native ``_core`` module, always built; numpy
arrays and CPU tensors share memory with it), ``cuda`` (the ``_cuda`` kernels on the
current torch stream, built when nvcc was found; the CUDA runtime is linked statically, so
it imports without a driver and reports zero devices), and ``torch`` (the pure-torch code
of :mod:`._torch_impl`, for CUDA tensors without ``_cuda`` and other devices).
:func:`executor` picks one for the data's device. Calls only go down from here: to the
native modules, :mod:`._torch_impl`, :mod:`._contract` and :mod:`._arrays`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Sequence

import numpy as np

from . import _core as core
from ._arrays import check_finite_tensors, numpy_view
from ._contract import METHOD_NAMES, METHODS

__all__ = ["core", "cuda_module", "cuda_device_count", "info", "executor", "EXECUTORS"]

_cuda_state: dict[str, Any] = {}


def cuda_module() -> Any | None:
    """The ``_cuda`` extension module, or None when it was not built (or fails to load)."""
    if "module" not in _cuda_state:
        try:
            _cuda_state["module"] = importlib.import_module("latentatlas._cuda")
            _cuda_state["error"] = None
        except ImportError as exc:
            _cuda_state["module"] = None
            _cuda_state["error"] = str(exc)
    return _cuda_state["module"]


def cuda_device_count() -> int:
    """CUDA devices the ``_cuda`` module sees (0 without the module, a driver or a GPU)."""
    mod = cuda_module()
    return int(mod.device_count()) if mod is not None else 0


def info() -> dict[str, Any]:
    """Version, build and runtime facts about this installation (see ``backend_info``)."""
    from . import __version__  # the package's own metadata, not a layer above

    build = dict(core.build_info())
    mod = cuda_module()
    result: dict[str, Any] = {
        "version": __version__,
        "cpu": {
            "compiler": build["compiler"],
            "simd_dispatch": build["simd_dispatch"],
            "simd_selected": build["simd_selected"],
            "threads": int(core.get_num_threads()),
            "hardware_threads": int(build["hardware_threads"]),
        },
        "cuda_option": build.get("cuda_option", "unknown"),
        "nvcc_found_at_build": bool(build.get("nvcc_found", False)),
        "cuda_built": mod is not None,
        "cuda_devices": cuda_device_count(),
    }
    if mod is not None:
        result["cuda"] = dict(mod.build_info())
    elif _cuda_state.get("error") and "No module named" not in _cuda_state["error"]:
        result["cuda_import_error"] = _cuda_state["error"]
    torch = sys.modules.get("torch")
    if torch is not None:
        result["torch"] = torch.__version__
    return result


# ----------------------------------------------------------------------------- cpu


def _native_into(call: Callable[[np.ndarray], None], inputs: Sequence[np.ndarray], result: Any,
                 shape: tuple[int, ...]) -> None:
    """Runs ``call(target)`` for a native op whose normalised output has ``shape``.

    The kernels write C-contiguous buffers; ``result`` is written directly when a view of
    that shape is C-contiguous and overlaps no input, else through a scratch buffer.
    """
    arr = result if isinstance(result, np.ndarray) else result.numpy()
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


class _Cpu:
    """The native CPU kernels of ``_core`` (NaN/Inf are reported by the kernels)."""

    @staticmethod
    def interpolate(code: int, a: Any, b: Any, t: Any, result: Any) -> None:
        a2, b2 = numpy_view(a), numpy_view(b)
        t2 = np.ascontiguousarray(numpy_view(t))
        shape = (a2.shape[0], t2.shape[1], a2.shape[1])
        _native_into(lambda target: core.interp(code, a2, b2, t2, target), (a2, b2, t2), result, shape)

    @staticmethod
    def offset(z: Any, vectors: Any, alphas: Any, result: Any) -> None:
        z2, v2 = numpy_view(z), numpy_view(vectors)
        al2 = np.ascontiguousarray(numpy_view(alphas))
        shape = (z2.shape[0], al2.shape[0], z2.shape[1])
        _native_into(lambda target: core.offset(z2, v2, al2, target), (z2, v2, al2), result, shape)

    @staticmethod
    def score(z: Any, vectors: Any, normalize: bool, result: Any) -> None:
        z2, v2 = numpy_view(z), numpy_view(vectors)
        shape = (z2.shape[0], v2.shape[0])
        _native_into(lambda target: core.score(z2, v2, normalize, target), (z2, v2), result, shape)


# ----------------------------------------------------------------------------- cuda


def _rows(x: Any) -> Any:
    """x with a unit-stride last dimension (the kernels' requirement), detached (the
    kernels only read it; the custom ops carry the gradients)."""
    x = x.detach()
    return x if x.shape[-1] <= 1 or x.stride(-1) == 1 else x.contiguous()


def _target(result: Any, shape: tuple[int, ...], inputs: tuple[Any, ...]) -> Any:
    """``result`` viewed as ``shape`` when the kernels can write it directly (contiguous,
    sharing no storage with an input), else a new tensor."""
    import torch

    if result.is_contiguous():
        ptr = result.untyped_storage().data_ptr()
        if not any(x.untyped_storage().data_ptr() == ptr for x in inputs):
            return result.view(shape)
    return torch.empty(shape, dtype=result.dtype, device=result.device)


def _finish(result: Any, target: Any) -> None:
    if target.data_ptr() != result.data_ptr():
        result.copy_(target.reshape(result.shape))


def _stream(x: Any) -> int:
    import torch

    return int(torch.cuda.current_stream(x.device).cuda_stream)


class _Cuda:
    """The ``_cuda`` kernels on torch's current stream. The binding reads each tensor's
    ``__cuda_array_interface__`` and checks every size against the buffers itself."""

    @staticmethod
    def interpolate(code: int, a: Any, b: Any, t: Any, result: Any) -> None:
        check_finite_tensors([("a", a), ("b", b), ("t", t)])
        a, b, t = _rows(a), _rows(b), t.detach().contiguous()
        target = _target(result, (a.shape[0], t.shape[1], a.shape[1]), (a, b, t))
        cuda_module().interp(code, a, b, t, target, _stream(a))
        _finish(result, target)

    @staticmethod
    def offset(z: Any, vectors: Any, alphas: Any, result: Any) -> None:
        check_finite_tensors([("z", z), ("vectors", vectors), ("alphas", alphas)])
        z, vectors, alphas = _rows(z), _rows(vectors), alphas.detach().contiguous()
        target = _target(result, (z.shape[0], alphas.shape[0], z.shape[1]), (z, vectors, alphas))
        cuda_module().offset(z, vectors, alphas, target, _stream(z))
        _finish(result, target)

    @staticmethod
    def score(z: Any, vectors: Any, normalize: bool, result: Any) -> None:
        check_finite_tensors([("z", z), ("vectors", vectors)])
        z, vectors = _rows(z), _rows(vectors)
        target = _target(result, (z.shape[0], vectors.shape[0]), (z, vectors))
        cuda_module().score(z, vectors, bool(normalize), target, _stream(z))
        _finish(result, target)


# ----------------------------------------------------------------------------- torch


class _Torch:
    """The pure-torch implementation (any device torch supports)."""

    @staticmethod
    def interpolate(code: int, a: Any, b: Any, t: Any, result: Any) -> None:
        from . import _torch_impl

        check_finite_tensors([("a", a), ("b", b), ("t", t)])
        name = next(n for n in METHOD_NAMES if METHODS[n] == code)
        result.copy_(_torch_impl.interpolate_rows(a.detach(), b.detach(), t.detach(), name).reshape(result.shape))

    @staticmethod
    def offset(z: Any, vectors: Any, alphas: Any, result: Any) -> None:
        from . import _torch_impl

        check_finite_tensors([("z", z), ("vectors", vectors), ("alphas", alphas)])
        result.copy_(_torch_impl.offset(z.detach(), vectors.detach(), alphas.detach()).reshape(result.shape))

    @staticmethod
    def score(z: Any, vectors: Any, normalize: bool, result: Any) -> None:
        from . import _torch_impl

        check_finite_tensors([("z", z), ("vectors", vectors)])
        result.copy_(_torch_impl.score(z.detach(), vectors.detach(), normalize).reshape(result.shape))


EXECUTORS: dict[str, Any] = {"cpu": _Cpu, "cuda": _Cuda, "torch": _Torch}


def executor(x: Any) -> Any:
    """The backend for data like ``x``: ``cpu`` for numpy arrays and CPU tensors, ``cuda``
    for CUDA tensors when ``_cuda`` sees a device, ``torch`` for any other tensor."""
    if isinstance(x, np.ndarray) or x.device.type == "cpu":
        return _Cpu
    if x.device.type == "cuda" and cuda_device_count() > 0:
        return _Cuda
    return _Torch
