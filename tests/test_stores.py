"""Latent stores: encode_dataset streaming, .npz round trips, the JSON vector format, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import latentatlas as la
from latentatlas.data import Dataset, LatentStore, read_json_vectors, write_json_vectors


class _RecordingEncoder:
    """A protocol-shaped model whose latents are a fixed linear map of the pixels (the reference)."""

    def __init__(self, dim: int, pixels: int):
        self.weight = torch.from_numpy(np.random.default_rng(0).standard_normal((pixels, dim)).astype(np.float32))
        self.batches: list[int] = []

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        return x.reshape(x.shape[0], -1) @ self.weight


def _dataset(n: int = 23) -> Dataset:
    rng = np.random.default_rng(2)
    return Dataset(
        images=rng.random((n, 1, 3, 3), dtype=np.float32),
        labels=rng.integers(0, 2, (n, 2)),
        label_names=["x", "y"],
        split=np.array(["train", "valid", "test"] * 8)[:n],
        classes=np.arange(n) % 4,
        name="toy",
    )


def test_encode_dataset_streams_batches_and_matches_reference():
    ds = _dataset()
    model = _RecordingEncoder(5, 9)
    store = la.encode_dataset(model, ds, batch_size=10, progress=False)
    assert model.batches == [10, 10, 3]
    ref = ds.images.reshape(len(ds), -1).astype(np.float64) @ model.weight.numpy().astype(np.float64)
    np.testing.assert_allclose(store.latents, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(store.labels, ds.labels)
    np.testing.assert_array_equal(store.split, ds.split)
    np.testing.assert_array_equal(store.classes, ds.classes)
    assert store.provenance["dataset"] == "toy" and store.provenance["n"] == 23
    assert store.latent_dim == 5 and len(store.subset("valid")) == 8


def test_encode_dataset_with_a_wrapped_user_model():
    """A model from ``la.models.wrap`` has no rebuildable config; encoding still works."""
    ds = _dataset()
    enc = torch.nn.Linear(9, 4)
    model = la.models.wrap(lambda x: enc(x.reshape(x.shape[0], -1)), lambda z: z[:, :1, None, None].expand(-1, 1, 3, 3),
                           latent_dim=4, prior="gaussian", image_shape=(1, 3, 3))
    store = la.encode_dataset(model, ds, batch_size=7, progress=False)
    w = enc.weight.detach().numpy().astype(np.float64)
    ref = ds.images.reshape(len(ds), -1).astype(np.float64) @ w.T + enc.bias.detach().numpy()
    np.testing.assert_allclose(store.latents, ref, rtol=1e-5, atol=1e-5)
    assert "model_config" not in store.provenance and store.provenance["model"] == "WrappedModel"


def test_encode_dataset_errors():
    ds = _dataset()
    with pytest.raises(TypeError, match="has no encode"):
        la.encode_dataset(object(), ds)
    with pytest.raises(TypeError, match="latentatlas Dataset"):
        la.encode_dataset(_RecordingEncoder(2, 9), ds.images)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        la.encode_dataset(_RecordingEncoder(2, 9), ds, batch_size=0)

    class Bad:
        def encode(self, x):
            return torch.zeros(x.shape[0] + 1, 2)

    with pytest.raises(ValueError, match="returned shape"):
        la.encode_dataset(Bad(), ds, progress=False)

    class NaN:
        def encode(self, x):
            return torch.full((x.shape[0], 2), float("nan"))

    with pytest.raises(ValueError, match="latents contain NaN"):
        la.encode_dataset(NaN(), ds, progress=False)


def test_store_npz_round_trip(tmp_path):
    store = la.encode_dataset(_RecordingEncoder(4, 9), _dataset(), progress=False)
    path = store.save(tmp_path / "latents.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["latents.npz"]  # no temp file left behind
    back = LatentStore.load(path)
    np.testing.assert_array_equal(back.latents, store.latents)
    np.testing.assert_array_equal(back.labels, store.labels)
    np.testing.assert_array_equal(back.split, store.split)
    np.testing.assert_array_equal(back.classes, store.classes)
    assert back.label_names == ["x", "y"] and back.provenance == store.provenance
    no_classes = LatentStore(store.latents, store.labels, ["x", "y"], store.split)
    assert LatentStore.load(no_classes.save(tmp_path / "b.npz")).classes is None


def test_store_save_is_atomic(tmp_path, monkeypatch):
    store = LatentStore(np.zeros((2, 3), np.float32), np.zeros((2, 0)), [], np.array(["train", "test"]))
    path = store.save(tmp_path / "s.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        store.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["s.npz"]
    with pytest.raises(ValueError, match="directory .* does not exist"):
        store.save(tmp_path / "nope" / "s.npz")


def test_store_load_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        LatentStore.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable latent store"):
        LatentStore.load(tmp_path / "junk.npz")
    for name, data in [("text.npz", b"garbage\n"), ("bare.npz", None), ("empty.npz", b"")]:
        if data is None:
            np.save(tmp_path / "bare.npy", np.zeros(3))
            os.replace(tmp_path / "bare.npy", tmp_path / name)
        else:
            (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match="not a readable latent store .*not a zip archive") as info:
            LatentStore.load(tmp_path / name)
        assert "pickle" not in str(info.value)  # no advice to unpickle an untrusted file
    np.savez(tmp_path / "other.npz", latents=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"missing arrays \['format'"):
        LatentStore.load(tmp_path / "other.npz")
    np.savez(tmp_path / "pickled.npz", format=np.array(1), latents=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable latent store"):
        LatentStore.load(tmp_path / "pickled.npz")
    store = LatentStore(np.zeros((1, 2), np.float32), np.zeros((1, 0)), [], np.array(["train"]))
    store.save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as npz:
        arrays = dict(npz)
    np.savez(tmp_path / "v9.npz", **{**arrays, "format": np.array(9)})
    with pytest.raises(ValueError, match="unsupported latent store format 9"):
        LatentStore.load(tmp_path / "v9.npz")
    np.savez(tmp_path / "prov.npz", **{**arrays, "provenance": np.array("{not json")})
    with pytest.raises(ValueError, match="provenance is not valid JSON"):
        LatentStore.load(tmp_path / "prov.npz")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"latents": np.zeros((2,), np.float32)}, ValueError, r"latents must have shape \(N, D\)"),
        ({"latents": np.zeros((2, 3), np.int32)}, TypeError, "floating point"),
        ({"latents": np.full((2, 3), np.inf, np.float32)}, ValueError, "NaN or infinite"),
        ({"labels": np.zeros((3, 1))}, ValueError, "labels must have shape"),
        ({"split": np.array(["train", "nope"])}, ValueError, "train/valid/test"),
        ({"provenance": {"when": object()}}, TypeError, "JSON-serialisable"),
    ],
)
def test_store_validation(kwargs, exc, match):
    base = dict(latents=np.zeros((2, 3), np.float32), labels=np.zeros((2, 1)), label_names=["a"],
                split=np.array(["train", "test"]))
    with pytest.raises(exc, match=match):
        LatentStore(**{**base, **kwargs})


def test_json_vectors_round_trip_and_plat_format(tmp_path):
    vecs = np.random.default_rng(0).standard_normal((4, 7)).astype(np.float32)
    path = write_json_vectors(tmp_path / "v.json", vecs)
    raw = json.loads(path.read_text())
    assert isinstance(raw, list) and len(raw) == 4 and all(len(r) == 7 for r in raw)
    np.testing.assert_array_equal(read_json_vectors(path), vecs)
    # A file written by hand (as plat does, json.dump of a list of lists) reads back the same.
    (tmp_path / "plat.json").write_text(json.dumps([[1, 2.5], [-3, 0]]))
    np.testing.assert_array_equal(read_json_vectors(tmp_path / "plat.json"), [[1, 2.5], [-3, 0]])
    store = LatentStore(vecs, np.zeros((4, 0)), [], np.array(["train"] * 4))
    np.testing.assert_array_equal(read_json_vectors(store.to_json(tmp_path / "s.json")), vecs)
    write_json_vectors(tmp_path / "t.json", torch.ones(2, 3))
    assert read_json_vectors(tmp_path / "t.json").shape == (2, 3)


@pytest.mark.parametrize(
    "text, match",
    [
        ("[[1, 2], [3]]", "same non-zero length"),
        ("[[]]", "same non-zero length"),
        ("[1, 2, 3]", "list of lists"),
        ("[]", "list of lists"),
        ('{"a": [1]}', "list of lists"),
        ('[[1, "x"]]', "non-numeric"),
        ("[[1, true]]", "non-numeric"),
        ("[[1, NaN]]", "non-finite"),
        ("[[1, 2]", "not valid JSON"),
    ],
)
def test_read_json_vectors_errors(tmp_path, text, match):
    (tmp_path / "v.json").write_text(text)
    with pytest.raises(ValueError, match=match):
        read_json_vectors(tmp_path / "v.json")


def test_write_json_vectors_errors(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        write_json_vectors(tmp_path / "v.json", np.zeros(3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        write_json_vectors(tmp_path / "v.json", np.array([[np.nan]]))
    with pytest.raises(TypeError, match="numeric"):
        write_json_vectors(tmp_path / "v.json", np.array([["a"]]))
    with pytest.raises(ValueError, match="does not exist"):
        read_json_vectors(tmp_path / "missing.json")


def test_vector_set_round_trips_npz_and_json(tmp_path):
    from latentatlas.data import VectorSet

    rng = np.random.default_rng(0)
    vs = VectorSet(rng.normal(size=(3, 5)), ["a", "b", "c"], {"kinds": {"a": "mean_difference"}})
    back = VectorSet.load(vs.save(tmp_path / "v.npz"))
    np.testing.assert_array_equal(back.vectors, vs.vectors)
    assert back.names == ["a", "b", "c"] and back.provenance == vs.provenance and back.latent_dim == 5
    np.testing.assert_array_equal(back["b"], vs.vectors[1])
    assert back.select(["c", "a"]).names == ["c", "a"]
    js = VectorSet.load(vs.to_json(tmp_path / "v.json"))
    assert js.names == ["0", "1", "2"]
    np.testing.assert_allclose(js.vectors, vs.vectors, rtol=1e-6)


def test_vector_set_errors(tmp_path):
    from latentatlas.data import LatentStore, VectorSet

    with pytest.raises(ValueError, match="distinct"):
        VectorSet(np.ones((2, 3)), ["a", "a"])
    with pytest.raises(ValueError, match="NaN"):
        VectorSet(np.full((1, 3), np.nan), ["a"])
    with pytest.raises(ValueError, match="name the 2 vectors"):
        VectorSet(np.ones((2, 3)), ["a"])
    with pytest.raises(ValueError, match="no vector named 'z'; the names are a"):
        VectorSet(np.ones((1, 3)), ["a"])["z"]
    store = LatentStore(np.ones((2, 3), np.float32), np.zeros((2, 1), np.uint8), ["x"], np.array(["train"] * 2))
    with pytest.raises(ValueError, match="not a vector file: missing arrays"):
        VectorSet.load(store.save(tmp_path / "s.npz"))
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable vector file"):
        VectorSet.load(tmp_path / "bad.npz")
