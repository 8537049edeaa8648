"""latentatlas classify: the printed and saved table is accuracy_table's; plots per attribute."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
from conftest import assert_one_error_line, run_cli

from latentatlas import atdot
from latentatlas.data import LatentStore


def test_classify_prints_and_saves_the_accuracy_table(tmp_path, capsys, digits_store):
    out = tmp_path / "atdot"
    code, stdout, _ = run_cli(capsys, "classify", "--store", digits_store, "--attributes", "0,8", "--seed", 1,
                              "--out", out)
    assert code == 0
    store = LatentStore.load(digits_store)
    tr, te = store.split == "train", store.split == "test"
    expected = atdot.accuracy_table(store.latents[tr], store.labels[tr][:, [0, 8]], store.latents[te],
                                    store.labels[te][:, [0, 8]], label_names=["0", "8"], seed=1)
    assert atdot.format_table(expected) in stdout
    saved = json.loads((out / "atdot.json").read_text())
    assert saved["table"] == expected and saved["test_rows"] == int(te.sum())
    with open(out / "atdot.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["attribute"] for r in rows] == ["0", "8", "average"]
    np.testing.assert_allclose([float(r["atdot"]) for r in rows], [r["atdot"] for r in expected], rtol=1e-5)
    assert sorted(os.listdir(out)) == ["atdot.csv", "atdot.json", "hist_0.png", "hist_8.png", "roc_0.png", "roc_8.png"]
    for name in ("roc_0.png", "hist_8.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {out / name}" in stdout


def test_classify_with_balanced_vectors_and_no_plots(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, size=(n, 2)).astype(np.uint8)
    z = (rng.normal(size=(n, 4)) + 2 * y @ np.array([[1, 0, 0, 0], [0, 1, 0, 0]])).astype(np.float32)
    split = np.where(np.arange(n) < 300, "train", "valid")
    path = tmp_path / "s.npz"
    LatentStore(z, y, ["p", "q"], split).save(path)
    code, stdout, _ = run_cli(capsys, "classify", "--store", path, "--balance", "p,q", "--test-split", "valid",
                              "--no-plots", "--out", tmp_path / "o")
    assert code == 0
    expected = atdot.accuracy_table(z[:300], y[:300], z[300:], y[300:], label_names=["p", "q"], balance=["p", "q"])
    assert atdot.format_table(expected) in stdout
    assert sorted(os.listdir(tmp_path / "o")) == ["atdot.csv", "atdot.json"]


def test_classify_errors(tmp_path, capsys, digits_store):
    only_train = tmp_path / "t.npz"
    LatentStore(np.eye(4, 3, dtype=np.float32), np.array([[0], [1], [0], [1]], np.uint8), ["a"],
                np.array(["train"] * 4)).save(only_train)
    (tmp_path / "junk.npz").write_text("not a store")
    cases = [
        (["--store", digits_store, "--attributes", "3,x"], r"unknown attribute 'x'"),
        (["--store", only_train], r"the 'test' split is empty"),
        (["--store", tmp_path / "junk.npz"], r"--store: .*not a readable latent store"),
        (["--store", tmp_path / "missing.npz"], r"latent store .*missing.npz' does not exist"),
        (["--store", digits_store, "--attributes", "3", "--balance", "4"], r"unknown attribute|must be among"),
    ]
    for argv, pattern in cases:
        code, _, err = run_cli(capsys, "classify", *argv, "--out", tmp_path / "o")
        assert_one_error_line(code, err, pattern)
    assert sorted(os.listdir(tmp_path)) == ["junk.npz", "t.npz"]
