"""The core ops against the float64 references of tests/reference.py: every method, both
dtypes, odd sizes, every shape form of t, empty batches, strided inputs and outputs, and
the edge cases of the contract."""

from __future__ import annotations

import math
import os
import shutil
import threading

import numpy as np
import pytest

import latentatlas as la
import reference as ref
from devices import METHODS

DIMS = [1, 3, 7, 97, 129, 512]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def pairs(B: int, D: int, dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, D)).astype(dtype), rng.standard_normal((B, D)).astype(dtype)


def t_forms(B: int) -> list:
    rng = np.random.default_rng(1)
    return [
        0.3,
        np.array([0.0, 0.25, 0.5, 1.0]),
        rng.uniform(-0.5, 1.5, size=(B, 3)),
    ]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("D", DIMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_interpolation_matches_reference(method, D, dtype):
    a, b = pairs(3, D, dtype, seed=D)
    for t in t_forms(3):
        got = la.interpolate(a, b, t, method)
        want = ref.interpolate(a, b, np.asarray(t, dtype=dtype), method)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_single_vector_shapes(method, dtype):
    a, b = pairs(1, 9, dtype)
    a, b = a[0], b[0]
    got = la.interpolate(a, b, 0.7, method)
    assert got.shape == (9,)
    np.testing.assert_allclose(got, ref.interpolate(a, b, dtype(0.7), method), **TOL[dtype])
    got = la.interpolate(a, b, [0.1, 0.9], method)
    assert got.shape == (2, 9)
    np.testing.assert_allclose(got, ref.interpolate(a, b, np.array([0.1, 0.9], dtype), method), **TOL[dtype])


def test_named_ops_equal_interpolate():
    a, b = pairs(4, 16, np.float32)
    for name in METHODS:
        fn = getattr(la, name)
        np.testing.assert_array_equal(fn(a, b, [0.2, 0.6]), la.interpolate(a, b, [0.2, 0.6], name))
    np.testing.assert_array_equal(la.interpolate(a, b, 0.4, "slerp-gaussian"), la.slerp_gaussian(a, b, 0.4))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batches_and_times(dtype):
    a = np.zeros((0, 5), dtype)
    assert la.slerp(a, a, [0.1, 0.2]).shape == (0, 2, 5)
    assert la.slerp(a, a, 0.5).shape == (0, 5)
    a, b = pairs(3, 5, dtype)
    assert la.slerp(a, b, np.zeros(0)).shape == (3, 0, 5)
    assert la.offset(np.zeros((0, 5), dtype), b, [[1.0, 0.0, 0.0]]).shape == (0, 1, 5)
    assert la.score(np.zeros((0, 5), dtype), b).shape == (0, 3)


@pytest.mark.parametrize("method", ["slerp", "lerp"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_inputs_and_outputs(method, dtype):
    rng = np.random.default_rng(3)
    big_a = rng.standard_normal((8, 40)).astype(dtype)
    big_b = rng.standard_normal((8, 40)).astype(dtype)
    a, b = big_a[::2, ::3], big_b[1::2, ::3]  # row and column strides
    t = np.array([0.0, 0.3, 0.8, 1.0])
    want = ref.interpolate(a, b, t.astype(dtype), method)
    np.testing.assert_allclose(la.interpolate(a, b, t, method), want, **TOL[dtype])
    buf = np.full((4, 8, 14), -7.0, dtype)
    out = buf[:, ::2, :]
    got = la.interpolate(a, b, t, method, out=out)
    assert got is out
    np.testing.assert_allclose(buf[:, ::2, :], want, **TOL[dtype])
    assert (buf[:, 1::2, :] == -7.0).all(), "writes outside the out view"
    # Fortran-ordered input.
    np.testing.assert_allclose(la.interpolate(np.asfortranarray(a), b, t, method), want, **TOL[dtype])


def test_out_is_reused_and_may_alias_an_input():
    a, b = pairs(6, 11, np.float64)
    out = np.empty((6, 11))
    assert la.slerp(a, b, 0.25, out=out) is out
    np.testing.assert_allclose(out, ref.interpolate(a, b, 0.25, "slerp"), rtol=1e-12, atol=1e-12)
    want = ref.interpolate(a, b, 0.25, "slerp")
    a_copy = a.copy()
    la.slerp(a_copy, b, 0.25, out=a_copy)  # in place over an input
    np.testing.assert_allclose(a_copy, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_endpoints_every_method(dtype):
    a, b = pairs(5, 33, dtype, seed=9)
    for method in METHODS:
        got = la.interpolate(a, b, [0.0, 1.0], method)
        np.testing.assert_array_equal(got[:, 0], a)
        np.testing.assert_array_equal(got[:, 1], b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_and_parallel_rows_fall_back_to_lerp(dtype):
    a, b = pairs(4, 10, dtype, seed=4)
    a[0] = 0.0
    b[1] = 0.0
    b[2] = a[2] * dtype(3.0)  # parallel, different norms
    b[3] = a[3]
    t = np.array([0.25, 0.5, 2.0], dtype)
    got = la.slerp(a, b, t)
    lerped = la.lerp(a, b, t)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, lerped, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_antipodal_rows_follow_the_deterministic_great_circle(dtype):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 12)).astype(dtype)
    b = (-2.0 * a).astype(dtype)
    t = np.array([0.25, 0.5, 0.75], dtype)
    got = la.slerp(a, b, t)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref.interpolate(a, b, t, "slerp"), **TOL[dtype])
    mid = got[:, 1].astype(np.float64)
    na = np.linalg.norm(a.astype(np.float64), axis=1)
    # Norm interpolated linearly (1.5 |a|), direction orthogonal to a at the midpoint.
    np.testing.assert_allclose(np.linalg.norm(mid, axis=1), 1.5 * na, rtol=1e-5)
    cos = (mid * a).sum(1) / (np.linalg.norm(mid, axis=1) * na)
    assert np.abs(cos).max() < 1e-5
    # Deterministic: the same answer on every call and thread count.
    np.testing.assert_array_equal(got, la.slerp(a, b, t))


def test_one_dimensional_antipodal_is_lerp():
    a = np.array([[2.0]])
    b = np.array([[-3.0]])
    np.testing.assert_allclose(la.slerp(a, b, [0.2, 0.5]), [[[1.0], [-0.5]]])


def test_nearly_antipodal_outside_tolerance_is_finite_and_accurate():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 64))
    b = -a + 1e-4 * rng.standard_normal((2, 64))
    t = np.linspace(-0.2, 1.2, 7)
    np.testing.assert_allclose(la.slerp(a, b, t), ref.interpolate(a, b, t, "slerp"), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("angle", [1e-6, 1e-5, 1e-4, 1e-3])
def test_small_angles_are_accurate_in_float32(angle):
    # acos(dot) would lose the angle entirely here in float32.
    D = 64
    a = np.zeros((1, D))
    a[0, 0] = 1.0
    b = np.zeros((1, D))
    b[0, 0] = math.cos(angle)
    b[0, 1] = math.sin(angle)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    got = la.slerp(a32, b32, 0.5)
    want = ref.interpolate(a32, b32, 0.5, "slerp")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_extreme_magnitudes_stay_finite():
    rng = np.random.default_rng(7)
    base = rng.standard_normal((3, 20))
    for scale in (1e-300, 1e-160, 1e160, 1e300):
        a, b = base * scale, rng.standard_normal((3, 20)) * scale
        got = la.slerp(a, b, [0.3, 0.7])
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got / scale, ref.interpolate(a / scale, b / scale, [0.3, 0.7], "slerp"),
                                   rtol=1e-9, atol=1e-9)
    tiny = np.float32(1e-40)  # float32 denormals
    a = (base * tiny).astype(np.float32)
    assert np.isfinite(la.slerp(a, a[::-1].copy(), 0.5)).all()


def test_gaussian_variants_far_in_the_tails_are_finite():
    a = np.array([[-30.0, 8.0, 0.0, 38.0]])
    b = np.array([[30.0, 8.5, -9.0, -38.0]])
    for method in ("slerp_gaussian", "lerp_gaussian"):
        got = la.interpolate(a, b, [-1.0, 0.5, 2.0], method)
        assert np.isfinite(got).all(), method
    got = la.lerp_gaussian(np.array([8.0]), np.array([8.0]), 0.5)
    np.testing.assert_allclose(got, [8.0], rtol=1e-9)  # the upper tail keeps its precision


def test_tent_pole_figure_of_the_paper():
    """100-d N(0, 1) pairs: lerp midpoints have norm ~7.07, slerp midpoints ~10."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 100))
    b = rng.standard_normal((2000, 100))
    lerp_norm = np.linalg.norm(la.lerp(a, b, 0.5), axis=1).mean()
    slerp_norm = np.linalg.norm(la.slerp(a, b, 0.5), axis=1).mean()
    assert abs(lerp_norm - math.sqrt(50)) < 0.1
    assert abs(slerp_norm - 10.0) < 0.15
    ends = np.linalg.norm(a, axis=1).mean()
    assert abs(ends - 10.0) < 0.1


@pytest.mark.parametrize("dtype", DTYPES)
def test_offset_matches_reference(dtype):
    rng = np.random.default_rng(8)
    for D in DIMS:
        z = rng.standard_normal((5, D)).astype(dtype)
        V = rng.standard_normal((3, D)).astype(dtype)
        al = rng.uniform(-2, 2, size=(4, 3))
        got = la.offset(z, V, al)
        assert got.shape == (5, 4, D) and got.dtype == dtype
        np.testing.assert_allclose(got, ref.offset(z, V, al.astype(dtype)), **TOL[dtype])
    # Single latent, single vector with (A,) strengths.
    got = la.offset(z[0], V[0], [-1.0, 0.0, 2.5])
    assert got.shape == (3, D)
    np.testing.assert_allclose(got, ref.offset(z[0], V[0], np.array([-1.0, 0.0, 2.5], dtype)), **TOL[dtype])


def test_offset_out_and_strided():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((6, 30))[:, ::2]
    V = rng.standard_normal((2, 15))
    al = np.array([[1.0, -1.0], [0.5, 0.5]])
    buf = np.zeros((6, 4, 15))
    out = buf[:, 1:3]
    assert la.offset(z, V, al, out=out) is out
    np.testing.assert_allclose(buf[:, 1:3], ref.offset(z, V, al), rtol=1e-12, atol=1e-12)
    assert (buf[:, 0] == 0).all() and (buf[:, 3] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalize", [False, True])
def test_score_matches_reference(dtype, normalize):
    rng = np.random.default_rng(10)
    for D in DIMS:
        for N, K in [(1, 1), (7, 3), (33, 9), (50, 40)]:
            z = rng.standard_normal((N, D)).astype(dtype)
            V = rng.standard_normal((K, D)).astype(dtype)
            got = la.score(z, V, normalize=normalize)
            want = ref.score(z, V, normalize)
            scale = np.multiply.outer(np.linalg.norm(z, axis=1), np.linalg.norm(V, axis=1))
            if normalize:
                scale = np.ones_like(scale)
            assert got.shape == (N, K) and got.dtype == dtype
            tol = 1e-5 if dtype == np.float32 else 1e-12
            assert (np.abs(got - want) <= tol * scale + tol).all()


def test_score_shapes_zero_rows_and_overflow():
    rng = np.random.default_rng(11)
    z = rng.standard_normal((4, 6)).astype(np.float32)
    V = rng.standard_normal((2, 6)).astype(np.float32)
    assert la.score(z[0], V).shape == (2,)
    assert la.score(z, V[0]).shape == (4,)
    assert la.score(z[0], V[0]).shape == ()
    z[1] = 0.0
    cos = la.score(z, V, normalize=True)
    assert (cos[1] == 0).all() and np.isfinite(cos).all()
    huge = (z * np.float32(1e30)).astype(np.float32)
    cos = la.score(huge, V, normalize=True)
    np.testing.assert_allclose(cos, ref.score(huge, V, True), atol=1e-6)
    big = np.full((1, 6), 1e30, np.float32)
    assert np.isinf(la.score(big, big)).all()  # the true value exceeds float32: inf, not NaN


@pytest.mark.parametrize("dtype, magnitude", [
    (np.float32, 1e20), (np.float32, 3e38), (np.float32, 1e-30), (np.float32, 1e-40), (np.float32, 1e-44),
    (np.float64, 1e300), (np.float64, 1.7e308), (np.float64, 1e-200), (np.float64, 1e-310),
])
@pytest.mark.parametrize("K", [1, 4, 7])
def test_cosines_of_parallel_rows_are_one_at_every_magnitude(dtype, magnitude, K):
    """Sums of squares overflow or underflow in the kernels' own arithmetic at these
    magnitudes; the rows are redone on the scaled exact path (inf/inf must not become -1,
    0/0 must not become 0)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 1.0, (5, 16)) * rng.choice([-1.0, 1.0], (5, 16))
    z = (x * magnitude).astype(dtype)
    assert np.isfinite(z).all() and (z != 0).all()
    V = np.concatenate([z, -z])[:K]
    cos = la.score(z, V, normalize=True)
    def unit_max(a):  # cosines do not depend on a row's scale: the reference's float64 sums stay in range
        a = a.astype(np.float64)
        return a / np.abs(a).max(axis=1, keepdims=True)

    want = ref.score(unit_max(z), unit_max(V), True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cos, want, atol=tol)
    for k in range(min(K, 5)):
        assert cos[k, k] == pytest.approx(1.0, abs=tol)
    if K > 5:
        assert cos[0, 5] == pytest.approx(-1.0, abs=tol)


@pytest.mark.parametrize("magnitude", [1e20, 3e37, 1e-30, 1e-40])
def test_exact_search_finds_each_row_itself_at_every_magnitude(magnitude):
    """exact_search works in float32 (its contract), at any magnitude float32 holds."""
    dtype = np.float32
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 16))
    ids, _ = la.neighbors.exact_search((X * magnitude).astype(dtype), (X[:3] * magnitude).astype(dtype), 3)
    assert ids[:, 0].tolist() == [0, 1, 2]


def test_gathered_dot_products_do_not_overflow_in_partial_sums():
    """float32 lanes overflow (inf - inf) where the dot product itself is representable."""
    from latentatlas.neighbors.exact import gather_scores

    q = np.zeros((1, 16), np.float32)
    q[0, 0], q[0, 8] = 3e38, 3e38
    data = np.zeros((2, 16), np.float32)
    data[0, 0], data[0, 8] = 1.0, -1.0  # exact 0
    data[1, 0], data[1, 8] = 1e-30, 1e-30  # exact 6e8
    got = gather_scores(q, data, np.array([[0, 1]]))
    np.testing.assert_allclose(got[0], [0.0, 6e8], rtol=1e-6)


# ----------------------------------------------------------------------------- errors


def test_shape_errors_name_the_arguments():
    a, b = pairs(8, 100, np.float32)
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(8, 100\) and \(8, 99\)"):
        la.slerp(a, b[:, :99], 0.5)
    with pytest.raises(ValueError, match=r"a must be \(D,\), \(B, D\) or \(B, \*S\), got a 0-d array"):
        la.slerp(np.array(a[0, 0]), np.array(b[0, 0]), 0.5)
    with pytest.raises(ValueError, match=r"t must be a float, \(T,\) or \(B, T\) with B = 8, got shape \(3, 2\)"):
        la.slerp(a, b, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"t of shape \(1, 2\) \(per-pair times\) needs a and b of shape \(B, D\)"):
        la.slerp(a[0], b[0], np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"t must be a float, \(T,\) or \(B, T\), got shape \(1, 1, 1\)"):
        la.slerp(a, b, np.zeros((1, 1, 1)))
    with pytest.raises(ValueError, match=r"out must have shape \(8, 100\)"):
        la.slerp(a, b, 0.5, out=np.empty((8, 99), np.float32))
    with pytest.raises(ValueError, match="method must be one of"):
        la.interpolate(a, b, 0.5, "cubic")
    with pytest.raises(TypeError, match="method must be a string"):
        la.interpolate(a, b, 0.5, 3)


def test_offset_and_score_shape_errors():
    z = np.zeros((4, 8))
    with pytest.raises(ValueError, match=r"vectors must have the latent size of z \(8\)"):
        la.offset(z, np.zeros((2, 7)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"alphas must be \(A, K\) with K = 2 vectors, got shape \(3, 1\)"):
        la.offset(z, np.zeros((2, 8)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"with a single vector of shape \(8,\), alphas must be \(A,\)"):
        la.offset(z, np.zeros(8), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"vectors must be one latent of shape \(2, 8\) or \(K, \*\(2, 8\)\), "
                                         r"got shape \(8,\) \(z of shape \(1, 2, 8\) is read as a batch"):
        la.offset(np.zeros((1, 2, 8)), np.zeros(8), [1.0])
    with pytest.raises(ValueError, match=r"vectors must have the latent size of z \(8\)"):
        la.score(z, np.zeros((2, 9)))
    with pytest.raises(ValueError, match=r"vectors must be \(D,\) or \(K, D\)"):
        la.score(z, np.zeros((1, 2, 8)))
    with pytest.raises(TypeError, match="normalize must be a bool"):
        la.score(z, z, normalize="yes")


def test_type_errors_name_the_arguments():
    a, b = pairs(2, 4, np.float32)
    with pytest.raises(TypeError, match="a must be float32 or float64, got int64"):
        la.slerp(np.zeros((2, 4), np.int64), b, 0.5)
    with pytest.raises(TypeError, match=r"b must have the dtype of a \(float32\), got float64"):
        la.slerp(a, b.astype(np.float64), 0.5)
    with pytest.raises(TypeError, match="a must be a numpy array or a torch tensor, got list"):
        la.slerp([[1.0, 2.0]], b, 0.5)
    with pytest.raises(TypeError, match=r"out must have dtype float32, got float64"):
        la.slerp(a, b, 0.5, out=np.empty((2, 4)))
    with pytest.raises(TypeError, match="t must be real numbers"):
        la.slerp(a, b, np.array(["x"]))
    with pytest.raises(TypeError, match="vectors must have the dtype of z"):
        la.score(a, b.astype(np.float64))
    with pytest.raises(TypeError, match="z must be float32 or float64, got float16"):
        la.offset(a.astype(np.float16), b, [[1.0, 1.0]])
    with pytest.raises(ValueError, match="out is read-only"):
        out = np.empty((2, 4), np.float32)
        out.setflags(write=False)
        la.slerp(a, b, 0.5, out=out)


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_inputs_are_value_errors(method):
    a, b = pairs(4, 6, np.float32)
    bad = a.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"a contains NaN or Inf \(row 2\)"):
        la.interpolate(bad, b, 0.5, method)
    bad = b.copy()
    bad[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"b contains NaN or Inf \(row 1\)"):
        la.interpolate(a, bad, [0.1, 0.2], method)
    with pytest.raises(ValueError, match="t contains NaN or Inf"):
        la.interpolate(a, b, [0.1, np.nan], method)
    with pytest.raises(ValueError, match="a contains NaN or Inf"):
        la.interpolate(np.full((3,), np.nan), np.zeros(3), 0.5, method)


def test_non_finite_offset_and_score_inputs():
    z = np.ones((3, 5))
    V = np.ones((2, 5))
    bad = z.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="z contains NaN or Inf"):
        la.offset(bad, V, [[1.0, 1.0]])
    with pytest.raises(ValueError, match="z contains NaN or Inf"):
        la.score(bad, V)
    badv = V.copy()
    badv[0, 2] = -np.inf
    with pytest.raises(ValueError, match="vectors contain NaN or Inf"):
        la.offset(z, badv, [[1.0, 1.0]])
    with pytest.raises(ValueError, match="vectors contain NaN or Inf"):
        la.score(z, badv, normalize=True)
    with pytest.raises(ValueError, match="alphas contains NaN or Inf"):
        la.offset(z, V, [[1.0, np.inf]])
    # float64 sums that overflow are an answer (inf), not an input error.
    big = np.full((1, 5), 1e308)
    assert np.isinf(la.offset(big, np.full((1, 5), 1e308), [[1.0]])).all()


# ----------------------------------------------------------------------------- runtime


def test_results_do_not_depend_on_thread_count():
    a, b = pairs(512, 300, np.float32, seed=12)
    t = np.linspace(0, 1, 9)
    before = la.get_num_threads()
    try:
        la.set_num_threads(1)
        one = la.slerp(a, b, t)
        s1 = la.score(a, b[:5])
        la.set_num_threads(3)
        assert la.get_num_threads() == 3
        np.testing.assert_array_equal(la.slerp(a, b, t), one)
        np.testing.assert_array_equal(la.score(a, b[:5]), s1)
    finally:
        la.set_num_threads(0)
    assert la.get_num_threads() == before
    with pytest.raises(TypeError, match="n must be an int"):
        la.set_num_threads(1.5)


def test_concurrent_calls_from_python_threads():
    rng = np.random.default_rng(13)
    jobs = [(rng.standard_normal((256, 128)), rng.standard_normal((256, 128))) for _ in range(6)]
    t = np.linspace(0, 1, 17)
    want = [la.slerp(a, b, t) for a, b in jobs]
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                got[i] = la.slerp(*jobs[i], t)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for i, w in enumerate(want):
        np.testing.assert_array_equal(got[i], w)


def test_backend_info_reports_the_build():
    info = la.backend_info()
    assert info["version"] == la.__version__
    assert info["cpu"]["threads"] == la.get_num_threads() >= 1
    assert isinstance(info["cuda_devices"], int) and info["cuda_devices"] >= 0
    # _cuda is built exactly when the build found nvcc (unless LATENTATLAS_CUDA=OFF) ...
    if info["cuda_option"] == "OFF":
        assert info["cuda_built"] is False
    else:
        assert info["cuda_built"] is info["nvcc_found_at_build"]
    # ... and under AUTO the build found it exactly when this machine has it (CI builds
    # and tests on the same machine).
    if info["cuda_option"] == "AUTO" and not os.environ.get("LATENTATLAS_TEST_OTHER_BUILD_HOST"):
        assert info["nvcc_found_at_build"] is (shutil.which("nvcc") is not None)
    if info["cuda_built"]:
        assert "cuda_runtime" in info["cuda"]


def test_native_module_rejects_bad_arguments_without_crashing():
    from latentatlas import _core

    a = np.zeros((2, 3), np.float32)
    t = np.zeros((1, 1), np.float32)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.interp(1, [[0.0]], a, t, np.zeros((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match="out must have rows = 2"):
        _core.interp(1, a, a, t, np.zeros((3, 1, 3), np.float32))
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        _core.interp(1, a, a, t, np.zeros((2, 2, 3), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="method must be 0"):
        _core.interp(9, a, a, t, np.zeros((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match="a must be contiguous in its last dimension"):
        _core.interp(1, np.zeros((2, 6), np.float32)[:, ::2], a, t, np.zeros((2, 1, 3), np.float32))
    with pytest.raises(TypeError, match="t must have the dtype of a"):
        _core.interp(1, a, a, t.astype(np.float64), np.zeros((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match="t must have 1 or 2 rows"):
        _core.interp(1, a, a, np.zeros((3, 1), np.float32), np.zeros((2, 1, 3), np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_streaming_stores_write_the_same_values(dtype):
    """Large outputs use non-temporal stores; force them on small, misaligned outputs."""
    from latentatlas import _core

    a, b = pairs(9, 131, dtype, seed=14)
    a[3] = 0.0
    b[4] = -2 * a[4]  # antipodal row: the e_k term goes through the streamed writer too
    t = np.array([0.0, 0.3, 1.0, 1.7], dtype)
    z = a[:5]
    V = b[:2]
    al = np.array([[1.0, -0.5], [0.0, 2.0], [0.25, 0.25]], dtype)
    before = _core.get_streaming()
    try:
        results = {}
        for mode in (0, 1):
            _core.set_streaming(mode)
            buf = np.zeros(9 * 4 * 131 + 1, dtype)
            out = buf[1:].reshape(9, 4, 131)  # not 64-byte aligned
            results[mode] = (la.slerp(a, b, t, out=out).copy(), la.lerp(a, b, t), la.offset(z, V, al))
        for x, y in zip(results[0], results[1]):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(results[1][0], ref.interpolate(a, b, t, "slerp"), **TOL[dtype])
    finally:
        _core.set_streaming(before)
    assert _core.get_streaming() == before == -1
