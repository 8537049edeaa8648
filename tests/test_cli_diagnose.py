"""latentatlas diagnose: the written report equals la.diagnostics.prior_gap on the same
encodings, the plots are written, and bad arguments are one error line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_error_line, run_cli
from PIL import Image

from latentatlas import diagnostics, models
from latentatlas.data import LatentStore, load_digits


def test_diagnose_a_model_on_data_writes_the_library_report(capsys, tmp_path, one_thread):
    out = tmp_path / "gan"
    code, stdout, err = run_cli(capsys, "diagnose", "--model", "digits-gan", "--data", "digits", "--out", out,
                                "--permutations", 20, "--mmd-points", 200, "--device", "cpu")
    assert code == 0, err
    gan = models.load("digits-gan")
    z = gan.encode(load_digits().images)
    ref = diagnostics.prior_gap(z, gan, seed=0, n_permutations=20, mmd_points=200, label="digits-gan on digits")
    got = json.loads((out / "report.json").read_text())
    want = ref.to_dict()
    assert got.keys() == want.keys() and got["prior"] == "uniform" and got["n"] == len(z)
    for key in ("active_units", "n_prior", "n_neighbors", "q", "label"):
        assert got[key] == want[key]
    for key in ("dim_mean", "dim_var", "dim_ks", "off_manifold", "off_manifold_threshold"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["mmd"]["mmd2"], want["mmd"]["mmd2"], rtol=1e-4, atol=1e-7)
    assert ref.summary().splitlines()[1] in stdout and "off-manifold probability" in stdout
    for name in ("report.json", "dims.png", "norms.png", "off_manifold.png"):
        assert f"wrote {out / name}" in stdout
    for name in ("dims.png", "norms.png", "off_manifold.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 200 and im.size[1] > 100


def test_diagnose_a_store_split_and_a_named_prior(capsys, tmp_path, digits_store):
    code, stdout, _ = run_cli(capsys, "diagnose", "--store", digits_store, "--model", "digits-vae", "--split", "test",
                              "--q", 0.9, "--permutations", 10, "--no-plots", "--out", tmp_path / "a")
    assert code == 0
    store = LatentStore.load(digits_store)
    z = store.latents[store.split == "test"]
    got = json.loads((tmp_path / "a" / "report.json").read_text())
    ref = diagnostics.prior_gap(z, "gaussian", q=0.9, n_permutations=10)
    assert got["n"] == len(z) and got["q"] == 0.9 and got["active_units"] == ref.active_units
    assert got["off_manifold"] == pytest.approx(ref.off_manifold)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["report.json"]
    code, stdout, _ = run_cli(capsys, "diagnose", "--store", digits_store, "--prior", "uniform", "--permutations", 5,
                              "--no-plots", "--out", tmp_path / "b", "--compare", tmp_path / "a" / "report.json")
    assert code == 0 and json.loads((tmp_path / "b" / "report.json").read_text())["prior"] == "uniform"
    comparison = json.loads((tmp_path / "b" / "comparison.json").read_text())
    a = diagnostics.PriorGapReport.load(tmp_path / "a" / "report.json")
    b = diagnostics.PriorGapReport.load(tmp_path / "b" / "report.json")
    assert comparison == diagnostics.compare(b, a, names=comparison["names"])
    assert comparison["names"] == [b.label, a.label] and a.label.startswith("digits-vae on ")
    assert diagnostics.format_comparison(comparison) in stdout


def test_diagnose_errors(capsys, tmp_path, digits_store):
    small = tmp_path / "small.npz"
    LatentStore(np.zeros((5, 3), np.float32), np.zeros((5, 1), np.uint8), ["a"], np.array(["train"] * 5)).save(small)
    out = tmp_path / "o"
    cases = [
        (["--store", digits_store, "--out", out], "give --model .* or --prior"),
        (["--store", digits_store, "--model", "digits-vae", "--prior", "uniform", "--out", out], "contradicts"),
        (["--store", digits_store, "--model", "digits-gan", "--out", out], "latent size 20 but the model"),
        (["--store", digits_store, "--model", "digits-vae", "--data", "digits", "--out", out], "not both"),
        (["--prior", "gaussian", "--data", "digits", "--out", out], "give --model"),
        (["--prior", "gaussian", "--out", out], "give --store, or --model and --data"),
        (["--store", small, "--prior", "gaussian", "--out", out], "at least 10 encodings"),
        (["--store", digits_store, "--prior", "gaussian", "--out", tmp_path / "x" / "y"], "does not exist"),
        (["--store", digits_store, "--prior", "gaussian", "--out", out, "--compare", small], "cannot read the report"),
    ]
    for argv, pattern in cases:
        code, _, err = run_cli(capsys, "diagnose", *argv)
        assert_one_error_line(code, err, pattern)
    code, _, err = run_cli(capsys, "diagnose", "--store", digits_store, "--prior", "gaussian", "--q", "1.5",
                           "--out", out)
    assert code == 2 and "expected a number in (0, 1), got '1.5'" in err
