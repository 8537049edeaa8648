"""Attribute vectors against independent float64 references and planted directions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from latentatlas import attributes as at


def planted(n: int = 4000, D: int = 16, seed: int = 0, corr: float = 0.0):
    """Latents = noise + Σ_k y_k v_k with two attributes; corr skews their joint labels."""
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((2, D))
    y0 = rng.random(n) < 0.5
    # y1 agrees with y0 with probability (1 + corr) / 2.
    y1 = np.where(rng.random(n) < (1 + corr) / 2, y0, ~y0)
    Y = np.stack([y0, y1], axis=1).astype(np.int64)
    Z = 0.3 * rng.standard_normal((n, D)) + Y @ V
    return Z, Y, V


def test_mean_difference_matches_numpy_reference():
    Z, Y, _ = planted(seed=1)
    got = at.mean_difference(Z.astype(np.float32), Y)
    for k in range(2):
        want = Z[Y[:, k] == 1].astype(np.float32).astype(np.float64).mean(0) - \
            Z[Y[:, k] == 0].astype(np.float32).astype(np.float64).mean(0)
        np.testing.assert_allclose(got[k], want, rtol=1e-10, atol=1e-10)
    one = at.mean_difference(Z, Y[:, 0])
    assert one.shape == (16,)
    np.testing.assert_allclose(one, got[0], rtol=1e-6, atol=1e-6)


def test_mean_difference_streams_chunks_like_one_pass():
    Z, Y, _ = planted(seed=2)
    whole = at.mean_difference(Z, Y)
    chunks = [(Z[i:i + 333], Y[i:i + 333]) for i in range(0, len(Z), 333)]
    np.testing.assert_allclose(at.mean_difference(iter(chunks)), whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(at.mean_difference(Z, Y, chunk_size=100), whole, rtol=1e-12, atol=1e-12)


def test_mean_difference_of_a_latent_store():
    import latentatlas as la

    Z, Y, _ = planted(n=300, seed=13)
    store = la.LatentStore(latents=Z.astype(np.float32), labels=Y.astype(np.uint8), label_names=["p", "q"],
                           split=np.array(["train"] * 300))
    np.testing.assert_allclose(at.mean_difference(store), at.mean_difference(Z.astype(np.float32), Y),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="attribute 'q' has no positive example"):
        at.mean_difference(la.LatentStore(latents=Z.astype(np.float32), labels=np.stack([Y[:, 0], 0 * Y[:, 1]], 1),
                                          label_names=["p", "q"], split=np.array(["train"] * 300)))


def test_mean_difference_recovers_planted_vectors():
    Z, Y, V = planted(n=20000, seed=3)
    got = at.mean_difference(Z, Y)
    np.testing.assert_allclose(got, V, atol=0.03)


def test_balanced_matches_explicit_replication():
    Z, Y, _ = planted(n=600, seed=4, corr=0.6)
    w, cells = at.balance_weights(Y, [0, 1])
    M = max(c[0] for c in cells.values())
    assert all(rep == M for _, rep in cells.values())  # every cell exactly the largest
    # Reference: materialise the replicated set (np.resize repeats a cell's rows in order).
    rows = []
    codes = Y[:, 0] + 2 * Y[:, 1]
    for c in range(4):
        idx = np.flatnonzero(codes == c)
        rows.append(np.resize(idx, M))
    rep = np.concatenate(rows)
    Zr, Yr = Z[rep], Y[rep]
    want = np.stack([Zr[Yr[:, k] == 1].mean(0) - Zr[Yr[:, k] == 0].mean(0) for k in range(2)])
    np.testing.assert_allclose(at.balanced(Z, Y, [0, 1]), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(np.bincount(rep, minlength=len(Z)), w)


def test_balanced_removes_the_correlated_attribute():
    # y1 strongly follows y0: the naive y0 vector carries v1, the balanced one does not.
    Z, Y, V = planted(n=20000, seed=5, corr=0.8)
    naive = at.mean_difference(Z, Y)[0]
    fixed = at.balanced(Z, Y, [0, 1])[0]
    # Coefficients of each vector on the planted basis (v0, v1).
    c_naive = np.linalg.lstsq(V.T, naive, rcond=None)[0]
    c_fixed = np.linalg.lstsq(V.T, fixed, rcond=None)[0]
    assert c_naive[1] > 0.6  # P(y1 | y0) - P(y1 | not y0) = 0.8
    assert abs(c_fixed[1]) < 0.03
    np.testing.assert_allclose(c_fixed, [1.0, 0.0], atol=0.03)


def test_balanced_by_name_and_empty_cells():
    Z, Y, _ = planted(n=200, seed=6)
    names = ["smiling", "male"]
    np.testing.assert_array_equal(at.balanced(Z, Y, ["male", "smiling"], label_names=names),
                                  at.balanced(Z, Y, [1, 0]))
    Y2 = Y.copy()
    Y2[(Y2[:, 0] == 1) & (Y2[:, 1] == 1), 1] = 0  # empty the (1, 1) cell
    with pytest.raises(ValueError, match=r"empty cell\(s\) \(smiling=1, male=1\)"):
        at.balanced(Z, Y2, ["smiling", "male"], label_names=names)
    with pytest.warns(RuntimeWarning, match="balancing without empty cell"):
        w, cells = at.balance_weights(Y2, [0, 1], empty="drop")
    assert cells[(1, 1)] == (0, 0)
    with pytest.raises(ValueError, match="unknown attribute 'beard'"):
        at.balanced(Z, Y, ["beard"], label_names=names)
    with pytest.raises(ValueError, match="attributes must be distinct"):
        at.balanced(Z, Y, [0, 0])
    with pytest.raises(ValueError, match="attribute index 5 is out of range"):
        at.balanced(Z, Y, [5])
    with pytest.raises(ValueError, match="empty must be 'error' or 'drop'"):
        at.balance_weights(Y, [0], empty="skip")


def test_mean_difference_errors():
    Z, Y, _ = planted(n=50, seed=7)
    with pytest.raises(ValueError, match="attribute 'b' has no positive example"):
        at.mean_difference(Z, np.stack([Y[:, 0], np.zeros(50, int)], 1), label_names=["a", "b"])
    with pytest.raises(ValueError, match=r"labels must have one row per latent \(50\), got 49"):
        at.mean_difference(Z, Y[:49])
    with pytest.raises(ValueError, match="labels must hold only 0 and 1"):
        at.mean_difference(Z, Y * 2)
    bad = Z.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="latents contain NaN or Inf"):
        at.mean_difference(bad, Y)
    with pytest.raises(ValueError, match="mean_difference needs at least one latent"):
        at.mean_difference(np.zeros((0, 4)), np.zeros((0, 2)))
    with pytest.raises(TypeError, match="labels are required"):
        at.mean_difference(Z)
    with pytest.raises(ValueError, match="label_names must name the 2 label columns"):
        at.mean_difference(Z, Y, label_names=["x"])


class LinearModel:
    """A stand-in model: encode flattens and applies a fixed matrix, decode its pseudo-inverse."""

    def __init__(self, shape=(1, 4, 4), D=6, seed=0):
        rng = np.random.default_rng(seed)
        self.shape = shape
        self.W = rng.standard_normal((D, int(np.prod(shape))))
        self.latent_dim = D
        self.prior = "gaussian"

    def encode(self, x):
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        return (x.reshape(len(x), -1).astype(np.float64) @ self.W.T).astype(np.float32)

    def decode(self, z):
        z = z.numpy() if hasattr(z, "numpy") else np.asarray(z)
        flat = z.astype(np.float64) @ np.linalg.pinv(self.W).T
        return np.clip(flat.reshape((len(z),) + self.shape), 0, 1).astype(np.float32)


def test_synthetic_vector_is_the_encoded_mean_difference():
    model = LinearModel()
    rng = np.random.default_rng(8)
    x = rng.random((40, 1, 4, 4)).astype(np.float32)
    got = at.synthetic(model, x, "brightness", factor=0.5)
    want = model.W @ (np.clip(x * 0.5, 0, 1) - x).reshape(40, -1).astype(np.float64).mean(0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    blur = at.synthetic(model, x, "blur", sigma=1.0)
    np.testing.assert_allclose(blur, model.W @ (at.gaussian_blur(x, 1.0) - x).reshape(40, -1).mean(0),
                               rtol=1e-5, atol=1e-5)
    custom = at.synthetic(model, x, lambda im: 1.0 - im)
    np.testing.assert_allclose(custom, model.W @ (1 - 2 * x).reshape(40, -1).astype(np.float64).mean(0),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="unknown augmentation 'sepia'"):
        at.synthetic(model, x, "sepia")
    with pytest.raises(ValueError, match="the augmentation changed the image shape"):
        at.synthetic(model, x, lambda im: im[:, :, :2])
    with pytest.raises(TypeError, match="has no encode"):
        at.synthetic(object(), x)
    with pytest.raises(ValueError, match=r"images must be NCHW \(N, C, H, W\), got shape \(1, 4, 4\)"):
        at.synthetic(model, x[0])
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        at.gaussian_blur(x, 0)


def test_gaussian_blur_matches_a_direct_convolution():
    rng = np.random.default_rng(9)
    x = rng.random((2, 3, 9, 11)).astype(np.float32)
    got = at.gaussian_blur(x, 0.8)
    r = 3
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / 0.8) ** 2)
    taps /= taps.sum()
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (r, r), (r, r)), mode="reflect")
    want = np.zeros(x.shape)
    for i, j in itertools.product(range(2 * r + 1), repeat=2):
        want += taps[i] * taps[j] * xp[:, :, i:i + 9, j:j + 11]
    np.testing.assert_allclose(got, np.clip(want, 0, 1), atol=1e-6)
    # A blur keeps the mean brightness of a constant image and lowers sharpness.
    assert np.abs(np.diff(got, axis=-1)).mean() < np.abs(np.diff(x, axis=-1)).mean()


def test_decouple_projects_out_the_other_vectors():
    rng = np.random.default_rng(10)
    V = rng.standard_normal((3, 12))
    V[1] += 0.9 * V[0]
    out = at.decouple(V)
    for k in range(3):
        for j in range(3):
            if j != k:
                assert abs(out[k] @ V[j]) < 1e-9
        assert out[k] @ V[k] > 0
    with pytest.raises(ValueError, match="lies in the span of the others"):
        at.decouple(np.stack([V[0], 2 * V[0]]))
    with pytest.raises(ValueError, match="decouple needs at least two vectors"):
        at.decouple(V[:1])


def test_centroid_vectors_for_all_pairs():
    rng = np.random.default_rng(11)
    classes = rng.integers(0, 10, size=500)
    Z = rng.standard_normal((500, 8)) + classes[:, None]
    vecs = at.centroid_vectors(Z, classes)
    assert len(vecs) == 45 and (0, 9) in vecs and (9, 0) not in vecs
    np.testing.assert_allclose(vecs[(2, 7)], Z[classes == 2].mean(0) - Z[classes == 7].mean(0), rtol=1e-10)
    with pytest.raises(ValueError, match="at least two classes"):
        at.centroid_vectors(Z, np.zeros(500, int))
    with pytest.raises(ValueError, match=r"classes must be \(N,\) with N = 500"):
        at.centroid_vectors(Z, classes[:10])
    with pytest.raises(TypeError, match="classes must be integers"):
        at.centroid_vectors(Z, classes.astype(float))


def test_traverse_grid_and_edit():
    rng = np.random.default_rng(12)
    z = rng.standard_normal((3, 6)).astype(np.float32)
    vx, vy = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    tr = at.traverse(z, vx.astype(np.float64), [-1.0, 0.0, 2.0])  # float64 vectors meet float32 latents
    assert tr.dtype == np.float32
    np.testing.assert_allclose(tr[:, 2], z + 2 * vx, rtol=1e-6)
    grid = at.attribute_grid(z, vx, vy, xs=[-1, 0, 1, 2], ys=[0, 1])
    assert grid.shape == (3, 2, 4, 6)
    np.testing.assert_allclose(grid[:, 1, 3], z + 2 * vx + vy, rtol=1e-6)
    model = LinearModel(D=6)
    x = rng.random((2, 1, 4, 4)).astype(np.float32)
    out = at.edit(model, x, vx, [0.0, 1.0])
    assert out.shape == (2, 2, 1, 4, 4)
    zx = model.encode(x)
    np.testing.assert_allclose(out[:, 1], model.decode(zx + vx), atol=1e-5)
    with pytest.raises(ValueError, match="xs and ys must each hold at least one strength"):
        at.attribute_grid(z, vx, vy, [], [1])
    with pytest.raises(TypeError, match="needs encode\\(\\) and decode\\(\\)"):
        at.edit(object(), x, vx, [1.0])
