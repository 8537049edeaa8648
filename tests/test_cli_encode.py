"""latentatlas encode: a data set through a checkpoint into a latent store."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import assert_one_error_line, run_cli

from latentatlas.data import LatentStore


def test_encode_writes_the_model_encodings_with_labels_and_splits(tmp_path, capsys, digits, digits_vae):
    out, js = tmp_path / "z.npz", tmp_path / "z.json"
    code, stdout, _ = run_cli(capsys, "encode", "-m", "digits-vae", "--data", "digits", "-o", out, "--json", js,
                              "--device", "cpu", "--batch-size", "500", "--no-progress")
    assert code == 0
    assert f"wrote {out}" in stdout and f"wrote {js}" in stdout and "train 1438" in stdout
    store = LatentStore.load(out)
    np.testing.assert_allclose(store.latents, digits_vae.encode(digits.images), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(store.labels, digits.labels)
    np.testing.assert_array_equal(store.split, digits.split)
    np.testing.assert_array_equal(store.classes, digits.classes)
    assert store.label_names == digits.label_names
    assert store.provenance["model_name"] == "digits-vae" and "encode" in store.provenance["command"]
    np.testing.assert_allclose(np.array(json.loads(js.read_text())), store.latents, rtol=1e-6)


@pytest.mark.parametrize("argv, pattern", [
    (["-m", "nowhere/ckpt", "--data", "digits"], r"^latentatlas encode: error: no checkpoint at 'nowhere/ckpt'"),
    (["-m", "shapes-vae", "--data", "digits"], r"takes images of shape \(3, 32, 32\).*digits images are \(1, 8, 8\)"),
    (["-m", "digits-vae", "--data", "mnist"], r"--data mnist needs --data-root"),
    (["-m", "digits-vae", "--data", "digits", "--device", "cuda:7"], r"(CUDA is not available|device)"),
])
def test_encode_errors_are_one_line(tmp_path, capsys, argv, pattern):
    out = tmp_path / "z.npz"
    code, _, err = run_cli(capsys, "encode", *argv, "-o", out, "--no-progress")
    assert_one_error_line(code, err, pattern)
    assert not out.exists() and os.listdir(tmp_path) == []


def test_encode_checks_outputs_before_working(tmp_path, capsys):
    code, _, err = run_cli(capsys, "encode", "-m", "digits-vae", "--data", "digits", "-o", tmp_path / "z.txt")
    assert_one_error_line(code, err, r"must end in \.npz")
    code, _, err = run_cli(capsys, "encode", "-m", "digits-vae", "--data", "digits", "-o", tmp_path / "no" / "z.npz")
    assert_one_error_line(code, err, "does not exist")


def test_a_bad_checkpoint_folder_is_one_error_line(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    code, _, err = run_cli(capsys, "encode", "-m", folder, "--data", "digits", "-o", tmp_path / "z.npz")
    assert_one_error_line(code, err, "not valid JSON")
    assert not (tmp_path / "z.npz").exists()
