"""Which native paths exist, and the dispatch of CUDA tensors to them.

``_core`` (the CPU kernels) is always built. ``_cuda`` is built when nvcc was found at
build time; it links the CUDA runtime statically, so it imports on machines without a
driver and then reports zero devices. CUDA tensors use its kernels on the current torch
stream, or the equivalent torch code of :mod:`latentatlas._torch_impl` when it is absent.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from . import _core as core

__all__ = ["core", "cuda_module", "cuda_device_count", "info"]

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
    from . import __version__

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


def _use_cuda_kernels(x: Any) -> bool:
    return x.device.type == "cuda" and cuda_device_count() > 0


def _launch_args(x: Any) -> tuple[int, int]:
    import torch

    return x.device.index if x.device.index is not None else torch.cuda.current_device(), \
        torch.cuda.current_stream(x.device).cuda_stream


def _dtype_code(x: Any) -> int:
    import torch

    return 0 if x.dtype == torch.float32 else 1


def _rows(x: Any) -> Any:
    """x with a unit-stride last dimension (the kernels' requirement)."""
    return x if x.shape[-1] <= 1 or x.stride(-1) == 1 else x.contiguous()


def _target(out: Any, shape: tuple[int, ...], like: Any, inputs: tuple[Any, ...]) -> Any:
    """``out`` viewed as ``shape`` when the kernels can write it directly (contiguous, and
    sharing no storage with an input), else a new tensor."""
    import torch

    if out is not None and out.is_contiguous():
        ptr = out.untyped_storage().data_ptr()
        if not any(x.untyped_storage().data_ptr() == ptr for x in inputs):
            return out.view(shape)
    return torch.empty(shape, dtype=like.dtype, device=like.device)


def _finish(out: Any, target: Any) -> Any:
    if out is not None and target.data_ptr() != out.data_ptr():
        out.copy_(target.reshape(out.shape))
    return target


def cuda_interpolate(method: int, a: Any, b: Any, t: Any, out: Any = None) -> Any:
    """(B, T, D) interpolation of CUDA tensors a, b (B, D) at t (Bt, T), into ``out``
    (any shape holding B·T·D elements) when given."""
    B, D = a.shape
    T = t.shape[1]
    if not _use_cuda_kernels(a):
        from . import _torch_impl
        from .ops import METHODS

        name = {code: n for n, code in METHODS.items()}[method]
        return _finish(out, _torch_impl.interpolate_rows(a, b, t, name))
    a, b, t = _rows(a), _rows(b), t.contiguous()
    target = _target(out, (B, T, D), a, (a, b, t))
    device, stream = _launch_args(a)
    cuda_module().interp(method, _dtype_code(a), a.data_ptr(), a.stride(0), b.data_ptr(), b.stride(0),
                         t.data_ptr(), 0 if t.shape[0] == 1 else t.stride(0), target.data_ptr(), B, T, D,
                         device, stream)
    return _finish(out, target)


def cuda_offset(z: Any, vectors: Any, alphas: Any, out: Any = None) -> Any:
    """(N, A, D) offsets of CUDA tensors z (N, D) along vectors (K, D) at alphas (A, K)."""
    N, D = z.shape
    K = vectors.shape[0]
    A = alphas.shape[0]
    if not _use_cuda_kernels(z):
        from . import _torch_impl

        return _finish(out, _torch_impl.offset(z, vectors, alphas))
    z, vectors, alphas = _rows(z), _rows(vectors), alphas.contiguous()
    target = _target(out, (N, A, D), z, (z, vectors, alphas))
    device, stream = _launch_args(z)
    cuda_module().offset(_dtype_code(z), z.data_ptr(), z.stride(0), vectors.data_ptr(), vectors.stride(0),
                         alphas.data_ptr(), target.data_ptr(), N, A, K, D, device, stream)
    return _finish(out, target)


def cuda_score(z: Any, vectors: Any, normalize: bool, out: Any = None) -> Any:
    """(N, K) dot products (or cosines) of CUDA tensors z (N, D) and vectors (K, D)."""
    N, D = z.shape
    K = vectors.shape[0]
    if not _use_cuda_kernels(z):
        from . import _torch_impl

        return _finish(out, _torch_impl.score(z, vectors, normalize))
    z, vectors = _rows(z), _rows(vectors)
    target = _target(out, (N, K), z, (z, vectors))
    device, stream = _launch_args(z)
    cuda_module().score(_dtype_code(z), z.data_ptr(), z.stride(0), vectors.data_ptr(), vectors.stride(0),
                        bool(normalize), target.data_ptr(), N, K, D, device, stream)
    return _finish(out, target)
