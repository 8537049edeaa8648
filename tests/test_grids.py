"""Latent grids against hand-computed cells and the float64 references of
tests/reference.py; J-Diagram corners; sampling and the prior grid; batched decoding."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

import reference as ref
from latentatlas import grids, ops, sampling

R2 = 1 / math.sqrt(2)


class LinearModel:
    """A stand-in for a protocol model: a fixed random linear decoder to 1×4×4 images
    (squashed to [0, 1]) and its least-squares inverse as the encoder."""

    prior = "gaussian"

    def __init__(self, latent_dim: int = 6, returns: str = "torch", seed: int = 0):
        rng = np.random.default_rng(seed)
        self.latent_dim = latent_dim
        self.w = rng.standard_normal((latent_dim, 16)) * 0.3
        self.returns = returns
        self.calls: list[int] = []

    def decode(self, z):
        z = np.asarray(z, dtype=np.float64)
        self.calls.append(z.shape[0])
        x = (0.5 + np.tanh(z @ self.w) / 2).reshape(-1, 1, 4, 4).astype(np.float32)
        return torch.from_numpy(x) if self.returns == "torch" else x

    def encode(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), 16)
        y = np.arctanh(np.clip(2 * x - 1, -0.999999, 0.999999))
        z = np.linalg.lstsq(self.w.T, y.T, rcond=None)[0].T.astype(np.float32)
        return torch.from_numpy(z) if self.returns == "torch" else z


def count_interpolate_calls(monkeypatch) -> list:
    calls = []
    real = ops.interpolate

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(ops, "interpolate", counting)
    return calls


# ----------------------------------------------------------------------------- interpolation grids


def test_four_anchor_lerp_grid_hand_computed():
    anchors = np.array([[0, 0], [2, 0], [0, 4], [2, 4]], np.float64)
    grid = grids.interpolation_grid(anchors, 3, 3, method="lerp")
    expected = np.array([[[0, 0], [1, 0], [2, 0]],
                         [[0, 2], [1, 2], [2, 2]],
                         [[0, 4], [1, 4], [2, 4]]], np.float64)
    np.testing.assert_allclose(grid, expected, atol=1e-15)


def test_four_anchor_slerp_grid_hand_computed():
    e = np.eye(4)
    grid = grids.interpolation_grid(e, 3, 3)  # TL=e0, TR=e1, BL=e2, BR=e3
    expected = np.array([
        [e[0], (e[0] + e[1]) * R2, e[1]],
        [(e[0] + e[2]) * R2, (e[0] + e[1] + e[2] + e[3]) / 2, (e[1] + e[3]) * R2],
        [e[2], (e[2] + e[3]) * R2, e[3]],
    ])
    np.testing.assert_allclose(grid, expected, atol=1e-12)


def test_three_anchor_lerp_grid_adds_the_analogy_corner():
    anchors = np.array([[1.0], [3.0], [5.0]])  # bottom right = 3 + 5 - 1 = 7
    grid = grids.interpolation_grid(anchors, 2, 3, method="lerp")
    np.testing.assert_allclose(grid[..., 0], [[1, 2, 3], [5, 6, 7]], atol=1e-15)


def test_two_anchor_walk_in_reading_order():
    grid = grids.interpolation_grid(np.array([[0.0], [5.0]]), 2, 3, method="lerp")
    np.testing.assert_allclose(grid[..., 0], [[0, 1, 2], [3, 4, 5]], atol=1e-15)
    one = grids.interpolation_grid(np.array([[2.0, 1.0], [5.0, 0.0]]), 1, 1)
    np.testing.assert_array_equal(one, [[[2.0, 1.0]]])


@pytest.mark.parametrize("method", ["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_matches_reference_and_corners_exact(method, dtype):
    anchors = np.random.default_rng(3).standard_normal((4, 7)).astype(dtype)
    grid = grids.interpolation_grid(anchors, 4, 5, method=method)
    assert grid.shape == (4, 5, 7) and grid.dtype == dtype
    a64 = anchors.astype(np.float64)
    left = ref.interpolate(a64[0], a64[2], np.linspace(0, 1, 4), method)
    right = ref.interpolate(a64[1], a64[3], np.linspace(0, 1, 4), method)
    expected = np.stack([ref.interpolate(left[r], right[r], np.linspace(0, 1, 5), method) for r in range(4)])
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(grid, expected, rtol=tol, atol=tol)
    for cell, anchor in zip((grid[0, 0], grid[0, -1], grid[-1, 0], grid[-1, -1]), anchors):
        np.testing.assert_array_equal(cell, anchor)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(1, 5), st.integers(1, 6), st.integers(1, 9),
       st.sampled_from(["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"]), st.integers(0, 2**31))
def test_every_cell_matches_a_per_cell_reference(k, rows, cols, d, method, seed):
    anchors = np.random.default_rng(seed).uniform(-3, 3, (k, d))
    grid = grids.interpolation_grid(anchors, rows, cols, method=method)
    assert grid.shape == (rows, cols, d)
    u = lambda i, n: 0.0 if n == 1 else i / (n - 1)  # noqa: E731
    if k == 2:
        for i in range(rows * cols):
            want = ref.interpolate(anchors[0], anchors[1], u(i, rows * cols), method)
            np.testing.assert_allclose(grid.reshape(-1, d)[i], want, rtol=1e-9, atol=1e-9)
        return
    tl, tr, bl = anchors[:3]
    br = anchors[3] if k == 4 else tr + bl - tl
    for r in range(rows):
        left = ref.interpolate(tl, bl, u(r, rows), method)
        right = ref.interpolate(tr, br, u(r, rows), method)
        for c in range(cols):
            np.testing.assert_allclose(grid[r, c], ref.interpolate(left, right, u(c, cols), method),
                                       rtol=1e-9, atol=1e-9)


def test_grid_uses_two_batched_calls_whatever_the_size(monkeypatch):
    calls = count_interpolate_calls(monkeypatch)
    grids.interpolation_grid(np.random.default_rng(0).standard_normal((4, 3)), 9, 11)
    assert calls == [(2, 3), (9, 3)]


def test_grid_torch_in_torch_out():
    anchors = torch.randn(4, 5, dtype=torch.float64)
    grid = grids.interpolation_grid(anchors, 3, 2, method="lerp")
    assert isinstance(grid, torch.Tensor) and grid.dtype == torch.float64 and grid.shape == (3, 2, 5)
    np.testing.assert_allclose(grid.numpy(), grids.interpolation_grid(anchors.numpy(), 3, 2, method="lerp"))


def test_grid_is_differentiable_through_the_custom_ops():
    anchors = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: grids.interpolation_grid(a, 3, 4), (anchors,))
    spread = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: grids.anchor_grid(a, 2, method="lerp"), (spread,))


@pytest.mark.parametrize("anchors, rows, cols, kwargs, err, match", [
    (np.zeros((5, 3)), 2, 2, {}, ValueError, "2, 3 or 4 latents, got 5"),
    (np.zeros((4,)), 2, 2, {}, ValueError, r"anchors must be \(K, D\)"),
    (np.full((2, 3), np.nan), 2, 2, {}, ValueError, "anchors contains NaN"),
    (np.zeros((2, 3), np.int64), 2, 2, {}, TypeError, "float32 or float64"),
    (np.zeros((2, 3)), 0, 2, {}, ValueError, "rows must be >= 1"),
    (np.zeros((2, 3)), 2, 2, {"method": "cubic"}, ValueError, "method must be one of"),
    (np.zeros((2, 0)), 2, 2, {}, ValueError, "latent size 0"),
    ([[0.0], [1.0]], 2, 2, {}, TypeError, "numpy array or a torch tensor"),
])
def test_interpolation_grid_errors(anchors, rows, cols, kwargs, err, match):
    with pytest.raises(err, match=match):
        grids.interpolation_grid(anchors, rows, cols, **kwargs)


# ----------------------------------------------------------------------------- analogy and J-Diagram


def test_analogy_hand_computed_and_batched():
    a, b, c = np.array([1.0, 2.0]), np.array([4.0, 0.0]), np.array([0.5, -1.0])
    np.testing.assert_array_equal(grids.analogy(a, b, c), [3.5, -3.0])
    batch = grids.analogy(np.stack([a, b]), np.stack([b, c]), np.stack([c, a]))
    np.testing.assert_array_equal(batch, [[3.5, -3.0], [-2.5, 1.0]])


def test_analogy_errors():
    with pytest.raises(ValueError, match="same shape"):
        grids.analogy(np.zeros(3), np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="dtype"):
        grids.analogy(np.zeros(3), np.zeros(3, np.float32), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(D,\), \(N, D\) or latents of any shape, got shape \(\)"):
        grids.analogy(np.zeros(()), np.zeros(()), np.zeros(()))
    with pytest.raises(ValueError, match="c contains NaN"):
        grids.analogy(np.zeros(3), np.zeros(3), np.array([0, np.nan, 0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_j_diagram_corners_exact_and_deterministic(dtype):
    a, b, c = np.random.default_rng(5).standard_normal((3, 9)).astype(dtype)
    grid = grids.j_diagram(a, b, c, 5, 6)
    assert grid.shape == (5, 6, 9) and grid.dtype == dtype
    np.testing.assert_array_equal(grid[0, 0], a)
    np.testing.assert_array_equal(grid[0, -1], b)
    np.testing.assert_array_equal(grid[-1, 0], c)
    np.testing.assert_array_equal(grid[-1, -1], (b - a) + c)
    np.testing.assert_array_equal(grid, grids.j_diagram(a, b, c, 5, 6))
    # every other cell is slerp: the top edge is the slerp walk from a to b
    np.testing.assert_allclose(grid[0], ref.interpolate(a.astype(np.float64), b.astype(np.float64),
                                                        np.linspace(0, 1, 6), "slerp"), rtol=1e-4, atol=1e-4)


def test_j_diagram_errors():
    z = np.zeros(4)
    with pytest.raises(ValueError, match="rows must be >= 2"):
        grids.j_diagram(z, z, z, 1, 3)
    with pytest.raises(ValueError, match=r"same shape, got \(4,\), \(1, 4\) and \(4,\)"):
        grids.j_diagram(z, np.zeros((1, 4)), z, 3, 3)
    with pytest.raises(ValueError, match="same shape"):
        grids.j_diagram(z, z, np.zeros(5), 3, 3)


# ----------------------------------------------------------------------------- anchor grids and strips


def test_anchor_grid_lerp_hand_computed():
    anchors = np.array([[[0.0], [3.0]], [[6.0], [9.0]]])
    grid = grids.anchor_grid(anchors, 3, method="lerp")
    np.testing.assert_allclose(grid[..., 0], np.add.outer(2.0 * np.arange(4), np.arange(4)), atol=1e-14)


@pytest.mark.parametrize("shape", [(3, 4), (1, 3), (3, 1), (1, 1)])
def test_anchor_grid_anchors_exact_and_two_calls(shape, monkeypatch):
    anchors = np.random.default_rng(2).standard_normal(shape + (5,))
    calls = count_interpolate_calls(monkeypatch)
    grid = grids.anchor_grid(anchors, 4)
    assert grid.shape == ((shape[0] - 1) * 4 + 1, (shape[1] - 1) * 4 + 1, 5)
    np.testing.assert_array_equal(grid[::4, ::4], anchors)
    assert len(calls) <= 2
    if shape == (3, 4):  # between anchors: the slerp of the neighbouring anchors
        np.testing.assert_allclose(grid[0, 1], ref.interpolate(anchors[0, 0], anchors[0, 1], 0.25, "slerp"), atol=1e-12)
        np.testing.assert_allclose(grid[2, 5], ref.interpolate(grid[0, 5], grid[4, 5], 0.5, "slerp"), atol=1e-12)


def test_anchor_grid_errors():
    with pytest.raises(ValueError, match=r"anchors must be 3-D"):
        grids.anchor_grid(np.zeros((4, 3)), 2)
    with pytest.raises(ValueError, match="spacing must be >= 1"):
        grids.anchor_grid(np.zeros((2, 2, 3)), 0)
    with pytest.raises(ValueError, match="at least one anchor"):
        grids.anchor_grid(np.zeros((0, 2, 3)), 2)


def test_interpolation_strips_lerp_vs_slerp():
    a, b = np.random.default_rng(8).standard_normal((2, 3, 10))
    strips = grids.interpolation_strips(a, b, 7)
    assert strips.shape == (6, 7, 10)
    t = np.linspace(0, 1, 7)
    for p in range(3):
        np.testing.assert_allclose(strips[2 * p], ref.interpolate(a[p], b[p], t, "lerp"), atol=1e-12)
        np.testing.assert_allclose(strips[2 * p + 1], ref.interpolate(a[p], b[p], t, "slerp"), atol=1e-12)
    # the tent-pole: lerp's midpoint is shorter than slerp's
    assert np.linalg.norm(strips[0, 3]) < np.linalg.norm(strips[1, 3])
    single = grids.interpolation_strips(a[0], b[0], 7, methods=("slerp",))
    np.testing.assert_array_equal(single[0], strips[1])
    with pytest.raises(ValueError, match="non-empty sequence"):
        grids.interpolation_strips(a, b, 7, methods=())
    with pytest.raises(ValueError, match="steps must be >= 2"):
        grids.interpolation_strips(a, b, 1)
    with pytest.raises(ValueError, match="same shape"):
        grids.interpolation_strips(a, b[:2], 4)


# ----------------------------------------------------------------------------- sampling


def test_sample_prior_seeded_and_in_range():
    g = sampling.sample_prior(100, 8, "gaussian", seed=7)
    assert g.shape == (100, 8) and g.dtype == np.float32
    np.testing.assert_array_equal(g, sampling.sample_prior(100, 8, "gaussian", seed=7))
    assert not np.array_equal(g, sampling.sample_prior(100, 8, "gaussian", seed=8))
    u = sampling.sample_prior(500, 4, "uniform", seed=1, dtype=np.float64)
    assert u.dtype == np.float64 and u.min() >= -1 and u.max() < 1 and u.min() < -0.9 and u.max() > 0.9
    model = LinearModel(5)
    assert sampling.sample_latents(model, 3).shape == (3, 5)
    grid = sampling.sample_grid(model, 2, 3, seed=4)
    np.testing.assert_array_equal(grid.reshape(6, 5), sampling.sample_prior(6, 5, "gaussian", seed=4))


def test_sample_prior_errors():
    with pytest.raises(ValueError, match="prior must be one of"):
        sampling.sample_prior(2, 3, "laplace")
    with pytest.raises(ValueError, match="dim must be >= 1"):
        sampling.sample_prior(2, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        sampling.sample_prior(2, 3, dtype=np.int32)
    with pytest.raises(TypeError, match="no 'latent_dim'"):
        sampling.sample_latents(object(), 3)


def test_prior_grid_through_inverse_cdf():
    grid = sampling.prior_grid(2, 3, dim=4, dtype=np.float64)
    assert grid.shape == (2, 3, 4)
    np.testing.assert_allclose(grid[:, 0, 0], [-0.6744897501960817, 0.6744897501960817], rtol=1e-12)
    np.testing.assert_allclose(grid[0, :, 1], ndtri(np.array([1, 3, 5]) / 6), rtol=1e-12, atol=1e-15)
    assert (grid[..., 2:] == 0).all()
    uni = sampling.prior_grid(2, 2, prior="uniform", axes=(1, 0), base=np.full(3, 0.3), dtype=np.float64)
    np.testing.assert_allclose(uni[:, :, 1], [[-0.5, -0.5], [0.5, 0.5]])
    np.testing.assert_allclose(uni[:, :, 0], [[-0.5, 0.5], [-0.5, 0.5]])
    assert (uni[..., 2] == 0.3).all()


def test_prior_grid_errors():
    with pytest.raises(ValueError, match="distinct coordinates"):
        sampling.prior_grid(2, 2, dim=3, axes=(1, 1))
    with pytest.raises(ValueError, match="distinct coordinates"):
        sampling.prior_grid(2, 2, dim=3, axes=(0, 3))
    with pytest.raises(ValueError, match="base contains NaN"):
        sampling.prior_grid(2, 2, base=np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="dim must be >= 2"):
        sampling.prior_grid(2, 2, dim=1)


# ----------------------------------------------------------------------------- batched model I/O


@pytest.mark.parametrize("returns", ["torch", "numpy"])
def test_decode_batched_keeps_grid_shape(returns):
    model = LinearModel(6, returns=returns)
    z = np.random.default_rng(0).standard_normal((3, 5, 6)).astype(np.float32)
    images = sampling.decode_batched(model, z, batch_size=4)
    assert images.shape == (3, 5, 1, 4, 4) and images.dtype == np.float32
    assert model.calls == [4, 4, 4, 3]
    direct = np.asarray(LinearModel(6, returns="numpy").decode(z.reshape(15, 6)))
    np.testing.assert_allclose(images.reshape(15, 1, 4, 4), direct, rtol=1e-6)


def test_encode_batched_inverts_the_linear_model():
    model = LinearModel(6)
    z = np.random.default_rng(1).standard_normal((10, 6)).astype(np.float32) * 0.5
    back = sampling.encode_batched(model, sampling.decode_batched(model, z), batch_size=3)
    np.testing.assert_allclose(back, z, atol=1e-3)


def test_model_io_errors():
    model = LinearModel(6)
    with pytest.raises(ValueError, match="latent size 6"):
        sampling.decode_batched(model, np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="empty"):
        sampling.decode_batched(model, np.zeros((0, 6), np.float32))
    with pytest.raises(ValueError, match="latents contains NaN"):
        sampling.decode_batched(model, np.full((1, 6), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"NCHW \(N, C, H, W\)"):
        sampling.encode_batched(model, np.zeros((2, 16), np.float32))

    class NoEncoder:
        latent_dim, prior = 6, "gaussian"

        def decode(self, z):
            return z

    with pytest.raises(TypeError, match="no encode"):
        sampling.encode_batched(NoEncoder(), np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="must return NCHW"):
        sampling.decode_batched(NoEncoder(), np.zeros((2, 6), np.float32))


# ----------------------------------------------------------------------------- MINE grids


def lattice_with_distractors(seed: int = 0):
    """15 points on a 3×5 lattice (row step 1, column step 2) in a random plane of R^16,
    hidden among 50 far-away points."""
    rng = np.random.default_rng(seed)
    u, v = np.linalg.qr(rng.standard_normal((16, 2)))[0].T
    origin = 3 * rng.standard_normal(16)
    lattice = np.array([origin + i * u + 2 * j * v for i in range(3) for j in range(5)])
    far = 1000 * rng.standard_normal((50, 16))
    return np.concatenate([far[:20], lattice, far[20:]]), np.arange(20, 35)


def test_mine_layout_recovers_a_lattice():
    latents, lattice_rows = lattice_with_distractors()
    grid = grids.mine_grid(latents[27], latents, 5, 9, spacing=2, space="l2")
    assert sorted(grid.anchor_ids.ravel().tolist()) == lattice_rows.tolist()
    anchors = latents[grid.anchor_ids]
    # grid neighbours are latent neighbours: every horizontal step is the lattice's column
    # step (2) and every vertical step its row step (1), up to flips
    np.testing.assert_allclose(np.linalg.norm(np.diff(anchors, axis=1), axis=-1), 2.0, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(np.diff(anchors, axis=0), axis=-1), 1.0, rtol=1e-9)
    tall = grids.mine_layout(latents[lattice_rows], 5, 3, space="l2")  # a tall grid turns the lattice
    np.testing.assert_allclose(np.linalg.norm(np.diff(latents[lattice_rows][tall], axis=0), axis=-1), 2.0, rtol=1e-9)


def encoded_digits_like(n: int = 400, seed: int = 0):
    model = LinearModel(6, seed=seed)
    images = sampling.decode_batched(model, np.random.default_rng(seed).standard_normal((n, 6)).astype(np.float32))
    return model, sampling.encode_batched(model, images)


@pytest.mark.parametrize("space", ["cosine", "l2"])
def test_mine_anchors_are_encodings_of_the_seeds_neighbours(space):
    model, latents = encoded_digits_like()
    seed = latents[11]
    grid = grids.mine_grid(seed, latents, 7, 10, spacing=3, space=space)
    assert grid.latents.shape == (7, 10, 6) and grid.latents.dtype == np.float32
    assert grid.anchor_ids.shape == (3, 4)
    # anchor cells are exactly the encodings of the data set's rows named by anchor_ids ...
    np.testing.assert_array_equal(grid.latents[::3, ::3], latents[grid.anchor_ids])
    expected_mask = np.zeros((7, 10), bool)
    expected_mask[np.ix_([0, 3, 6], [0, 3, 6, 9])] = True
    np.testing.assert_array_equal(grid.anchor_mask(), expected_mask)
    # ... and those rows are the 12 nearest neighbours of the seed (float64 brute force)
    x, s = latents.astype(np.float64), seed.astype(np.float64)
    if space == "l2":
        ref = ((x - s) ** 2).sum(1)
    else:
        ref = 1 - x @ s / (np.linalg.norm(x, axis=1) * np.linalg.norm(s))
    assert set(grid.anchor_ids.ravel().tolist()) == set(np.argsort(ref)[:12].tolist())
    assert 11 in grid.anchor_ids  # the seed's own encoding is its nearest neighbour
    np.testing.assert_allclose(grid.anchor_distances, ref[grid.anchor_ids], atol=1e-5)
    # between anchors: slerp of the neighbouring cells
    np.testing.assert_allclose(grid.latents[0, 1], ref_slerp(grid.latents[0, 0], grid.latents[0, 3], 1 / 3), atol=1e-5)


def ref_slerp(a, b, t):
    return ref.interpolate(a.astype(np.float64), b.astype(np.float64), t, "slerp")


def test_mine_grid_with_an_index_and_torch_latents():
    from latentatlas.neighbors import NeighborIndex

    _, latents = encoded_digits_like(300, seed=1)
    index = NeighborIndex(6, "cosine")
    index.add(latents)
    exact = grids.mine_grid(latents[3], latents, 3, 3)
    fast = grids.mine_grid(latents[3], latents, 3, 3, index=index, ef=200)
    assert set(fast.anchor_ids.ravel().tolist()) == set(exact.anchor_ids.ravel().tolist())
    tgrid = grids.mine_grid(torch.from_numpy(latents[3]), torch.from_numpy(latents), 3, 3)
    assert isinstance(tgrid.latents, torch.Tensor)
    np.testing.assert_array_equal(tgrid.latents.numpy(), exact.latents)


def test_mine_grid_where_picks_neighbours_among_allowed_rows_only():
    from latentatlas.neighbors import NeighborIndex

    _, latents = encoded_digits_like(400, seed=2)
    allowed = np.random.default_rng(3).random(400) < 0.3
    rows = np.flatnonzero(allowed)
    z = latents.astype(np.float64)
    cos = (z[rows] @ z[5]) / (np.linalg.norm(z[rows], axis=1) * np.linalg.norm(z[5]))
    nearest = set(rows[np.argsort(-cos, kind="stable")[:9]].tolist())  # float64 reference
    grid = grids.mine_grid(latents[5], latents, 3, 3, where=allowed)
    assert set(grid.anchor_ids.ravel().tolist()) == nearest
    by_rows = grids.mine_grid(latents[5], latents, 3, 3, where=rows)
    np.testing.assert_array_equal(by_rows.anchor_ids, grid.anchor_ids)
    index = NeighborIndex(6, "cosine", exact_below=0)
    index.add(latents)
    fast = grids.mine_grid(latents[5], latents, 3, 3, index=index, where=allowed)
    assert set(fast.anchor_ids.ravel().tolist()) == nearest
    with pytest.raises(ValueError, match="needs 9 neighbours, but where allows only 2 rows"):
        grids.mine_grid(latents[5], latents, 3, 3, where=[1, 2])
    with pytest.raises(ValueError, match=r"where must be a \(400,\) mask"):
        grids.mine_grid(latents[5], latents, 3, 3, where=allowed[:10])
    with pytest.raises(ValueError, match="outside 0..399"):
        grids.mine_grid(latents[5], latents, 3, 3, where=np.arange(395, 405))
    with pytest.raises(ValueError, match="boolean mask or 1-D row numbers"):
        grids.mine_grid(latents[5], latents, 3, 3, where=np.ones(400))


def test_cli_mine_where_label_uses_only_labelled_rows(tmp_path, capsys, digits_vae, digits_store):
    import json

    from conftest import assert_one_error_line, run_cli

    from latentatlas.data import LatentStore

    lat = tmp_path / "m.json"
    code, stdout, _ = run_cli(capsys, "sample", "mine", "-m", "digits-vae", "--store", digits_store, "--where", "3",
                              "--rows", 3, "--cols", 3, "--spacing", 1, "-o", tmp_path / "m.png", "--save-latents", lat)
    assert code == 0 and "labelled '3'" in stdout
    store = LatentStore.load(digits_store)
    allowed = (store.split != "train") & (store.labels[:, store.label_names.index("3")] == 1)
    seed_row = int(np.flatnonzero(store.split == "valid")[0])
    grid = grids.mine_grid(store.latents[seed_row], store.latents, 3, 3, where=allowed)
    assert allowed[grid.anchor_ids].all()
    np.testing.assert_allclose(np.array(json.loads(lat.read_text()), np.float32), grid.latents.reshape(9, -1),
                               rtol=1e-6)
    code, _, err = run_cli(capsys, "sample", "mine", "-m", "digits-vae", "--store", digits_store, "--where", "smiling",
                           "-o", tmp_path / "x.png")
    assert_one_error_line(code, err, "--where 'smiling' is not a label of the store")


def test_mine_errors():
    _, latents = encoded_digits_like(20)
    with pytest.raises(ValueError, match=r"rows - 1 must be a multiple of spacing = 3, got rows = 5 \(try 4 or 7\)"):
        grids.mine_grid(latents[0], latents, 5, 4, spacing=3)
    with pytest.raises(ValueError, match="needs 25 neighbours, but latents has only 20"):
        grids.mine_grid(latents[0], latents, 5, 5)
    with pytest.raises(ValueError, match=r"seed must be a \(6,\) latent"):
        grids.mine_grid(latents[0, :5], latents, 3, 3)
    with pytest.raises(ValueError, match="latents contains NaN"):
        grids.mine_grid(latents[0], np.full((20, 6), np.nan, np.float32), 3, 3)
    from latentatlas.neighbors import NeighborIndex

    small = NeighborIndex(6, "cosine")
    small.add(latents[:10])
    with pytest.raises(ValueError, match="index must be built over latents"):
        grids.mine_grid(latents[0], latents, 3, 3, index=small)
    with pytest.raises(TypeError, match="index must be a NeighborIndex"):
        grids.mine_grid(latents[0], latents, 3, 3, index="index")
    with pytest.raises(ValueError, match=r"points must be \(rows\*cols, D\) = \(6, D\)"):
        grids.mine_layout(latents[:5], 2, 3)
    with pytest.raises(ValueError, match="space must be one of"):
        grids.mine_layout(latents[:6], 2, 3, space="manhattan")


# ----------------------------------------------------------------------------- sheets


class TinyDigits:
    """A stand-in data set with the Dataset attributes the sheets use."""

    def __init__(self, model: LinearModel, n: int = 60):
        z = np.random.default_rng(4).standard_normal((n, model.latent_dim)).astype(np.float32)
        self.images = sampling.decode_batched(model, z)
        self.split = np.array(["train", "valid", "test"] * (n // 3))


def cell(sheet: np.ndarray, r: int, c: int, size: int, pad: int = 2) -> np.ndarray:
    y, x = pad + r * (size + pad), pad + c * (size + pad)
    return sheet[y:y + size, x:x + size]


def test_j_diagram_sheet_places_inputs_beside_their_reconstructions():
    from latentatlas import sheets

    model = LinearModel(6)
    data = TinyDigits(model)
    inputs, rows = sheets.first_images(data, 3)
    assert rows.tolist() == [1, 4, 7]
    sheet = sheets.j_diagram_sheet(model, inputs, 4, 5, scale=1)
    assert sheet.shape == (2 + 4 * 6, 2 + 7 * 6)
    u8 = lambda x: np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)  # noqa: E731
    a, b, c = sampling.encode_batched(model, inputs)
    recon = sampling.decode_batched(model, np.stack([a, b, c, (b - a) + c]))
    np.testing.assert_array_equal(cell(sheet, 0, 0, 4), u8(inputs[0, 0]))  # A, then its reconstruction
    np.testing.assert_array_equal(cell(sheet, 0, 1, 4), u8(recon[0, 0]))
    np.testing.assert_array_equal(cell(sheet, 0, 5, 4), u8(recon[1, 0]))  # B's reconstruction, then B
    np.testing.assert_array_equal(cell(sheet, 0, 6, 4), u8(inputs[1, 0]))
    np.testing.assert_array_equal(cell(sheet, 3, 0, 4), u8(inputs[2, 0]))  # C, then its reconstruction
    np.testing.assert_array_equal(cell(sheet, 3, 1, 4), u8(recon[2, 0]))
    np.testing.assert_array_equal(cell(sheet, 3, 5, 4), u8(recon[3, 0]))  # (B + C) - A
    assert (cell(sheet, 1, 0, 4) == 128).all() and (cell(sheet, 3, 6, 4) == 128).all()  # blank margins
    with pytest.raises(ValueError, match="exactly 3 images"):
        sheets.j_diagram_sheet(model, inputs[:2])
    with pytest.raises(ValueError, match="fewer than 3"):
        sheets.first_images(data, 3, split="extra")


def test_render_paper_sheets_writes_every_picture(tmp_path):
    from PIL import Image

    from latentatlas import sheets

    model = LinearModel(6)
    written = sheets.render_paper_sheets(model, TinyDigits(model, 120), tmp_path / "out", rows=3, cols=4)
    assert set(written) == {"j_diagram.png", "j_diagram_lerp.png", "mine.png", "strips_prior.png",
                            "strips_encoded.png", "samples.png", "prior_grid.png", "walk.gif"}
    sizes = {}
    for name, path in written.items():
        with Image.open(path) as im:
            sizes[name] = im.size
            if name == "walk.gif":
                assert im.n_frames == 4 * 15
    cell_px = 4 * 16  # 4x4 images upscaled to 64 px
    assert sizes["mine.png"] == (2 + 9 * (cell_px + 2),) * 2
    assert sizes["j_diagram.png"] == (2 + 6 * (cell_px + 2), 2 + 3 * (cell_px + 2))  # (width, height)
    assert sorted(os.listdir(tmp_path / "out")) == sorted(written)


def test_sheets_command_with_a_shipped_model(tmp_path, monkeypatch, capsys):
    import types

    import latentatlas as la
    from latentatlas import cli

    model = LinearModel(6)
    # stand-ins for la.models.load / la.data.load_digits (set in the namespace, so the
    # lazy importer is not asked for the real modules)
    monkeypatch.setitem(vars(la), "models", types.SimpleNamespace(load=lambda name: model))
    monkeypatch.setitem(vars(la), "data", types.SimpleNamespace(load_digits=lambda: TinyDigits(model, 90)))
    assert cli.main(["sheets", "--model", "digits-vae", "--out", str(tmp_path), "--rows", "3", "--cols", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("wrote ") == 8 and str(tmp_path / "j_diagram.png") in out
