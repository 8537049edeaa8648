"""Independent float64 references for the core ops, written from the contract in
DESIGN.md with plain numpy and per-row Python loops (clarity over speed)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

PARALLEL_TOL = 1e-7
ANTIPODAL_TOL = 1e-6
MIN_PROB = 1e-300
_N = NormalDist()


def _times(t: np.ndarray, B: int) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 0:
        return np.full((B, 1), float(t))
    if t.ndim == 1:
        return np.broadcast_to(t, (B, t.shape[0]))
    return np.broadcast_to(t, (B, t.shape[1]))


def _row_path(a: np.ndarray, b: np.ndarray, ts: np.ndarray, spherical: bool) -> np.ndarray:
    D = a.shape[0]
    out = np.empty((ts.shape[0], D))
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    mode = "lerp"
    if spherical and na > 0 and nb > 0:
        ah, bh = a / na, b / nb
        omega = 2.0 * math.atan2(np.linalg.norm(ah - bh), np.linalg.norm(ah + bh))
        if omega < PARALLEL_TOL:
            mode = "lerp"
        elif math.pi - omega < ANTIPODAL_TOL:
            mode = "antipodal" if D > 1 else "lerp"
        else:
            mode = "slerp"
    for i, t in enumerate(ts):
        if t == 0.0:
            out[i] = a
        elif t == 1.0:
            out[i] = b
        elif mode == "lerp":
            out[i] = (1 - t) * a + t * b
        elif mode == "slerp":
            out[i] = (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
        else:
            k = int(np.argmin(np.abs(ah)))
            u = -ah[k] * ah
            u[k] += 1.0
            u /= np.linalg.norm(u)
            r = (1 - t) * na + t * nb
            out[i] = r * (math.cos(math.pi * t) * ah + math.sin(math.pi * t) * u)
    return out


def _cdf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2.0)))(x)


def _ppf_split(lower: float, upper: float) -> float:
    if lower <= 0.5:
        return _N.inv_cdf(max(lower, MIN_PROB))
    return -_N.inv_cdf(max(upper, MIN_PROB))


def interpolate(a, b, t, method: str) -> np.ndarray:
    """Reference interpolation with the public shapes: a, b (D,) or (B, D)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t_arr = np.asarray(t, dtype=np.float64)
    vector = a.ndim == 1
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    B, D = a2.shape
    ts = _times(t_arr, B)
    out = np.empty((B, ts.shape[1], D))
    for i in range(B):
        if method in ("lerp", "slerp"):
            out[i] = _row_path(a2[i], b2[i], ts[i], method == "slerp")
        elif method == "slerp_gaussian":
            u = np.vectorize(lambda v: 0.5 * math.erf(v / math.sqrt(2.0)))(a2[i])
            v = np.vectorize(lambda v: 0.5 * math.erf(v / math.sqrt(2.0)))(b2[i])
            s = _row_path(u, v, ts[i], True)
            for j, tj in enumerate(ts[i]):
                if tj == 0.0:
                    out[i, j] = a2[i]
                elif tj == 1.0:
                    out[i, j] = b2[i]
                else:
                    out[i, j] = [_ppf_split(0.5 + x, 0.5 - x) for x in s[j]]
        elif method == "lerp_gaussian":
            pa, pb = _cdf(a2[i]), _cdf(b2[i])
            qa, qb = _cdf(-a2[i]), _cdf(-b2[i])
            for j, tj in enumerate(ts[i]):
                if tj == 0.0:
                    out[i, j] = a2[i]
                elif tj == 1.0:
                    out[i, j] = b2[i]
                else:
                    lo = (1 - tj) * pa + tj * pb
                    up = (1 - tj) * qa + tj * qb
                    out[i, j] = [_ppf_split(x, y) for x, y in zip(lo, up)]
        else:
            raise ValueError(method)
    if t_arr.ndim == 0:
        return out[:, 0, :][0] if vector else out[:, 0, :]
    return out[0] if vector else out


def offset(z, vectors, alphas) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    V = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    al = np.asarray(alphas, dtype=np.float64)
    if al.ndim == 1:
        al = al[:, None]
    delta = al @ V
    return z[..., None, :] + delta


def score(z, vectors, normalize: bool = False) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    V = np.asarray(vectors, dtype=np.float64)
    s = z @ V.T
    if normalize:
        nz = np.linalg.norm(z, axis=-1)
        nv = np.linalg.norm(V, axis=-1)
        den = np.multiply.outer(nz, nv)
        s = np.where(den > 0, s / np.where(den > 0, den, 1.0), 0.0)
    return s
