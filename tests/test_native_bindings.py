"""The native modules are memory-safe on their own: called directly (not through
latentatlas.ops) with sizes, dtypes or strides that do not match the buffers, each raises
before any kernel runs. The _cuda checks run here without a GPU: the buffers are described
by __cuda_array_interface__ dicts and the checks come before any device is touched."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from latentatlas import _core


def test_core_rejects_mismatched_buffers():
    a = np.zeros((2, 3))
    t = np.zeros((1, 4))
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        _core.interp(1, a, np.zeros((2, 4)), t, np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="out must have"):
        _core.interp(1, a, a, t, np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="t must have 1 or 2 rows"):
        _core.interp(1, a, a, np.zeros((3, 4)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="method must be"):
        _core.interp(7, a, a, t, np.zeros((2, 4, 3)))
    with pytest.raises(TypeError, match="must have the dtype of a"):
        _core.interp(1, a, a.astype(np.float32), t, np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="alphas must have one column per vector"):
        _core.offset(a, np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="out must have"):
        _core.score(a, np.zeros((5, 3)), False, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="read-only"):
        out = np.zeros((2, 5))
        out.flags.writeable = False
        _core.score(a, np.zeros((5, 3)), False, out)
    with pytest.raises(ValueError, match="contiguous in its last dimension"):
        _core.score(np.zeros((2, 6))[:, ::2], np.zeros((5, 3)), False, np.zeros((2, 5)))
    with pytest.raises(TypeError, match="rows must be int64"):
        _core.gather_score(a, a, np.zeros((2, 1), dtype=np.int32), np.zeros((2, 1)))


class _DeviceBuffer:
    """Stands in for a CUDA tensor: only its __cuda_array_interface__ is ever read."""

    def __init__(self, shape, typestr="<f4", strides=None, readonly=False):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "strides": strides,
                                         "data": (1 << 20, readonly), "version": 3}


@pytest.fixture()
def cuda_module():
    try:
        return importlib.import_module("latentatlas._cuda")
    except ImportError:
        pytest.skip("the _cuda module was not built (no nvcc at build time)")


def test_cuda_binding_checks_sizes_before_touching_memory(cuda_module):
    B = _DeviceBuffer
    a, t, out = B((2, 3)), B((1, 5)), B((2, 5, 3))
    with pytest.raises(ValueError, match=r"b has shape \(2, 4\)"):
        cuda_module.interp(1, a, B((2, 4)), t, out, 0)
    with pytest.raises(ValueError, match=r"out has shape \(2, 5, 4\)"):
        cuda_module.interp(1, a, a, t, B((2, 5, 4)), 0)
    with pytest.raises(ValueError, match="t must have 1 or 2 rows"):
        cuda_module.interp(1, a, a, B((3, 5)), out, 0)
    with pytest.raises(ValueError, match="method must be 0..3"):
        cuda_module.interp(9, a, a, t, out, 0)
    with pytest.raises(ValueError, match="out is read-only"):
        cuda_module.interp(1, a, a, t, B((2, 5, 3), readonly=True), 0)
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        cuda_module.interp(1, a, a, t, B((2, 5, 3), strides=(120, 12, 4)), 0)
    with pytest.raises(ValueError, match="contiguous in its last dimension"):
        cuda_module.interp(1, B((2, 3), strides=(24, 8)), a, t, out, 0)
    with pytest.raises(TypeError, match="dtype of the first argument"):
        cuda_module.interp(1, a, B((2, 3), "<f8"), t, out, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        cuda_module.interp(1, B((2, 3), "<i4"), a, t, out, 0)
    with pytest.raises(TypeError, match="__cuda_array_interface__"):
        cuda_module.interp(1, np.zeros((2, 3), np.float32), a, t, out, 0)
    with pytest.raises(ValueError, match=r"alphas has shape|vectors has shape"):
        cuda_module.offset(a, B((4, 3)), B((2, 5)), B((2, 2, 3)), 0)
    with pytest.raises(ValueError, match=r"out has shape"):
        cuda_module.score(a, B((4, 3)), True, B((2, 5)), 0)


def test_cuda_binding_without_a_device_says_so(cuda_module):
    if cuda_module.device_count() > 0:
        pytest.skip("a CUDA device exists")
    B = _DeviceBuffer
    with pytest.raises(ValueError, match="no CUDA device is available"):
        cuda_module.score(B((2, 3)), B((4, 3)), False, B((2, 4)), 0)


def test_unpickled_arrays_are_accepted_by_dtype_value_not_identity() -> None:
    """An array that went through pickle (as Ray, multiprocessing and caches move data) can
    carry a dtype object that equals numpy's float64 but is not the same object; the binding
    compares dtypes by value, so such arrays score like any other."""
    import pickle

    import latentatlas as la

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        z = rng.standard_normal((5, 7)).astype(dtype)
        v = rng.standard_normal((3, 7)).astype(dtype)
        z2, v2 = pickle.loads(pickle.dumps(z)), pickle.loads(pickle.dumps(v))
        ref = z.astype(np.float64) @ v.astype(np.float64).T
        np.testing.assert_allclose(la.score(z2, v2), ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(la.score(z, v2), ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
