"""The ops on latents of any shape: (B, *S) batches and single latents of shape S (with
latent_ndim), each latent one vector of prod(S) numbers, against the float64 references
of tests/reference.py applied to the flattened latents."""

from __future__ import annotations

import numpy as np
import pytest

import latentatlas as la
import reference as ref
from devices import METHODS

torch = pytest.importorskip("torch")

SHAPES = [(3, 5), (4, 3, 3), (1, 1, 7), (2, 1)]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def _latents(B, S, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, *S)).astype(dtype), rng.standard_normal((B, *S)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("S", SHAPES)
@pytest.mark.parametrize("method", METHODS)
def test_batched_interpolation_treats_each_latent_as_one_vector(method, S, dtype):
    B = 4
    a, b = _latents(B, S, dtype)
    b[1] = -3 * a[1]  # antipodal as whole latents
    flat_a, flat_b = a.reshape(B, -1), b.reshape(B, -1)
    for t in (0.3, np.array([0.0, 0.25, 1.0, 1.5]), np.random.default_rng(1).uniform(-0.5, 1.5, (B, 3))):
        got = la.interpolate(a, b, t, method)
        want = ref.interpolate(flat_a, flat_b, t, method)
        shape = (B, *S) if np.ndim(t) == 0 else (B, np.shape(t)[-1], *S)
        assert got.shape == shape and got.dtype == dtype
        np.testing.assert_allclose(got.reshape(want.shape), want, **TOL[dtype])


@pytest.mark.parametrize("S", SHAPES)
def test_a_single_latent_with_latent_ndim(S):
    a, b = _latents(1, S, np.float64)
    t = np.linspace(0, 1, 5)
    got = la.slerp(a[0], b[0], t, latent_ndim=len(S))
    assert got.shape == (5, *S)
    np.testing.assert_allclose(got.reshape(5, -1), ref.interpolate(a[0].ravel(), b[0].ravel(), t, "slerp"),
                               rtol=1e-11, atol=1e-11)
    one = la.lerp(a[0], b[0], 0.25, latent_ndim=len(S))
    assert one.shape == S
    np.testing.assert_allclose(one.ravel(), 0.75 * a[0].ravel() + 0.25 * b[0].ravel(), rtol=1e-12, atol=1e-12)
    # the same call with an explicit batch axis
    batched = la.slerp(a, b, t, latent_ndim=len(S))
    np.testing.assert_allclose(batched[0], got, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("S", SHAPES)
def test_offset_and_score_on_spatial_latents(S, dtype):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((6, *S)).astype(dtype)
    V = rng.standard_normal((3, *S)).astype(dtype)
    al = rng.standard_normal((4, 3)).astype(dtype)
    got = la.offset(z, V, al)
    assert got.shape == (6, 4, *S)
    np.testing.assert_allclose(got.reshape(6, 4, -1), ref.offset(z.reshape(6, -1), V.reshape(3, -1), al),
                               **TOL[dtype])
    single = la.offset(z, V[0], [0.5, -1.0])
    assert single.shape == (6, 2, *S)
    np.testing.assert_allclose(single.reshape(6, 2, -1),
                               ref.offset(z.reshape(6, -1), V[0].ravel(), [0.5, -1.0]), **TOL[dtype])
    for normalize in (False, True):
        s = la.score(z, V, normalize=normalize)
        assert s.shape == (6, 3)
        np.testing.assert_allclose(s, ref.score(z.reshape(6, -1), V.reshape(3, -1), normalize),
                                   rtol=1e-5 if dtype == np.float32 else 1e-11, atol=1e-4 if dtype == np.float32 else 1e-11)
    assert la.score(z, V[0]).shape == (6,)
    assert la.score(z[0], V, latent_ndim=len(S)).shape == (3,)
    np.testing.assert_allclose(la.offset(z[0], V, al, latent_ndim=len(S)), got[0], rtol=0, atol=0)


def test_out_is_written_in_place_contiguous_or_not():
    a, b = _latents(3, (4, 5), np.float64)
    t = np.array([0.0, 0.5, 1.0])
    want = la.slerp(a, b, t)
    out = np.empty((3, 3, 4, 5))
    assert la.slerp(a, b, t, out=out) is out
    np.testing.assert_array_equal(out, want)
    strided = np.zeros((3, 3, 4, 10))[..., ::2]
    assert la.slerp(a, b, t, out=strided) is strided
    np.testing.assert_array_equal(strided, want)
    with pytest.raises(ValueError, match=r"out must have shape \(3, 3, 4, 5\) for a of shape \(3, 4, 5\)"):
        la.slerp(a, b, t, out=np.empty((3, 3, 20)))
    z = a
    out = np.empty((3, 2, 4, 5))
    assert la.offset(z, b[:2], [[1.0, 0.0], [0.0, 1.0]], out=out) is out
    np.testing.assert_allclose(out[:, 0], z + b[0], rtol=1e-15)


def test_contiguous_latents_reach_the_kernels_without_copies(monkeypatch):
    from latentatlas import _backend

    seen = []
    real = _backend._Cpu.interpolate

    def spy(code, a, b, t, result):
        seen.append((a, b))
        return real(code, a, b, t, result)

    monkeypatch.setattr(_backend._Cpu, "interpolate", staticmethod(spy))
    a, b = _latents(2, (4, 8, 8), np.float32)
    la.slerp(a, b, 0.5)
    assert np.shares_memory(seen[0][0], a) and np.shares_memory(seen[0][1], b)


@pytest.mark.parametrize("S", [(3, 5), (2, 2, 3)])
def test_torch_tensors_autograd_and_compile(S):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, *S, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, *S, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.2, 0.7], dtype=torch.float64)
    got = la.slerp(a, b, t)
    assert got.shape == (2, 2, *S)
    np.testing.assert_allclose(got.detach().numpy().reshape(2, 2, -1),
                               ref.interpolate(a.detach().numpy().reshape(2, -1), b.detach().numpy().reshape(2, -1),
                                               t.numpy(), "slerp"), rtol=1e-11, atol=1e-11)
    assert torch.autograd.gradcheck(lambda x, y: la.slerp(x, y, t), (a, b))
    v = torch.randn(3, *S, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: la.score(x, w, normalize=True), (a, v))
    assert torch.autograd.gradcheck(lambda x, w: la.offset(x, w, torch.ones(2, 3, dtype=torch.float64)), (a, v))


def test_errors_name_the_rule():
    a, b = _latents(2, (3, 4), np.float32)
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(2, 3, 4\) and \(2, 4, 3\)"):
        la.slerp(a, b.reshape(2, 4, 3), 0.5)
    with pytest.raises(ValueError, match=r"with latent_ndim=1, a must have 1 dimensions \(one latent\) or 2"):
        la.slerp(a, b, 0.5, latent_ndim=1)
    with pytest.raises(ValueError, match="latent_ndim must be >= 1"):
        la.slerp(a, b, 0.5, latent_ndim=0)
    with pytest.raises(TypeError, match="latent_ndim must be an int or None"):
        la.slerp(a, b, 0.5, latent_ndim=2.0)
    with pytest.raises(ValueError, match=r"vectors must be one latent of shape \(3, 4\) or \(K, \*\(3, 4\)\)"):
        la.score(a, np.zeros((2, 12), np.float32))
    with pytest.raises(ValueError, match=r"is read as one latent of shape \(2, 3, 4\)"):
        la.score(a, np.zeros((3, 4), np.float32), latent_ndim=3)
    with pytest.raises(ValueError, match=r"t must be a float, \(T,\) or \(B, T\) with B = 2, got shape \(3, 2\)"):
        la.slerp(a, b, np.zeros((3, 2)))
    bad = a.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="a contains NaN or Inf"):
        la.slerp(bad, b, 0.5)
