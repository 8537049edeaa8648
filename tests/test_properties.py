"""Property tests of the interpolation ops (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import latentatlas as la

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False, width=64)
dims = st.integers(min_value=1, max_value=40)


@st.composite
def pair(draw, dtype=np.float64):
    D = draw(dims)
    B = draw(st.integers(min_value=1, max_value=4))
    a = draw(arrays(dtype, (B, D), elements=finite))
    b = draw(arrays(dtype, (B, D), elements=finite))
    return a, b


@settings(max_examples=60, deadline=None)
@given(pair(), st.sampled_from(["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"]))
def test_endpoints_are_exact_and_nothing_is_nan(ab, method):
    a, b = ab
    out = la.interpolate(a, b, [0.0, 0.37, 1.0, -0.5, 1.5], method)
    np.testing.assert_array_equal(out[:, 0], a)
    np.testing.assert_array_equal(out[:, 2], b)
    assert np.isfinite(out).all()


@settings(max_examples=60, deadline=None)
@given(pair(), st.floats(min_value=0.0, max_value=1.0))
@example((np.array([[0.0], [1.0]]), np.array([[0.0], [-1.0]])), 0.5)  # found by CI: 1-D opposite pair
def test_slerp_between_equal_norm_vectors_keeps_the_norm(ab, t):
    a, b = ab
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    ok = (na[:, 0] > 1e-6) & (nb[:, 0] > 1e-6)
    if a.shape[1] == 1:  # opposite 1-D vectors have no great circle: the contract says lerp
        ok &= (a[:, 0] * b[:, 0]) > 0
    b = np.where(ok[:, None], b / np.where(nb > 0, nb, 1.0) * na, b)
    out = la.slerp(a, b, t)
    cos = (a * b).sum(1) / np.maximum(na[:, 0] * na[:, 0], 1e-300)
    # Away from the antipodal fallback (whose norm is interpolated linearly it is the
    # same norm here anyway) every point of the arc has the endpoints' norm.
    np.testing.assert_allclose(np.linalg.norm(out, axis=1)[ok], na[ok, 0], rtol=1e-9, atol=1e-9)
    assert np.isfinite(cos).all()


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(2, 30), elements=st.floats(0.5, 10.0)),
       arrays(np.float64, 30, elements=st.floats(-1.0, 1.0)),
       st.floats(min_value=1e-9, max_value=1e-3),
       st.floats(min_value=-0.5, max_value=1.5))
def test_slerp_approaches_lerp_as_the_angle_vanishes(a, direction, eps, t):
    d = direction[: a.shape[0]]
    b = a * 1.3 + eps * np.linalg.norm(a) * d
    s = la.slerp(a, b, t)
    lo = la.lerp(a, b, t)
    # The difference is O(omega^2) relative to the norms.
    omega_bound = 4 * eps * np.linalg.norm(d) + 1e-15
    assert np.abs(s - lo).max() <= (omega_bound ** 2 + 1e-13) * 4 * np.linalg.norm(a)


@settings(max_examples=40, deadline=None)
@given(pair(np.float32), st.floats(min_value=-1.0, max_value=2.0, width=32))
def test_float32_agrees_with_float64(ab, t):
    a, b = ab
    lo = la.slerp(a, b, t)
    hi = la.slerp(a.astype(np.float64), b.astype(np.float64), t)
    scale = np.maximum(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))[:, None] + 1e-30
    assert (np.abs(lo - hi) / scale <= 3e-5).all()
