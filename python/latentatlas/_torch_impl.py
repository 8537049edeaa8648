"""Pure-torch implementations of the core ops and of their gradients.

These run on any device torch supports and need no native extension. They serve two
purposes:

1. the fallback for CUDA tensors when the ``_cuda`` extension was not built (``ops.py``
   calls :func:`interpolate_rows`, :func:`offset` and :func:`score` on the normalised
   shapes), and
2. the analytic backward formulas used by the ``torch.library`` registrations in
   ``torch_ops.py`` (:func:`interpolate_rows_backward`, :func:`offset_backward`,
   :func:`score_backward`).

The math follows the contract of the C++ core exactly: every quantity is computed in
float64 and the result rounded once to the data dtype. Per row the interpolation mode is
decided as in ``csrc/kernels``: LERP when either vector has zero norm or the angle is below
``OMEGA_PARALLEL``; ANTIPODAL (a deterministic great circle) when ``pi - omega`` is below
``OMEGA_ANTIPODAL`` and ``D > 1``; LERP for antipodal rows in one dimension; SLERP
otherwise. ``t == 0`` and ``t == 1`` return exact copies of ``a`` and ``b``.

Everything here is written with tensor ops only (no data-dependent Python branching, no
``.item()``), so the backward formulas trace under ``torch.compile`` and run on CUDA.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ._contract import METHOD_NAMES as METHODS
from ._contract import OMEGA_ANTIPODAL, OMEGA_PARALLEL, P_FLOOR, method_name

__all__ = [
    "METHODS",
    "OMEGA_PARALLEL",
    "OMEGA_ANTIPODAL",
    "P_FLOOR",
    "interpolate_rows",
    "interpolate_rows_backward",
    "offset",
    "offset_backward",
    "score",
    "score_backward",
]


_F64 = torch.float64
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT2 = math.sqrt(0.5)


# --------------------------------------------------------------------------------------
# slerp geometry
# --------------------------------------------------------------------------------------


class _Geometry(NamedTuple):
    na: torch.Tensor  # (B,) norms of a
    nb: torch.Tensor  # (B,) norms of b
    ah: torch.Tensor  # (B, D) a / |a| (0 where |a| == 0)
    bh: torch.Tensor  # (B, D)
    omega: torch.Tensor  # (B,) angle between the directions
    lerp: torch.Tensor  # (B,) bool: LERP rows
    antip: torch.Tensor  # (B,) bool: ANTIPODAL rows
    slerp: torch.Tensor  # (B,) bool: SLERP rows
    u: torch.Tensor  # (B, D) the antipodal great circle's second axis (0 on other rows)
    k: torch.Tensor  # (B,) index of the basis vector it came from
    ahk: torch.Tensor  # (B,) ah[k]
    m: torch.Tensor  # (B,) sqrt(1 - ah[k]^2) (1 on non-antipodal rows)


def _row_scale(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of float64 ``x`` (B, D) scaled by powers of two into max |x_j| in [1/2, 1).

    Returns ``(scaled, e)`` with ``x = scaled * 2**e`` exactly, so sums of squares of the
    scaled rows neither overflow nor underflow (as in the C++ core). Zero rows stay zero.
    """
    if x.shape[1] == 0:
        return x, torch.zeros(x.shape[0], dtype=torch.int32, device=x.device)
    m = x.abs().amax(dim=1)
    e = torch.frexp(m).exponent  # m = mantissa * 2**e, mantissa in [1/2, 1); e = 0 for m = 0
    h = -e // 2  # two factors: 2**1074 alone would overflow for subnormal rows
    two = torch.tensor(2.0, dtype=x.dtype, device=x.device)
    f1 = torch.pow(two, h.to(x.dtype)).unsqueeze(1)
    f2 = torch.pow(two, (-e - h).to(x.dtype)).unsqueeze(1)
    return x * f1 * f2, e


def _unit_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Norms (B,) and directions (B, D) of float64 rows, without overflow or underflow."""
    xs, e = _row_scale(x)
    ns = torch.linalg.vector_norm(xs, dim=1)
    unit = xs / torch.where(ns > 0, ns, 1.0).unsqueeze(1)
    return torch.ldexp(ns, e.to(ns.dtype)), unit


def _geometry(a: torch.Tensor, b: torch.Tensor) -> _Geometry:
    """Per-row norms, directions, angle and mode of float64 rows ``a``, ``b`` (B, D)."""
    bsz, dim = a.shape
    na, ah = _unit_rows(a)
    nb, bh = _unit_rows(b)
    # zero rows have zero directions; tiny rows whose norm underflows still have one
    nonzero_a = (a != 0).any(dim=1) if dim else torch.zeros_like(na, dtype=torch.bool)
    nonzero_b = (b != 0).any(dim=1) if dim else torch.zeros_like(nb, dtype=torch.bool)
    half_chord = torch.linalg.vector_norm(ah - bh, dim=1)
    half_sum = torch.linalg.vector_norm(ah + bh, dim=1)
    omega = 2.0 * torch.atan2(half_chord, half_sum)
    delta = 2.0 * torch.atan2(half_sum, half_chord)  # pi - omega without cancellation
    lerp = ~nonzero_a | ~nonzero_b | (omega < OMEGA_PARALLEL)
    antip = ~lerp & (delta < OMEGA_ANTIPODAL)
    if dim <= 1:
        # No vector orthogonal to a exists in one dimension: antipodal rows are lerped.
        lerp = lerp | antip
        antip = torch.zeros_like(antip)
    slerp = ~lerp & ~antip
    if dim >= 1:
        k = torch.argmin(ah.abs(), dim=1)  # first index on ties
    else:
        k = torch.zeros(bsz, dtype=torch.long, device=a.device)
    onehot = (torch.arange(dim, device=a.device).unsqueeze(0) == k.unsqueeze(1)).to(a.dtype)
    ahk = (ah * onehot).sum(dim=1)
    m = torch.where(antip, torch.sqrt(torch.clamp(1.0 - ahk * ahk, min=0.0)), 1.0)
    u = (onehot - ahk.unsqueeze(1) * ah) / m.unsqueeze(1)
    u = torch.where(antip.unsqueeze(1), u, 0.0)
    return _Geometry(na, nb, ah, bh, omega, lerp, antip, slerp, u, k, ahk, m)


def _coefficients(geo: _Geometry, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(c1, c2, c3)`` of shape (B, T) with ``out = c1*a + c2*b + c3*u`` (smooth form)."""
    omega = geo.omega.unsqueeze(1)
    # LERP
    l1, l2 = 1.0 - t, t
    # SLERP (denominator made safe on the other rows)
    sinw = torch.where(geo.slerp, torch.sin(geo.omega), 1.0).unsqueeze(1)
    s1 = torch.sin((1.0 - t) * omega) / sinw
    s2 = torch.sin(t * omega) / sinw
    # ANTIPODAL: r * (cos(pi t) * a / |a| + sin(pi t) * u)
    na = geo.na.unsqueeze(1)
    r = (1.0 - t) * na + t * geo.nb.unsqueeze(1)
    safe_na = torch.where(geo.antip.unsqueeze(1), na, 1.0)
    p1 = r * torch.cos(math.pi * t) / safe_na
    p3 = r * torch.sin(math.pi * t)
    lerp = geo.lerp.unsqueeze(1)
    antip = geo.antip.unsqueeze(1)
    zero = torch.zeros_like(t)
    c1 = torch.where(lerp, l1, torch.where(antip, p1, s1))
    c2 = torch.where(lerp, l2, torch.where(antip, zero, s2))
    c3 = torch.where(antip, p3, zero)
    return c1, c2, c3


def _slerp_smooth(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, geo: _Geometry) -> torch.Tensor:
    """The float64 (B, T, D) slerp by the smooth formulas (no endpoint substitution)."""
    c1, c2, c3 = _coefficients(geo, t)
    return (
        c1.unsqueeze(2) * a.unsqueeze(1)
        + c2.unsqueeze(2) * b.unsqueeze(1)
        + c3.unsqueeze(2) * geo.u.unsqueeze(1)
    )


def _slerp_backward(
    a: torch.Tensor,
    b: torch.Tensor,
    t: torch.Tensor,
    geo: _Geometry,
    g: torch.Tensor,
    keep: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (B, D), (B, D), (B, T) of the smooth slerp w.r.t. a, b, t (float64).

    ``t`` is (B, T) (already broadcast), ``g`` the (B, T, D) output gradient and ``keep``
    a (B, T) float mask of the elements whose a/b gradients are wanted (the caller handles
    the exact endpoints); the t gradient uses every element.
    """
    c1, c2, _ = _coefficients(geo, t)
    ga_dot = torch.einsum("btd,bd->bt", g, a)  # <g, a>
    gb_dot = torch.einsum("btd,bd->bt", g, b)  # <g, b>
    x1 = torch.einsum("bt,btd->bd", c1 * keep, g)
    x2 = torch.einsum("bt,btd->bd", c2 * keep, g)

    # ---- LERP: out = (1 - t) a + t b
    lerp_ga, lerp_gb, lerp_gt = x1, x2, gb_dot - ga_dot

    # ---- SLERP: out = ca(omega, t) a + cb(omega, t) b
    omega = geo.omega.unsqueeze(1)
    sinw_r = torch.where(geo.slerp, torch.sin(geo.omega), 1.0)
    cosw_r = torch.cos(geo.omega)
    sinw, cosw = sinw_r.unsqueeze(1), cosw_r.unsqueeze(1)
    al = 1.0 - t
    dca_dw = (al * torch.cos(al * omega) * sinw - torch.sin(al * omega) * cosw) / (sinw * sinw)
    dcb_dw = (t * torch.cos(t * omega) * sinw - torch.sin(t * omega) * cosw) / (sinw * sinw)
    dca_dt = -omega * torch.cos(al * omega) / sinw
    dcb_dt = omega * torch.cos(t * omega) / sinw
    g_omega = (keep * (dca_dw * ga_dot + dcb_dw * gb_dot)).sum(dim=1)  # (B,)
    safe_na = torch.where(geo.slerp, geo.na, 1.0)
    safe_nb = torch.where(geo.slerp, geo.nb, 1.0)
    dw_da = -(geo.bh - cosw * geo.ah) / (safe_na * sinw_r).unsqueeze(1)
    dw_db = -(geo.ah - cosw * geo.bh) / (safe_nb * sinw_r).unsqueeze(1)
    slerp_ga = x1 + g_omega.unsqueeze(1) * dw_da
    slerp_gb = x2 + g_omega.unsqueeze(1) * dw_db
    slerp_gt = dca_dt * ga_dot + dcb_dt * gb_dot

    # ---- ANTIPODAL: out = r (cos(pi t) ah + sin(pi t) u(ah)), r = (1 - t)|a| + t|b|,
    # with k (the basis vector u comes from) held fixed.
    antip = geo.antip
    na_safe = torch.where(antip, geo.na, 1.0)
    r = (1.0 - t) * geo.na.unsqueeze(1) + t * geo.nb.unsqueeze(1)
    cpi, spi = torch.cos(math.pi * t), torch.sin(math.pi * t)
    g_ah = ga_dot / na_safe.unsqueeze(1)  # <g, ah>
    g_u = torch.einsum("btd,bd->bt", g, geo.u)  # <g, u>
    w = cpi * g_ah + spi * g_u  # <g, direction>: the gradient w.r.t. r
    v = torch.einsum("bt,btd->bd", r * spi * keep, g)  # gradient w.r.t. u
    # J_u^T v with u = (e_k - ah_k ah) / m, m = sqrt(1 - ah_k^2):
    #   (J^T v)_j = -(ah_k / m) v_j + [j == k] (-<v, ah> / m + ah_k <v, u> / m^2)
    m = geo.m
    v_ah = (v * geo.ah).sum(dim=1)
    v_u = (v * geo.u).sum(dim=1)
    onehot = (
        torch.arange(a.shape[1], device=a.device).unsqueeze(0) == geo.k.unsqueeze(1)
    ).to(a.dtype)
    jtv = -(geo.ahk / m).unsqueeze(1) * v + onehot * (
        -v_ah / m + geo.ahk * v_u / (m * m)
    ).unsqueeze(1)
    g_dir = torch.einsum("bt,btd->bd", r * cpi * keep, g) + jtv  # gradient w.r.t. ah
    proj = g_dir - (g_dir * geo.ah).sum(dim=1, keepdim=True) * geo.ah  # through a / |a|
    g_na = ((1.0 - t) * w * keep).sum(dim=1, keepdim=True)
    g_nb = (t * w * keep).sum(dim=1, keepdim=True)
    antip_ga = g_na * geo.ah + proj / na_safe.unsqueeze(1)
    antip_gb = g_nb * geo.bh
    antip_gt = w * (geo.nb - geo.na).unsqueeze(1) + r * math.pi * (-spi * g_ah + cpi * g_u)

    lerp_r, antip_r = geo.lerp.unsqueeze(1), antip.unsqueeze(1)
    ga = torch.where(lerp_r, lerp_ga, torch.where(antip_r, antip_ga, slerp_ga))
    gb = torch.where(lerp_r, lerp_gb, torch.where(antip_r, antip_gb, slerp_gb))
    gt = torch.where(lerp_r, lerp_gt, torch.where(antip_r, antip_gt, slerp_gt))
    return ga, gb, gt


# --------------------------------------------------------------------------------------
# Gaussian helpers
# --------------------------------------------------------------------------------------


def _cdf(x: torch.Tensor) -> torch.Tensor:
    """``Phi(x)`` accurate in the lower tail.

    ``torch.special.ndtr`` is not: it forms ``1 + erf(x / sqrt 2)`` and returns 0 already
    at x = -10 (and ~1e-10 relative error at x = -5) in float64; erfc keeps the precision.
    """
    return 0.5 * torch.special.erfc(-x * _INV_SQRT2)


def _centered_cdf(x: torch.Tensor) -> torch.Tensor:
    """``Phi(x) - 1/2`` without the cancellation of forming ``Phi(x)`` first; odd in x."""
    return 0.5 * torch.special.erf(x * _INV_SQRT2)


def _pdf(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * x * x) / _SQRT_2PI


def _ndtri_floor(p: torch.Tensor) -> torch.Tensor:
    return torch.special.ndtri(torch.clamp(p, min=P_FLOOR))


def _lerp_gaussian_parts(
    a: torch.Tensor, b: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Smooth (B, T, D) lerp_gaussian output, the clamp mask, and the branch mask."""
    tt = t.unsqueeze(2)
    a3, b3 = a.unsqueeze(1), b.unsqueeze(1)
    p = (1.0 - tt) * _cdf(a3) + tt * _cdf(b3)
    q = (1.0 - tt) * _cdf(-a3) + tt * _cdf(-b3)
    low = p <= 0.5
    out = torch.where(low, _ndtri_floor(p), -_ndtri_floor(q))
    clamped = torch.where(low, p < P_FLOOR, q < P_FLOOR)
    return out, clamped, low


def _slerp_gaussian_parts(
    a: torch.Tensor, b: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, _Geometry]:
    """Smooth (B, T, D) slerp_gaussian output, clamp mask, the centred CDFs and geometry."""
    u, v = _centered_cdf(a), _centered_cdf(b)
    geo = _geometry(u, v)
    s = _slerp_smooth(u, v, t, geo)
    low = s <= 0
    out = torch.where(low, _ndtri_floor(0.5 + s), -_ndtri_floor(0.5 - s))
    clamped = torch.where(low, 0.5 + s < P_FLOOR, 0.5 - s < P_FLOOR)
    return out, clamped, u, v, geo


# --------------------------------------------------------------------------------------
# public (to ops.py / torch_ops.py) entry points
# --------------------------------------------------------------------------------------


def interpolate_rows(
    a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str = "slerp"
) -> torch.Tensor:
    """Interpolate rows ``a``, ``b`` of shape (B, D) at times ``t`` (Bt, T), Bt in {1, B}.

    Returns a (B, T, D) tensor of ``a``'s dtype and device, computed in float64: ``slerp``
    and ``lerp`` per the core contract, ``lerp_gaussian`` / ``slerp_gaussian`` in
    Gaussian-CDF space. ``t == 0`` gives exactly ``a`` and ``t == 1`` exactly ``b``.
    Inputs are assumed validated (finite, matching shapes) by the caller.

    Raises:
        ValueError: for an unknown ``method`` or shapes that are not (B, D), (B, D), (Bt, T).
    """
    method = method_name(method)
    if a.dim() != 2 or a.shape != b.shape or t.dim() != 2 or t.shape[0] not in (1, a.shape[0]):
        raise ValueError(
            "interpolate_rows needs a, b of shape (B, D) and t of shape (1, T) or (B, T), "
            f"got a {tuple(a.shape)}, b {tuple(b.shape)}, t {tuple(t.shape)}"
        )
    bsz, dim = a.shape
    a64, b64 = a.to(_F64), b.to(_F64)
    t64 = t.to(device=a.device, dtype=_F64).expand(bsz, t.shape[1])
    if method == "lerp":
        tt = t64.unsqueeze(2)
        out = (1.0 - tt) * a64.unsqueeze(1) + tt * b64.unsqueeze(1)
    elif method == "slerp":
        out = _slerp_smooth(a64, b64, t64, _geometry(a64, b64))
    elif method == "lerp_gaussian":
        out = _lerp_gaussian_parts(a64, b64, t64)[0]
    else:
        out = _slerp_gaussian_parts(a64, b64, t64)[0]
    out = out.to(a.dtype)
    tt = t64.unsqueeze(2)
    out = torch.where(tt == 0, a.unsqueeze(1), out)
    out = torch.where(tt == 1, b.unsqueeze(1), out)
    return out.contiguous()


def interpolate_rows_backward(
    grad: torch.Tensor, a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of :func:`interpolate_rows` w.r.t. ``a`` (B, D), ``b`` (B, D), ``t`` (Bt, T).

    ``grad`` is the (B, T, D) output gradient. Where ``t == 0`` the output is ``a`` itself
    and where ``t == 1`` it is ``b``, so there the gradients w.r.t. ``a`` and ``b`` are
    exactly the identity and zero; the gradient w.r.t. ``t`` is the smooth formula's
    everywhere. Elements whose probability was clamped by the Gaussian variants get zero
    gradient. Computed in float64, returned in the dtypes of the inputs.
    """
    method = method_name(method)
    bsz = a.shape[0]
    a64, b64, g = a.to(_F64), b.to(_F64), grad.to(_F64)
    t64 = t.to(device=a.device, dtype=_F64).expand(bsz, t.shape[1])
    end0 = (t64 == 0).to(_F64)
    end1 = (t64 == 1).to(_F64)
    keep = 1.0 - end0 - end1
    if method == "lerp":
        ga = torch.einsum("bt,btd->bd", (1.0 - t64) * keep, g)
        gb = torch.einsum("bt,btd->bd", t64 * keep, g)
        gt = torch.einsum("btd,bd->bt", g, b64 - a64)
    elif method == "slerp":
        ga, gb, gt = _slerp_backward(a64, b64, t64, _geometry(a64, b64), g, keep)
    elif method == "lerp_gaussian":
        out, clamped, low = _lerp_gaussian_parts(a64, b64, t64)
        gs = torch.where(clamped, 0.0, g / _pdf(out))  # d out / d p = 1 / phi(out)
        ga = torch.einsum("bt,btd->bd", (1.0 - t64) * keep, gs) * _pdf(a64)
        gb = torch.einsum("bt,btd->bd", t64 * keep, gs) * _pdf(b64)
        # dp/dt = Phi(b) - Phi(a) = Phi(-a) - Phi(-b); use the accurate side per branch.
        dp_dt = torch.where(
            low,
            (_cdf(b64) - _cdf(a64)).unsqueeze(1),
            (_cdf(-a64) - _cdf(-b64)).unsqueeze(1),
        )
        gt = (gs * dp_dt).sum(dim=2)
    else:
        out, clamped, u, v, geo = _slerp_gaussian_parts(a64, b64, t64)
        gs = torch.where(clamped, 0.0, g / _pdf(out))  # d out / d s = 1 / phi(out)
        gu, gv, gt = _slerp_backward(u, v, t64, geo, gs, keep)
        ga, gb = gu * _pdf(a64), gv * _pdf(b64)  # d u / d a = phi(a)
    ga = ga + torch.einsum("bt,btd->bd", end0, g)
    gb = gb + torch.einsum("bt,btd->bd", end1, g)
    if t.shape[0] != bsz:
        gt = gt.sum(dim=0, keepdim=True)
    return ga.to(a.dtype), gb.to(b.dtype), gt.to(t.dtype)


def offset(z: torch.Tensor, vectors: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """``out[n, a] = z[n] + sum_k alphas[a, k] * vectors[k]`` for z (N, D) -> (N, A, D).

    ``vectors`` is (K, D) and ``alphas`` (A, K); the sum is taken in float64 and the
    result has ``z``'s dtype and device.

    Raises:
        ValueError: when the shapes do not fit.
    """
    if z.dim() != 2 or vectors.dim() != 2 or alphas.dim() != 2:
        raise ValueError(
            "offset needs z (N, D), vectors (K, D), alphas (A, K), got "
            f"{tuple(z.shape)}, {tuple(vectors.shape)}, {tuple(alphas.shape)}"
        )
    if vectors.shape[1] != z.shape[1] or alphas.shape[1] != vectors.shape[0]:
        raise ValueError(
            "offset needs z (N, D), vectors (K, D), alphas (A, K), got "
            f"{tuple(z.shape)}, {tuple(vectors.shape)}, {tuple(alphas.shape)}"
        )
    delta = alphas.to(_F64) @ vectors.to(_F64)  # (A, D)
    out = z.to(_F64).unsqueeze(1) + delta.unsqueeze(0)
    return out.to(z.dtype).contiguous()


def offset_backward(
    grad: torch.Tensor, z: torch.Tensor, vectors: torch.Tensor, alphas: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of :func:`offset` w.r.t. z (N, D), vectors (K, D), alphas (A, K)."""
    g = grad.to(_F64)
    gsum = g.sum(dim=0)  # (A, D): sum over n
    gz = g.sum(dim=1)
    gv = alphas.to(_F64).transpose(0, 1) @ gsum
    gal = gsum @ vectors.to(_F64).transpose(0, 1)
    return gz.to(z.dtype), gv.to(vectors.dtype), gal.to(alphas.dtype)


def score(z: torch.Tensor, vectors: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """Dot products (N, K) of rows of z (N, D) with vectors (K, D), in float64.

    With ``normalize=True`` the cosine similarity; a zero-norm row or vector scores 0.

    Raises:
        ValueError: when the shapes do not fit.
    """
    if z.dim() != 2 or vectors.dim() != 2 or z.shape[1] != vectors.shape[1]:
        raise ValueError(
            "score needs z (N, D) and vectors (K, D) with the same D, got "
            f"{tuple(z.shape)} and {tuple(vectors.shape)}"
        )
    z64, v64 = z.to(_F64), vectors.to(_F64)
    if not normalize:
        return (z64 @ v64.transpose(0, 1)).to(z.dtype).contiguous()
    # cosine of the directions (rows scaled by powers of two first, so tiny or huge rows
    # keep theirs), clamped to [-1, 1] like the C++ core; a zero row or vector scores 0
    _, zh = _unit_rows(z64)
    _, vh = _unit_rows(v64)
    nonzero = (z64 != 0).any(dim=1).unsqueeze(1) & (v64 != 0).any(dim=1).unsqueeze(0)
    out = torch.where(nonzero, torch.clamp(zh @ vh.transpose(0, 1), -1.0, 1.0), 0.0)
    return out.to(z.dtype).contiguous()


def score_backward(
    grad: torch.Tensor, z: torch.Tensor, vectors: torch.Tensor, normalize: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of :func:`score` w.r.t. z (N, D) and vectors (K, D).

    For ``normalize=True`` a zero-norm row or vector (where the cosine is defined as 0)
    gets zero gradient.
    """
    g = grad.to(_F64)
    z64, v64 = z.to(_F64), vectors.to(_F64)
    if not normalize:
        gz = g @ v64
        gv = g.transpose(0, 1) @ z64
    else:
        nz, zh = _unit_rows(z64)  # zero rows: norm 0, direction 0
        nv, vh = _unit_rows(v64)
        nz, nv = nz.unsqueeze(1), nv.unsqueeze(1)
        g_zh = g @ vh  # (N, D)
        g_vh = g.transpose(0, 1) @ zh  # (K, D)
        gz = (g_zh - (g_zh * zh).sum(dim=1, keepdim=True) * zh) / torch.where(nz > 0, nz, 1.0)
        gv = (g_vh - (g_vh * vh).sum(dim=1, keepdim=True) * vh) / torch.where(nv > 0, nv, 1.0)
        gz = torch.where(nz > 0, gz, 0.0)
        gv = torch.where(nv > 0, gv, 0.0)
    return gz.to(z.dtype), gv.to(vectors.dtype)
