"""The pure-torch implementations (``latentatlas._torch_impl``) against float64 references.

The reference below is written independently: one row at a time, with the standard
library's ``math`` and scipy's normal CDF / quantile, following the contract of the core
ops. CUDA variants are parametrised and skipped where no device exists.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special

from latentatlas import _torch_impl as impl
from devices import DEVICES, METHODS

DIMS = (1, 3, 7, 97, 129, 512)
TIMES = (-0.5, 0.0, 0.25, 0.5, 1.0, 1.7)


# --------------------------------------------------------------------------------------
# the reference
# --------------------------------------------------------------------------------------


def _ref_unit(x: np.ndarray) -> tuple[float, np.ndarray]:
    """Norm and direction of a row, dividing by its largest magnitude first."""
    m = float(np.abs(x).max(initial=0.0))
    if m == 0.0:
        return 0.0, np.zeros_like(x)
    y = x / m
    n = math.sqrt(math.fsum(y * y))
    return m * n, y / n


def _ref_mode(a: np.ndarray, b: np.ndarray) -> tuple[str, float]:
    (na, ah), (nb, bh) = _ref_unit(a), _ref_unit(b)
    if na == 0.0 or nb == 0.0:
        return "lerp", 0.0
    omega = 2.0 * math.atan2(float(np.linalg.norm(ah - bh)), float(np.linalg.norm(ah + bh)))
    if omega < 1e-7:
        return "lerp", omega
    if math.pi - omega < 1e-6:
        return ("antipodal" if a.size > 1 else "lerp"), omega
    return "slerp", omega


def _ref_slerp_row(a: np.ndarray, b: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Slerp of one pair of float64 rows at times ``ts``, without the endpoint rule."""
    mode, omega = _ref_mode(a, b)
    out = np.empty((ts.size, a.size))
    for i, t in enumerate(ts):
        if mode == "lerp":
            out[i] = (1.0 - t) * a + t * b
        elif mode == "slerp":
            s = math.sin(omega)
            out[i] = math.sin((1.0 - t) * omega) / s * a + math.sin(t * omega) / s * b
        else:
            (na, ah), (nb, _) = _ref_unit(a), _ref_unit(b)
            k = int(np.argmin(np.abs(ah)))
            e = np.zeros(a.size)
            e[k] = 1.0
            u = (e - ah[k] * ah) / math.sqrt(1.0 - ah[k] ** 2)
            r = (1.0 - t) * na + t * nb
            out[i] = r * (math.cos(math.pi * t) * ah + math.sin(math.pi * t) * u)
    return out


def _ref_inv(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Phi^-1 of p, taken from the side (p or q = 1 - p) that keeps the precision."""
    return np.where(p <= 0.5, special.ndtri(np.maximum(p, 1e-300)), -special.ndtri(np.maximum(q, 1e-300)))


def reference(a: np.ndarray, b: np.ndarray, t: np.ndarray, method: str) -> np.ndarray:
    """(B, T, D) float64 interpolation of rows a, b (B, D) at times t (B or 1, T)."""
    a, b, t = (np.asarray(x, dtype=np.float64) for x in (a, b, t))
    bsz, dim = a.shape
    t = np.broadcast_to(t, (bsz, t.shape[1]))
    out = np.empty((bsz, t.shape[1], dim))
    for i in range(bsz):
        ts = t[i]
        if method == "lerp":
            row = (1.0 - ts)[:, None] * a[i] + ts[:, None] * b[i]
        elif method == "slerp":
            row = _ref_slerp_row(a[i], b[i], ts)
        elif method == "lerp_gaussian":
            p = (1.0 - ts)[:, None] * special.ndtr(a[i]) + ts[:, None] * special.ndtr(b[i])
            q = (1.0 - ts)[:, None] * special.ndtr(-a[i]) + ts[:, None] * special.ndtr(-b[i])
            row = _ref_inv(p, q)
        else:
            u = np.where(a[i] > 0, 0.5 - special.ndtr(-a[i]), special.ndtr(a[i]) - 0.5)
            v = np.where(b[i] > 0, 0.5 - special.ndtr(-b[i]), special.ndtr(b[i]) - 0.5)
            s = _ref_slerp_row(u, v, ts)
            row = _ref_inv(0.5 + s, 0.5 - s)
        row[ts == 0.0] = a[i]
        row[ts == 1.0] = b[i]
        out[i] = row
    return out


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 2e-6, "atol": 2e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}


def _check(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str) -> None:
    """``out`` matches the reference, relative to the size of the values."""
    ref = reference(a.double().cpu().numpy(), b.double().cpu().numpy(), t.double().cpu().numpy(), method)
    got = out.double().cpu().numpy()
    assert got.shape == ref.shape
    assert np.isfinite(got).all()
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    tol = _tol(a.dtype)
    np.testing.assert_allclose(got, ref, rtol=tol["rtol"], atol=tol["atol"] * scale)


def _pairs(dim: int, seed: int, dtype: torch.dtype, device: str, bsz: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(bsz, dim, generator=g, dtype=torch.float64)
    b = torch.randn(bsz, dim, generator=g, dtype=torch.float64) * 2.0
    return a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)


# --------------------------------------------------------------------------------------
# interpolation against the reference
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("method", METHODS)
def test_generic_rows_match_reference(method: str, dim: int, dtype: torch.dtype, device: str) -> None:
    a, b = _pairs(dim, 10 + dim, dtype, device)
    t = torch.tensor([TIMES], dtype=dtype, device=device)
    out = impl.interpolate_rows(a, b, t, method)
    assert out.dtype == dtype and out.device == a.device and out.is_contiguous()
    _check(out, a, b, t, method)
    # exact endpoints: bit-for-bit copies
    assert torch.equal(out[:, TIMES.index(0.0)], a)
    assert torch.equal(out[:, TIMES.index(1.0)], b)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", METHODS)
def test_per_row_times_match_reference(method: str, dtype: torch.dtype, device: str) -> None:
    a, b = _pairs(7, 3, dtype, device, bsz=5)
    g = torch.Generator().manual_seed(4)
    t = (torch.rand(5, 6, generator=g, dtype=torch.float64) * 2.0 - 0.5).to(device=device, dtype=dtype)
    t[0, 0], t[1, 1], t[2, 2] = 0.0, 1.0, 0.0
    out = impl.interpolate_rows(a, b, t, method)
    assert out.shape == (5, 6, 7)
    _check(out, a, b, t, method)
    assert torch.equal(out[0, 0], a[0]) and torch.equal(out[1, 1], b[1]) and torch.equal(out[2, 2], a[2])


def _mode_rows(dim: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows exercising every mode, with the mode the contract assigns to each."""
    rng = np.random.default_rng(dim)
    base = rng.standard_normal(dim) + np.linspace(0.1, 0.9, dim)  # distinct magnitudes
    perp = rng.standard_normal(dim)
    perp -= (perp @ base) / (base @ base) * base
    perp /= np.linalg.norm(perp)
    nb = np.linalg.norm(base)
    rows: list[tuple[np.ndarray, np.ndarray, str]] = [
        (base, rng.standard_normal(dim), "slerp"),
        (base, 2.0 * base, "lerp"),  # parallel
        (base, 2.0 * base + 1e-9 * nb * perp, "lerp"),  # angle 5e-10 < 1e-7
        (base, 2.0 * base + 1e-5 * 2 * nb * perp, "slerp"),  # angle 1e-5: small but slerp
        (base, -3.0 * base, "antipodal"),
        (base, -3.0 * base + 1e-8 * 3 * nb * perp, "antipodal"),  # within 1e-6 of pi
        (base, -3.0 * base + 1e-4 * 3 * nb * perp, "slerp"),  # 1e-4 from pi: slerp
        (np.zeros(dim), base, "lerp"),  # zero norms
        (base, np.zeros(dim), "lerp"),
        (np.zeros(dim), np.zeros(dim), "lerp"),
    ]
    if dim == 1:
        rows = [
            (np.array([1.5]), np.array([-2.0]), "lerp"),  # antipodal in 1-d
            (np.array([1.5]), np.array([4.0]), "lerp"),
            (np.array([0.0]), np.array([4.0]), "lerp"),
            (np.array([-1.5]), np.array([0.0]), "lerp"),
        ]
    a = np.stack([r[0] for r in rows])
    b = np.stack([r[1] for r in rows])
    return a, b, [r[2] for r in rows]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", (1, 3, 7, 129))
@pytest.mark.parametrize("method", METHODS)
def test_every_mode_matches_reference(method: str, dim: int, dtype: torch.dtype, device: str) -> None:
    a_np, b_np, modes = _mode_rows(dim)
    if dtype == torch.float64:
        assert [_ref_mode(x, y)[0] for x, y in zip(a_np, b_np)] == modes  # the rows test what they claim
    a = torch.tensor(a_np, dtype=dtype, device=device)
    b = torch.tensor(b_np, dtype=dtype, device=device)
    t = torch.tensor([TIMES], dtype=dtype, device=device)
    out = impl.interpolate_rows(a, b, t, method)
    _check(out, a, b, t, method)
    assert torch.equal(out[:, TIMES.index(0.0)], a) and torch.equal(out[:, TIMES.index(1.0)], b)


def test_modes_detected() -> None:
    a_np, b_np, modes = _mode_rows(7)
    geo = impl._geometry(torch.tensor(a_np), torch.tensor(b_np))
    got = ["lerp" if lp else "antipodal" if ap else "slerp" for lp, ap in zip(geo.lerp.tolist(), geo.antip.tolist())]
    assert got == modes
    assert torch.equal(geo.slerp, ~geo.lerp & ~geo.antip)


def test_antipodal_great_circle_is_the_contracts() -> None:
    """Midway, an antipodal pair sits on the Gram-Schmidt axis of the smallest |a_j|."""
    a = torch.tensor([[1.0, -0.5, 0.5, 2.0]], dtype=torch.float64)  # tie |a_1| = |a_2|: k = 1
    b = -3.0 * a
    out = impl.interpolate_rows(a, b, torch.tensor([[0.5, 0.25]], dtype=torch.float64), "slerp")
    ah = a[0] / a[0].norm()
    u = torch.zeros(4, dtype=torch.float64)
    u[1] = 1.0
    u = u - ah[1] * ah
    u = u / u.norm()
    r = 0.5 * a.norm() + 0.5 * b.norm()
    torch.testing.assert_close(out[0, 0], r * u, rtol=1e-12, atol=1e-12)
    assert abs(float(out[0, 0] @ ah)) < 1e-12  # orthogonal to a midway
    # the norm is interpolated linearly along the circle
    torch.testing.assert_close(out[0, 1].norm(), 0.75 * a.norm() + 0.25 * b.norm(), rtol=1e-12, atol=0)


def test_nearly_parallel_equals_lerp() -> None:
    a = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    b = 2.0 * a
    t = torch.tensor([[0.3, 0.8, 2.5]], dtype=torch.float64)
    slerp = impl.interpolate_rows(a, b, t, "slerp")
    lerp = impl.interpolate_rows(a, b, t, "lerp")
    assert torch.equal(slerp, lerp)
    torch.testing.assert_close(lerp[0, 2], (1 - 2.5) * a[0] + 2.5 * b[0], rtol=1e-15, atol=0)


def test_slerp_keeps_equal_norms_and_extrapolates_on_the_arc() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 33, generator=g, dtype=torch.float64)
    b = torch.randn(6, 33, generator=g, dtype=torch.float64)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    t = torch.tensor([[-0.7, 0.1, 0.5, 0.9, 1.6]], dtype=torch.float64)
    out = impl.interpolate_rows(a, b, t, "slerp")
    torch.testing.assert_close(out.norm(dim=2), a.norm(dim=1, keepdim=True).expand(6, 5), rtol=1e-12, atol=0)


def test_small_angles_are_accurate_in_float32() -> None:
    """The atan2 form keeps the angle at 1e-4 rad; acos(dot) in float32 would return 0."""
    a = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float32)
    b = torch.tensor([[math.cos(1e-4), math.sin(1e-4), 0.0]], dtype=torch.float32)
    geo = impl._geometry(a.double(), b.double())
    assert geo.slerp.item()
    assert abs(geo.omega.item() - 1e-4) < 1e-10


@pytest.mark.parametrize("method", METHODS)
def test_no_nan_for_extreme_inputs(method: str) -> None:
    a = torch.tensor([[40.0, -40.0, 0.0, 1e-300], [1e150, 0.0, 0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[-40.0, 40.0, 0.0, -1e-300], [0.0, 1e-150, 0.0, 0.0]], dtype=torch.float64)
    t = torch.tensor([[-20.0, 0.0, 0.5, 1.0, 30.0]], dtype=torch.float64)
    out = impl.interpolate_rows(a, b, t, method)
    assert torch.isfinite(out).all()
    _check(out, a, b, t, method)


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e150, 1e200])
def test_tiny_and_huge_rows_keep_their_angle(scale: float) -> None:
    """Norms come from power-of-two-scaled rows, so squares neither underflow nor overflow."""
    a = torch.tensor([[3.0, 4.0, 0.0], [1.0, 2.0, 2.0]], dtype=torch.float64) * scale
    b = torch.tensor([[0.0, 5.0, 0.0], [-1.0, -2.0, -2.0]], dtype=torch.float64) * scale
    t = torch.tensor([[0.0, 0.5, 1.0]], dtype=torch.float64)
    out = impl.interpolate_rows(a, b, t, "slerp")
    geo = impl._geometry(a, b)
    assert geo.slerp[0].item() and geo.antip[1].item()
    torch.testing.assert_close(geo.na, torch.tensor([5.0, 3.0], dtype=torch.float64) * scale, rtol=1e-15, atol=0)
    _check(out, a, b, t, "slerp")
    # midway between equal-norm a and b: norm 5 * scale, on the bisector
    torch.testing.assert_close((out[0, 1] / scale).norm(), torch.tensor(5.0, dtype=torch.float64), rtol=1e-13, atol=0)
    cos = impl.score(a, b, normalize=True)
    torch.testing.assert_close(cos, torch.tensor([[0.8, -11 / 15], [2 / 3, -1.0]], dtype=torch.float64), rtol=1e-14, atol=0)


@pytest.mark.parametrize("method", ["lerp_gaussian", "slerp_gaussian"])
def test_gaussian_tails_keep_their_precision(method: str) -> None:
    """Phi must come from erfc: 1 + erf(x / sqrt 2) (torch.special.ndtr) is 0 at x = -10."""
    a = torch.tensor([[-6.0, -9.0, -12.0, 6.0, 9.0, 12.0, -20.0, 20.0]], dtype=torch.float64)
    b = a * 1.1
    t = torch.tensor([[0.3, 0.7]], dtype=torch.float64)
    out = impl.interpolate_rows(a, b, t, method)
    _check(out, a, b, t, method)
    if method == "lerp_gaussian":
        # between a and 1.1 a elementwise, however far in the tail
        assert bool(((out.abs() > a.abs()) & (out.abs() < 1.1 * a.abs())).all())
    else:
        # Phi(a) - 1/2 is carried in [-1/2, 1/2]: |a| >~ 8.3 saturates to the clamp
        assert bool((out[..., [2, 5, 6, 7]].abs() == -float(special.ndtri(1e-300))).all())
        assert bool((out[..., [0, 3]].abs() < 7).all())


def test_lerp_gaussian_clamps_far_extrapolation() -> None:
    a = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    b = torch.tensor([[1.5, 2.0]], dtype=torch.float64)
    out = impl.interpolate_rows(a, b, torch.tensor([[-50.0, 50.0]], dtype=torch.float64), "lerp_gaussian")
    floor = float(special.ndtri(1e-300))
    # p = (1 - t) Phi(a) + t Phi(b) < 0 below the floor -> Phi^-1(1e-300); q < 0 above -> -that
    assert out[0, 0, 0].item() == pytest.approx(floor, rel=1e-12)
    assert out[0, 1, 0].item() == pytest.approx(-floor, rel=1e-12)


def test_empty_batch_and_zero_times() -> None:
    a = torch.empty(0, 5)
    out = impl.interpolate_rows(a, a.clone(), torch.tensor([[0.2, 0.4]]), "slerp")
    assert out.shape == (0, 2, 5)
    out = impl.interpolate_rows(torch.ones(2, 5), torch.ones(2, 5), torch.empty(1, 0), "slerp_gaussian")
    assert out.shape == (2, 0, 5)


def test_non_contiguous_inputs() -> None:
    g = torch.Generator().manual_seed(1)
    big_a = torch.randn(5, 20, generator=g, dtype=torch.float64)
    big_b = torch.randn(20, 5, generator=g, dtype=torch.float64)
    a, b = big_a[:, ::2], big_b.t()[:, 5:15]
    assert not a.is_contiguous() and not b.is_contiguous()
    t = torch.tensor([[0.0, 0.3, 1.0, 0.6]], dtype=torch.float64)[:, [0, 1, 2, 3]]
    for method in METHODS:
        out = impl.interpolate_rows(a, b, t, method)
        _check(out, a, b, t, method)
        # the same values as from contiguous copies (up to reduction order in the norms)
        same = impl.interpolate_rows(a.contiguous(), b.contiguous(), t, method)
        torch.testing.assert_close(out, same, rtol=1e-13, atol=1e-13)


def test_interpolate_rows_errors() -> None:
    a = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"method must be one of \['lerp', 'lerp_gaussian', 'slerp', 'slerp_gaussian'\], got 'cubic'"):
        impl.interpolate_rows(a, a, torch.zeros(1, 2), "cubic")
    with pytest.raises(ValueError, match=r"got a \(2, 3\), b \(2, 4\), t \(1, 2\)"):
        impl.interpolate_rows(a, torch.zeros(2, 4), torch.zeros(1, 2), "slerp")
    with pytest.raises(ValueError, match=r"t of shape \(1, T\) or \(B, T\), got a \(2, 3\), b \(2, 3\), t \(3, 2\)"):
        impl.interpolate_rows(a, a, torch.zeros(3, 2), "lerp")
    with pytest.raises(ValueError, match=r"got a \(3,\), b \(3,\), t \(2,\)"):
        impl.interpolate_rows(torch.zeros(3), torch.zeros(3), torch.zeros(2), "lerp")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", (1, 3, 129))
@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_the_native_core(method: str, dim: int, dtype: torch.dtype) -> None:
    """The CUDA fallback computes what the C++ kernels compute (here: the CPU build)."""
    ops = pytest.importorskip("latentatlas.ops")
    a_np, b_np, _ = _mode_rows(dim)
    g = torch.Generator().manual_seed(dim)
    a = torch.cat([torch.tensor(a_np), torch.randn(8, dim, generator=g, dtype=torch.float64) * 3]).to(dtype)
    b = torch.cat([torch.tensor(b_np), torch.randn(8, dim, generator=g, dtype=torch.float64) * 3]).to(dtype)
    t = torch.tensor([TIMES + (0.9999,)], dtype=dtype)
    native = ops.interpolate(a, b, t, method)
    mine = impl.interpolate_rows(a, b, t, method)
    assert native.shape == mine.shape and native.dtype == mine.dtype
    assert torch.equal(mine[:, TIMES.index(0.0)], native[:, TIMES.index(0.0)])
    assert torch.equal(mine[:, TIMES.index(1.0)], native[:, TIMES.index(1.0)])
    # Errors are measured against the size of the inputs and of the result: the native
    # core may use float arithmetic for well-conditioned float32 rows (a few float32 ulps
    # of the inputs, e.g. where (1 - t) a + t b cancels to ~0), and in float64 the
    # ill-conditioned spots (extrapolating an angle 1e-4 from pi; Gaussian tails near
    # p = 1e-8) differ by the conditioning of the formulas.
    rtol = 1e-6 if dtype == torch.float32 else 1e-9
    row = torch.maximum(a.abs().amax(dim=1), b.abs().amax(dim=1)).double()[:, None, None]
    tt = t.double()[:, :, None]
    bound = rtol * torch.maximum(row * (1 + 2 * tt.abs()), native.double().abs())
    err = (mine.double() - native.double()).abs()
    assert bool((err <= bound).all()), f"max error / bound {float((err / bound).max())}"
    z, vec = a, b[:5]
    alphas = torch.randn(3, 5, generator=g, dtype=torch.float64).to(dtype)
    torch.testing.assert_close(impl.offset(z, vec, alphas), ops.offset(z, vec, alphas), rtol=rtol, atol=rtol)
    for normalize in (False, True):
        torch.testing.assert_close(
            impl.score(z, vec, normalize), ops.score(z, vec, normalize=normalize), rtol=rtol, atol=rtol * 100 * dim
        )


# --------------------------------------------------------------------------------------
# offset and score
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", DIMS)
def test_offset_matches_reference(dim: int, dtype: torch.dtype, device: str) -> None:
    rng = np.random.default_rng(dim)
    z, vec, al = rng.standard_normal((6, dim)), rng.standard_normal((3, dim)), rng.standard_normal((4, 3))
    zt, vt, at = (torch.tensor(x, dtype=dtype, device=device) for x in (z, vec, al))
    out = impl.offset(zt, vt, at)
    assert out.shape == (6, 4, dim) and out.dtype == dtype and out.device == zt.device
    z64, v64, a64 = (x.double().cpu().numpy() for x in (zt, vt, at))
    ref = np.empty((6, 4, dim))
    for n in range(6):
        for j in range(4):
            ref[n, j] = z64[n] + sum(a64[j, k] * v64[k] for k in range(3))
    tol = _tol(dtype)
    np.testing.assert_allclose(out.double().cpu().numpy(), ref, rtol=tol["rtol"], atol=tol["atol"] * 10)


def test_offset_empty_and_errors() -> None:
    assert impl.offset(torch.zeros(0, 4), torch.zeros(2, 4), torch.zeros(3, 2)).shape == (0, 3, 4)
    assert torch.equal(impl.offset(torch.ones(2, 4), torch.zeros(0, 4), torch.zeros(3, 0)), torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"got \(2, 4\), \(2, 5\), \(3, 2\)"):
        impl.offset(torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"got \(2, 4\), \(2, 4\), \(3, 3\)"):
        impl.offset(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"got \(4,\), \(2, 4\), \(3, 2\)"):
        impl.offset(torch.zeros(4), torch.zeros(2, 4), torch.zeros(3, 2))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", DIMS)
def test_score_matches_reference(dim: int, dtype: torch.dtype, normalize: bool, device: str) -> None:
    rng = np.random.default_rng(dim + 1)
    z, vec = rng.standard_normal((7, dim)), rng.standard_normal((5, dim))
    z[2] = 0.0  # a zero row and a zero vector score 0 under normalize, never NaN
    vec[3] = 0.0
    zt, vt = (torch.tensor(x, dtype=dtype, device=device) for x in (z, vec))
    out = impl.score(zt, vt, normalize)
    assert out.shape == (7, 5) and out.dtype == dtype
    z64, v64 = (x.double().cpu().numpy() for x in (zt, vt))
    ref = np.empty((7, 5))
    for n in range(7):
        for k in range(5):
            dot = math.fsum(z64[n] * v64[k])
            if normalize:
                den = math.sqrt(math.fsum(z64[n] ** 2)) * math.sqrt(math.fsum(v64[k] ** 2))
                dot = dot / den if den > 0 else 0.0
            ref[n, k] = dot
    got = out.double().cpu().numpy()
    assert np.isfinite(got).all()
    tol = _tol(dtype)
    np.testing.assert_allclose(got, ref, rtol=tol["rtol"], atol=tol["atol"] * (1 if normalize else math.sqrt(dim)))
    if normalize:
        assert (got[2] == 0).all() and (got[:, 3] == 0).all()
        assert (np.abs(got) <= 1 + 1e-6).all()


def test_score_errors() -> None:
    with pytest.raises(ValueError, match=r"same D, got \(3, 4\) and \(2, 5\)"):
        impl.score(torch.zeros(3, 4), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"same D, got \(4,\) and \(2, 4\)"):
        impl.score(torch.zeros(4), torch.zeros(2, 4))
