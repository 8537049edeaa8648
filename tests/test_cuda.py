"""The ops on CUDA tensors: the _cuda kernels (or the torch fallback when _cuda was not
built) against the float64 references. Skipped where no CUDA device exists."""

from __future__ import annotations

import numpy as np
import pytest

import latentatlas as la
import reference as ref

torch = pytest.importorskip("torch")

DEVICES = [pytest.param(f"cuda:{i}", id=f"cuda{i}") for i in range(torch.cuda.device_count())] or [
    pytest.param("cuda", marks=pytest.mark.skip(reason="no CUDA device"))
]
METHODS = ["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-11, atol=1e-11)}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("D", [1, 3, 7, 97, 129, 512])
def test_interpolation_on_device_matches_reference(device, dtype, method, D):
    g = torch.Generator().manual_seed(D)
    a = torch.randn(4, D, generator=g, dtype=dtype)
    b = torch.randn(4, D, generator=g, dtype=dtype)
    b[1] = -2 * a[1]  # antipodal row
    b[2] = 0  # zero row
    for t in (0.3, torch.tensor([0.0, 0.4, 1.0, 1.5], dtype=dtype), torch.rand(4, 3, generator=g, dtype=dtype)):
        td = t.to(device) if isinstance(t, torch.Tensor) else t
        got = la.interpolate(a.to(device), b.to(device), td, method)
        assert got.device.type == "cuda" and got.dtype == dtype
        want = ref.interpolate(a.numpy(), b.numpy(), np.asarray(t), method)
        np.testing.assert_allclose(got.cpu().numpy(), want, **TOL[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_offset_and_score_on_device(device, dtype):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(300, 129, generator=g, dtype=dtype)
    V = torch.randn(5, 129, generator=g, dtype=dtype)
    al = torch.randn(7, 5, generator=g, dtype=dtype)
    got = la.offset(z.to(device), V.to(device), al.to(device))
    np.testing.assert_allclose(got.cpu().numpy(), ref.offset(z.numpy(), V.numpy(), al.numpy()), **TOL[dtype])
    for normalize in (False, True):
        got = la.score(z.to(device), V.to(device), normalize=normalize)
        want = ref.score(z.numpy(), V.numpy(), normalize)
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-5, atol=1e-4 if not normalize else 1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_the_current_stream_and_strided_inputs(device):
    a = torch.randn(64, 200, device=device)[:, ::2]
    b = torch.randn(64, 100, device=device)
    t = torch.linspace(0, 1, 5, device=device)
    expected = la.slerp(a.cpu(), b.cpu(), t.cpu())
    stream = torch.cuda.Stream(device=device)
    with torch.cuda.stream(stream):
        got = la.slerp(a, b, t)
    stream.synchronize()
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    out = torch.empty(64, 5, 100, device=device)
    assert la.slerp(a, b, t, out=out) is out


@pytest.mark.parametrize("device", DEVICES)
def test_errors_on_device(device):
    a = torch.randn(3, 4, device=device)
    bad = a.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="a contains NaN or Inf"):
        la.slerp(bad, a, 0.5)
    with pytest.raises(ValueError, match="b is on cpu but a is on cuda"):
        la.slerp(a, a.cpu(), 0.5)
    with pytest.raises(TypeError, match="t is a numpy array"):
        la.slerp(a, a, np.array([0.5]))


def test_device_path_logic_with_the_torch_fallback(monkeypatch):
    """Runs the CUDA dispatch of ops.py on CPU tensors (treated as a device without _cuda
    kernels): the torch fallback, out= handling and the finite checks."""
    from latentatlas import _backend, ops

    monkeypatch.setattr(ops, "_on_cuda", lambda kind, x: kind == "torch")
    monkeypatch.setattr(_backend, "_use_cuda_kernels", lambda x: False)
    g = torch.Generator().manual_seed(3)
    a = torch.randn(5, 33, generator=g, dtype=torch.float64)
    b = torch.randn(5, 33, generator=g, dtype=torch.float64)
    t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    for method in METHODS:
        want = ref.interpolate(a.numpy(), b.numpy(), t.numpy(), method)
        np.testing.assert_allclose(la.interpolate(a, b, t, method).numpy(), want, rtol=1e-11, atol=1e-11)
        out = torch.empty(5, 3, 33, dtype=torch.float64)
        assert la.interpolate(a, b, t, method, out=out) is out
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-11, atol=1e-11)
    strided = torch.zeros(5, 6, 33, dtype=torch.float64)[:, ::2]
    la.slerp(a, b, t, out=strided)
    np.testing.assert_allclose(strided.numpy(), ref.interpolate(a.numpy(), b.numpy(), t.numpy(), "slerp"),
                               rtol=1e-11, atol=1e-11)
    V = b[:2]
    al = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=torch.float64)
    np.testing.assert_allclose(la.offset(a, V, al).numpy(), ref.offset(a.numpy(), V.numpy(), al.numpy()),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(la.score(a, V, normalize=True).numpy(), ref.score(a.numpy(), V.numpy(), True),
                               rtol=1e-12, atol=1e-12)
    bad = a.clone()
    bad[1, 1] = float("inf")
    with pytest.raises(ValueError, match="a contains NaN or Inf"):
        la.slerp(bad, b, 0.5)
