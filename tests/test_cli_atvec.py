"""latentatlas atvec: the written vectors equal the library's on the same rows."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import assert_one_error_line, run_cli

from latentatlas import attributes
from latentatlas.data import LatentStore, VectorSet


def test_mean_difference_balanced_and_centroids_from_a_store(tmp_path, capsys, digits_store):
    out, js = tmp_path / "v.npz", tmp_path / "v.json"
    code, stdout, _ = run_cli(capsys, "atvec", "--store", digits_store, "--attributes", "3,8", "--balance", "1,7",
                              "--drop-empty", "--centroids", "-o", out, "--json", js)
    assert code == 0 and "note: balancing without empty cell(s) (1=1, 7=1)" in stdout and f"wrote {js}" in stdout
    store = LatentStore.load(digits_store)
    train = store.split == "train"
    z, y = store.latents[train], store.labels[train]
    vs = VectorSet.load(out)
    assert vs.names[:4] == ["3", "8", "balanced:1", "balanced:7"] and len(vs) == 4 + 45
    np.testing.assert_allclose(vs.vectors[:2], attributes.mean_difference(z, y[:, [3, 8]]), rtol=1e-12)
    with pytest.warns(RuntimeWarning):
        np.testing.assert_allclose(vs.vectors[2:4], attributes.balanced(z, y, [1, 7], empty="drop"), rtol=1e-12)
    centroids = attributes.centroid_vectors(z, store.classes[train])
    np.testing.assert_allclose(vs["centroid:2-9"], centroids[(2, 9)], rtol=1e-12)
    assert vs.provenance["kinds"]["centroid:2-9"] == {"kind": "centroid", "minuend": 2, "subtrahend": 9}
    assert vs.provenance["kinds"]["3"]["positives"] == int(y[:, 3].sum())
    np.testing.assert_allclose(np.array(json.loads(js.read_text())), vs.vectors, rtol=1e-12)


def test_all_attributes_by_default_and_synthetic_vectors(tmp_path, capsys, digits, digits_vae):
    out = tmp_path / "v.npz"
    code, _, _ = run_cli(capsys, "atvec", "-m", "digits-vae", "--data", "digits", "--split", "test",
                         "--attributes", "0", "--augment", "blur,noise", "--seed", 3, "-o", out)
    assert code == 0
    vs = VectorSet.load(out)
    test = digits.subset("test")
    assert vs.names == ["0", "synthetic:blur", "synthetic:noise"]
    z = digits_vae.encode(test.images)
    np.testing.assert_allclose(vs["0"], attributes.mean_difference(z, test.labels[:, 0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vs["synthetic:blur"], attributes.synthetic(digits_vae, test.images, "blur"), rtol=1e-6)
    np.testing.assert_allclose(vs["synthetic:noise"], attributes.synthetic(digits_vae, test.images, "noise", seed=3),
                               rtol=1e-6)
    code, _, _ = run_cli(capsys, "atvec", "-m", "digits-vae", "--data", "digits", "-o", out)
    assert code == 0 and VectorSet.load(out).names == [str(d) for d in range(10)]


def test_atvec_errors(tmp_path, capsys, digits_store):
    no_classes = tmp_path / "nc.npz"
    LatentStore(np.eye(4, 3, dtype=np.float32), np.array([[0], [1], [0], [1]], np.uint8), ["a"],
                np.array(["train"] * 4)).save(no_classes)
    out = tmp_path / "v.npz"
    cases = [
        (["--store", digits_store, "--attributes", "3,smiling"], r"unknown attribute 'smiling'; the label names are 0, 1"),
        (["--store", digits_store, "--balance", "1,7"], r"empty cell.*pass --drop-empty"),
        (["--attributes", "3"], r"give --store, or --model and --data"),
        (["--store", digits_store, "--augment", "blur"], r"--augment encodes augmented images: it needs --model and --data"),
        (["--store", digits_store, "--augment", "sepia", "-m", "digits-vae", "--data", "digits"], "unknown augmentation 'sepia'"),
        (["--store", digits_store, "-m", "digits-gan"], "latent size 20 but the model 'digits-gan' has 10"),
        (["--store", no_classes, "--centroids"], "--centroids needs class ids"),
        (["--store", no_classes, "--split", "test"], "the 'test' split is empty"),
    ]
    for argv, pattern in cases:
        code, _, err = run_cli(capsys, "atvec", *argv, "-o", out)
        assert_one_error_line(code, err, pattern)
    assert os.listdir(tmp_path) == ["nc.npz"]
