"""Models with latents of any shape (``latent_shape``): stores, vector files, sampling,
grids, MINE grids, attribute vectors and AtDot on (N, *S) latents, each checked against
float64 references computed on the flattened latents (tests/reference.py) or numpy."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import latentatlas as la
import reference as ref
from latentatlas._arrays import latent_shape_of
from latentatlas.data import Dataset, LatentStore, VectorSet

S = (3, 4, 5)  # odd latent shape: 60 numbers per latent


class PoolModel:
    """A duck-typed protocol model with spatial latents: (3, 8, 10) images <-> (3, 4, 5)
    latents by 2x2 average pooling / nearest upsampling (no torch module, no encoder net)."""

    latent_shape = S
    latent_dim = 60
    prior = "gaussian"
    image_shape = (3, 8, 10)

    def encode(self, x):
        x = np.asarray(x, dtype=np.float64)
        return x.reshape(x.shape[0], 3, 4, 2, 5, 2).mean(axis=(3, 5)).astype(np.float32)

    def decode(self, z):
        z = np.asarray(z, dtype=np.float64)
        return np.clip(z.repeat(2, axis=2).repeat(2, axis=3), 0, 1).astype(np.float32)


def _latents(n, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((n, *S)).astype(dtype)


def _labels(n, k=3, seed=1):
    y = (np.random.default_rng(seed).random((n, k)) < 0.4).astype(np.uint8)
    y[0], y[1] = 1, 0
    return y


# ----------------------------------------------------------------------------- protocol


def test_latent_shape_of_flat_and_spatial_models():
    assert latent_shape_of(PoolModel()) == S
    assert latent_shape_of(la.models.load("digits-vae")) == (20,)

    class NoShape:
        latent_dim = 7
        prior = "gaussian"

    assert latent_shape_of(NoShape()) == (7,)

    class Bad(NoShape):
        latent_shape = (2, 3)

    with pytest.raises(ValueError, match=r"latent_shape \(2, 3\) holds 6 numbers but model.latent_dim is 7"):
        latent_shape_of(Bad())
    with pytest.raises(TypeError, match="no 'latent_dim'"):
        latent_shape_of(object())


def test_builtin_models_report_flat_latent_shape():
    vae = la.models.load("digits-vae")
    assert vae.latent_shape == (vae.latent_dim,)
    assert tuple(vae.sample_latents(3, seed=0).shape) == (3, vae.latent_dim)


def test_sampling_and_batched_coding_keep_the_latent_shape():
    m = PoolModel()
    z = la.sampling.sample_latents(m, 6, seed=3)
    assert z.shape == (6, *S)
    np.testing.assert_array_equal(z.reshape(6, -1), la.sampling.sample_prior(6, 60, seed=3))
    assert la.sampling.sample_grid(m, 2, 3).shape == (2, 3, *S)
    images = la.sampling.decode_batched(m, np.abs(z).reshape(2, 3, *S) % 1, batch_size=4)
    assert images.shape == (2, 3, 3, 8, 10)
    x = np.random.default_rng(0).random((5, 3, 8, 10)).astype(np.float32)
    enc = la.sampling.encode_batched(m, x, batch_size=2)
    np.testing.assert_allclose(enc, x.reshape(5, 3, 4, 2, 5, 2).mean(axis=(3, 5)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"must end in the model's latent shape \(3, 4, 5\), got shape \(2, 60\)"):
        la.sampling.decode_batched(m, np.zeros((2, 60), np.float32))


# ----------------------------------------------------------------------------- stores and vector files


def _dataset(n=12):
    x = np.random.default_rng(0).random((n, 3, 8, 10)).astype(np.float32)
    split = np.array(["train"] * (n - 4) + ["valid"] * 2 + ["test"] * 2)
    return Dataset(images=x, labels=_labels(n), label_names=["a", "b", "c"], split=split, name="pool")


def test_encode_dataset_and_store_round_trip_with_latent_shape(tmp_path):
    store = la.encode_dataset(PoolModel(), _dataset(), batch_size=5, progress=False)
    assert store.latents.shape == (12, *S) and store.latent_shape == S and store.latent_dim == 60
    assert store.provenance["latent_shape"] == list(S)
    path = store.save(tmp_path / "s.npz")
    back = LatentStore.load(path)
    assert back.latent_shape == S
    np.testing.assert_array_equal(back.latents, store.latents)
    assert back.subset("valid").latents.shape == (2, *S)
    flat = json.loads(store.to_json(tmp_path / "s.json").read_text())
    np.testing.assert_array_equal(np.asarray(flat, np.float32), store.latents.reshape(12, -1))


def _rewrite(path, **changes):
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_store_load_checks_the_recorded_latent_shape(tmp_path):
    store = LatentStore(_latents(4), _labels(4), ["a", "b", "c"], np.array(["train"] * 4))
    path = store.save(tmp_path / "s.npz")
    _rewrite(path, latent_shape=np.array([60]))
    with pytest.raises(ValueError, match=r"latents have shape \(3, 4, 5\) per row but the file records latent_shape \(60,\)"):
        LatentStore.load(path)
    _rewrite(path, latent_shape=np.array(["x"]))
    with pytest.raises(ValueError, match="latent_shape must be a list of ints"):
        LatentStore.load(path)
    # A store written before latent_shape was recorded still loads (flat latents).
    flat = LatentStore(_latents(4).reshape(4, -1), _labels(4), ["a", "b", "c"], np.array(["train"] * 4))
    p2 = flat.save(tmp_path / "old.npz")
    with np.load(p2) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "latent_shape"}
    with open(p2, "wb") as fh:
        np.savez(fh, **arrays)
    assert LatentStore.load(p2).latent_shape == (60,)
    assert zipfile.is_zipfile(p2)


def test_store_and_vector_set_reject_empty_latent_axes():
    with pytest.raises(ValueError, match=r"latents must have shape \(N, D\) or \(N, \*S\) with no empty latent axis, got \(2, 3, 0\)"):
        LatentStore(np.zeros((2, 3, 0), np.float32), np.zeros((2, 0)), [], np.array(["train"] * 2))
    with pytest.raises(ValueError, match=r"vectors must have shape \(K, D\) or \(K, \*S\)"):
        VectorSet(np.zeros((2, 0, 3)), ["a", "b"])


def test_vector_set_round_trip_reshape_and_shape_check(tmp_path):
    v = VectorSet(_latents(2, dtype=np.float64), ["x", "y"], {"kinds": ["a", "b"]})
    assert v.latent_shape == S and v["y"].shape == S
    back = VectorSet.load(v.save(tmp_path / "v.npz"))
    np.testing.assert_array_equal(back.vectors, v.vectors)
    flat = VectorSet.load(v.to_json(tmp_path / "v.json"))
    assert flat.latent_shape == (60,)
    np.testing.assert_allclose(flat.reshaped(S).vectors, v.vectors, rtol=1e-6)
    with pytest.raises(ValueError, match=r"cannot be read as latents of shape \(7,\)"):
        flat.reshaped((7,))
    _rewrite(tmp_path / "v.npz", latent_shape=np.array([4, 3, 5]))
    with pytest.raises(ValueError, match="records latent_shape"):
        VectorSet.load(tmp_path / "v.npz")


# ----------------------------------------------------------------------------- grids


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_interpolation_grid_on_spatial_latents_matches_flat_reference(k, dtype):
    anchors = _latents(k, seed=k, dtype=dtype)
    grid = la.grids.interpolation_grid(anchors, 3, 4)
    assert grid.shape == (3, 4, *S) and grid.dtype == dtype
    flat = anchors.reshape(k, -1).astype(np.float64)
    if k == 3:
        flat = np.vstack([flat, flat[1] + flat[2] - flat[0]])
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    if k == 2:
        want = ref.interpolate(flat[0], flat[1], np.linspace(0, 1, 12), "slerp").reshape(3, 4, -1)
    else:
        left = ref.interpolate(flat[0], flat[2], np.linspace(0, 1, 3), "slerp")
        right = ref.interpolate(flat[1], flat[3], np.linspace(0, 1, 3), "slerp")
        want = np.stack([ref.interpolate(left[r], right[r], np.linspace(0, 1, 4), "slerp") for r in range(3)])
    np.testing.assert_allclose(grid.reshape(3, 4, -1), want, **tol)


def test_j_diagram_anchor_grid_and_strips_on_spatial_latents():
    a, b, c = _latents(3, dtype=np.float64)
    jd = la.grids.j_diagram(a, b, c, 3, 3, method="lerp")
    np.testing.assert_allclose(jd[-1, -1], b + c - a, atol=1e-12)
    np.testing.assert_allclose(jd[1, 1], ((a + b + c) + (b + c - a)) / 4, atol=1e-12)  # lerp: the mean of the corners
    anchors = _latents(4, seed=5, dtype=np.float64).reshape(2, 2, *S)
    g = la.grids.anchor_grid(anchors, 2)
    assert g.shape == (3, 3, *S)
    np.testing.assert_array_equal(g[::2, ::2], anchors)
    np.testing.assert_allclose(g[0, 1].ravel(), ref.interpolate(anchors[0, 0].ravel(), anchors[0, 1].ravel(), 0.5, "slerp"),
                               atol=1e-12)
    strips = la.grids.interpolation_strips(a[None], b[None], 5)
    assert strips.shape == (2, 5, *S)
    np.testing.assert_allclose(strips[1].reshape(5, -1), ref.interpolate(a.ravel(), b.ravel(), np.linspace(0, 1, 5), "slerp"),
                               atol=1e-12)


def test_mine_grid_searches_the_flattened_latents():
    lat = _latents(40, seed=2)
    m = la.grids.mine_grid(lat[3], lat, 5, 5, spacing=2)
    flat = la.grids.mine_grid(lat[3].ravel(), lat.reshape(40, -1), 5, 5, spacing=2)
    assert m.latents.shape == (5, 5, *S)
    np.testing.assert_array_equal(m.anchor_ids, flat.anchor_ids)
    np.testing.assert_array_equal(m.latents.reshape(5, 5, -1), flat.latents)
    # exact cosine neighbours by brute force in float64
    x = lat.reshape(40, -1).astype(np.float64)
    cos = x @ x[3] / np.linalg.norm(x, axis=1) / np.linalg.norm(x[3])
    assert set(m.anchor_ids.ravel().tolist()) == set(np.argsort(-cos, kind="stable")[:9].tolist())
    with pytest.raises(ValueError, match=r"seed must be a \(3, 4, 5\) latent like the rows of latents, got shape \(60,\)"):
        la.grids.mine_grid(lat[3].ravel(), lat, 5, 5, spacing=2)


# ----------------------------------------------------------------------------- attribute vectors and AtDot


def test_attribute_vectors_on_spatial_latents_match_numpy():
    z, y = _latents(80, seed=4), _labels(80)
    v = la.attributes.mean_difference(z, y)
    assert v.shape == (3, *S)
    z64 = z.astype(np.float64)
    for k in range(3):
        want = z64[y[:, k] == 1].mean(0) - z64[y[:, k] == 0].mean(0)
        np.testing.assert_allclose(v[k], want, rtol=1e-9, atol=1e-12)
    chunks = [(z[:30], y[:30]), (z[30:], y[30:])]
    np.testing.assert_allclose(la.attributes.mean_difference(iter(chunks)), v, rtol=1e-12, atol=1e-12)
    bal = la.attributes.balanced(z, y, [0, 1])
    np.testing.assert_allclose(bal.reshape(2, -1), la.attributes.balanced(z.reshape(80, -1), y, [0, 1]), rtol=1e-12)
    classes = np.arange(80) % 3
    cv = la.attributes.centroid_vectors(z, classes)
    np.testing.assert_allclose(cv[(0, 2)], z64[classes == 0].mean(0) - z64[classes == 2].mean(0), rtol=1e-9, atol=1e-12)
    assert la.attributes.decouple(v).shape == (3, *S)


def test_traverse_attribute_grid_and_edit_on_spatial_latents():
    z = _latents(2, seed=6, dtype=np.float64)
    v = _latents(2, seed=7, dtype=np.float64)
    walk = la.attributes.traverse(z, v[0], [-1.0, 0.0, 2.0])
    assert walk.shape == (2, 3, *S)
    np.testing.assert_allclose(walk[1, 2], z[1] + 2 * v[0], atol=1e-12)
    grid = la.attributes.attribute_grid(z[0], v[0], v[1], [0.0, 1.0], [0.0, 0.5, 1.0])
    assert grid.shape == (3, 2, *S)
    np.testing.assert_allclose(grid[1, 1], z[0] + v[0] + 0.5 * v[1], atol=1e-12)
    x = np.random.default_rng(0).random((2, 3, 8, 10)).astype(np.float32)
    out = la.attributes.edit(PoolModel(), x, np.zeros((1, *S), np.float32), [[0.0], [1.0]])
    assert out.shape == (2, 2, 3, 8, 10)
    np.testing.assert_allclose(out[:, 0], PoolModel().decode(PoolModel().encode(x)), atol=1e-6)


def test_atdot_on_spatial_latents_matches_flat_and_reference():
    z, y = _latents(90, seed=8), _labels(90, seed=9)
    clf = la.AtDot().fit(z, y)
    flat = la.AtDot().fit(z.reshape(90, -1), y)
    assert clf.vectors.shape == (3, *S)
    want = z.reshape(90, -1).astype(np.float64) @ clf.vectors.reshape(3, -1).T
    np.testing.assert_allclose(clf.scores(z), want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(clf.thresholds, flat.thresholds, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(z), flat.predict(z.reshape(90, -1)))
    assert set(clf.evaluate(z, y)) == {"0", "1", "2"}
    with pytest.raises(ValueError, match=r"latents must be \(N, 3, 4, 5\), got shape \(90, 60\)"):
        clf.scores(z.reshape(90, -1))
    with pytest.raises(ValueError, match=r"vectors must be \(K, D\) \(or \(K, \*S\) for latents of shape S\)"):
        la.AtDot().fit(z, y, vectors=np.zeros((3, 60)))
    rows = la.atdot.accuracy_table(z[:60], y[:60], z[60:], y[60:])
    assert len(rows) == 4 and 0.0 <= rows[-1]["logistic"] <= 1.0


# ----------------------------------------------------------------------------- large images, lazily


def _write_rgb_folder(root, sizes, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir()
    names = []
    for i, (w, h) in enumerate(sizes):
        name = f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").save(root / name)
        names.append(name)
    csv = root.parent / "labels.csv"
    csv.write_text("filename,smile\n" + "".join(f"{n},{i % 2}\n" for i, n in enumerate(names)))
    return csv


def test_lazy_image_folder_crops_resizes_and_decodes_only_what_is_used(tmp_path, monkeypatch):
    from PIL import Image

    from latentatlas.data import _images

    csv = _write_rgb_folder(tmp_path / "imgs", [(300, 260), (384, 512), (256, 256), (512, 300)])
    calls = []
    real = _images.read_image
    monkeypatch.setattr(_images, "read_image", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    ds = la.data.load_image_folder(tmp_path / "imgs", csv, size=32, lazy=True, progress=False)
    assert isinstance(ds.images, la.data.LazyImages) and ds.images.shape == (4, 3, 32, 32) and calls == []
    sub = ds.subset(np.array([False, True, False, True]))
    assert isinstance(sub.images, la.data.LazyImages) and len(sub) == 2 and calls == []
    one = ds.images[1]
    assert one.shape == (3, 32, 32) and len(calls) == 1
    # reference: the largest centred square by hand, then PIL's LANCZOS resize
    with Image.open(tmp_path / "imgs" / "img1.png") as img:
        want = np.asarray(img.convert("RGB").crop((0, 64, 384, 448)).resize((32, 32), Image.Resampling.LANCZOS),
                          dtype=np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(one, want, atol=1e-7)
    eager = la.data.load_image_folder(tmp_path / "imgs", csv, size=32, lazy=False, progress=False)
    np.testing.assert_array_equal(np.asarray(ds.images), eager.images)
    with pytest.raises(IndexError, match="out of range"):
        ds.images[4]


def test_encode_dataset_decodes_one_batch_at_a_time(tmp_path):
    csv = _write_rgb_folder(tmp_path / "imgs", [(40, 30)] * 7)
    ds = la.data.load_image_folder(tmp_path / "imgs", csv, size=(8, 10), lazy=True, progress=False)
    seen = []

    class Recording(PoolModel):
        def encode(self, x):
            seen.append(type(x).__name__ + str(tuple(x.shape)))
            return super().encode(x)

    store = la.encode_dataset(Recording(), ds, batch_size=3, progress=False)
    assert seen == ["Tensor(3, 3, 8, 10)", "Tensor(3, 3, 8, 10)", "Tensor(1, 3, 8, 10)"]
    eager = la.data.load_image_folder(tmp_path / "imgs", csv, size=(8, 10), lazy=False, progress=False)
    np.testing.assert_allclose(store.latents, PoolModel().encode(eager.images), rtol=1e-6)
    assert la.sampling.encode_batched(Recording(), ds.images[np.arange(2)], batch_size=1).shape == (2, *S)


def test_lazy_is_chosen_by_size_and_missing_files_are_named(tmp_path, monkeypatch):
    csv = _write_rgb_folder(tmp_path / "imgs", [(20, 20)] * 3)
    assert isinstance(la.data.load_image_folder(tmp_path / "imgs", csv, progress=False).images, np.ndarray)
    monkeypatch.setattr(la.data.folder, "LAZY_BYTES", 100)
    assert isinstance(la.data.load_image_folder(tmp_path / "imgs", csv, progress=False).images, la.data.LazyImages)
    (tmp_path / "imgs" / "img2.png").unlink()
    with pytest.raises(ValueError, match=r"img2.png' does not exist"):
        la.data.load_image_folder(tmp_path / "imgs", csv, size=8, lazy=True, progress=False)


def test_sheets_downscale_large_tiles_by_area_averaging():
    x = np.random.default_rng(0).random((2, 3, 512, 384)).astype(np.float32)
    small = la.render.fit_cells(x, 256)
    want = x.reshape(2, 3, 256, 2, 192, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(small, want, atol=1e-5)
    sheet = la.render.image_sheet(x, 1, 2, pad=0)
    assert sheet.shape == (256, 384, 3)
    assert la.render.image_sheet(x, 1, 2, pad=0, max_cell=None).shape == (512, 768, 3)
    assert la.render.fit_cells(x[:, :, :64, :64], 256) is not None and la.render.image_sheet(x[:, :, :8, :8], 1, 2, pad=0).shape == (64, 128, 3)
    with pytest.raises(ValueError, match="max_cell must be >= 1"):
        la.render.image_sheet(x, 1, 2, max_cell=0)
