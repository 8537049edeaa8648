"""The same op tests on every backend: the native CPU core, the pure-torch fallback (which
CUDA tensors use when _cuda was not built) and the _cuda kernels on every CUDA device
(skipped where none exists), each against the float64 references of tests/reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import latentatlas as la
import reference as ref
from devices import BACKENDS, METHODS

torch = pytest.importorskip("torch")

TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-11, atol=1e-11)}


@pytest.fixture(params=BACKENDS)
def device(request, monkeypatch):
    """The torch device to put data on; for "torch-fallback", CPU tensors routed to the
    pure-torch executor (and the executor is checked to be the one the test names)."""
    from latentatlas import _backend

    name = request.param
    if name == "torch-fallback":
        monkeypatch.setattr(_backend, "executor", lambda x: _backend._Torch)
        return "cpu"
    want = _backend._Cpu if name == "cpu" else _backend._Cuda
    assert _backend.executor(torch.zeros(1, device=name)) is want
    return name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("D", [1, 3, 7, 97, 129, 512])
def test_interpolation_matches_reference(device, dtype, method, D):
    g = torch.Generator().manual_seed(D)
    a = torch.randn(4, D, generator=g, dtype=dtype)
    b = torch.randn(4, D, generator=g, dtype=dtype)
    b[1] = -2 * a[1]  # antipodal row
    b[2] = 0  # zero row
    for t in (0.3, torch.tensor([0.0, 0.4, 1.0, 1.5], dtype=dtype), torch.rand(4, 3, generator=g, dtype=dtype)):
        td = t.to(device) if isinstance(t, torch.Tensor) else t
        got = la.interpolate(a.to(device), b.to(device), td, method)
        assert got.device.type == torch.device(device).type and got.dtype == dtype
        want = ref.interpolate(a.numpy(), b.numpy(), np.asarray(t), method)
        np.testing.assert_allclose(got.cpu().numpy(), want, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_offset_and_score(device, dtype):
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


def test_strided_inputs_and_outputs(device):
    g = torch.Generator().manual_seed(3)
    a = torch.randn(64, 200, generator=g, dtype=torch.float64).to(device)[:, ::2]
    b = torch.randn(64, 100, generator=g, dtype=torch.float64).to(device)
    t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64, device=device)
    want = ref.interpolate(a.cpu().numpy(), b.cpu().numpy(), t.cpu().numpy(), "slerp")
    out = torch.empty(64, 3, 100, dtype=torch.float64, device=device)
    assert la.slerp(a, b, t, out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), want, rtol=1e-11, atol=1e-11)
    strided = torch.zeros(64, 6, 100, dtype=torch.float64, device=device)[:, ::2]
    assert la.slerp(a, b, t, out=strided) is strided
    np.testing.assert_allclose(strided.cpu().numpy(), want, rtol=1e-11, atol=1e-11)
    V = b[:2]
    al = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=torch.float64, device=device)
    out = torch.empty(64, 2, 100, dtype=torch.float64, device=device)
    assert la.offset(a, V, al, out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), ref.offset(a.cpu().numpy(), V.cpu().numpy(), al.cpu().numpy()),
                               rtol=1e-12, atol=1e-12)
    out = torch.empty(64, 2, dtype=torch.float64, device=device)
    assert la.score(a, V, normalize=True, out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), ref.score(a.cpu().numpy(), V.cpu().numpy(), True),
                               rtol=1e-12, atol=1e-12)


def test_gradients_flow_through_every_backend(device):
    g = torch.Generator().manual_seed(5)
    a = torch.randn(3, 7, generator=g, dtype=torch.float64).to(device).requires_grad_()
    b = torch.randn(3, 7, generator=g, dtype=torch.float64).to(device).requires_grad_()
    la.slerp(a, b, torch.tensor([0.25, 0.5], dtype=torch.float64, device=device)).sum().backward()
    assert a.grad is not None and b.grad is not None
    assert bool(torch.isfinite(a.grad).all()) and float(a.grad.abs().sum()) > 0


def test_errors(device):
    a = torch.randn(3, 4, device=device)
    bad = a.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="a contains NaN or Inf"):
        la.slerp(bad, a, 0.5)
    with pytest.raises(ValueError, match="z contains NaN or Inf"):
        la.score(bad, a)
    with pytest.raises(ValueError, match="contain"):
        la.offset(a, bad, torch.ones(2, 3, device=device))
    with pytest.raises(TypeError, match="t is a numpy array"):
        la.slerp(a, a, np.array([0.5]))
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        la.slerp(a, a[:, :3], 0.5)


@pytest.mark.parametrize("device", [d for d in BACKENDS if str(d).startswith("cuda")] or
                         [pytest.param("cuda", marks=pytest.mark.skip(reason="no CUDA device"))])
def test_cuda_runs_on_the_current_stream(device):
    a = torch.randn(64, 200, device=device)[:, ::2]
    b = torch.randn(64, 100, device=device)
    t = torch.linspace(0, 1, 5, device=device)
    expected = la.slerp(a.cpu(), b.cpu(), t.cpu())
    stream = torch.cuda.Stream(device=device)
    with torch.cuda.stream(stream):
        got = la.slerp(a, b, t)
    stream.synchronize()
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="b is on cpu but a is on cuda"):
        la.slerp(a, b.cpu(), 0.5)
