"""latentatlas edit: edited latents are z + sum_k alpha_k v_k; sheets decode them."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import assert_one_error_line, run_cli
from PIL import Image

from latentatlas import render, sampling
from latentatlas.commands.edit import strength_groups
from latentatlas.data import LatentStore, VectorSet


@pytest.fixture()
def vectors(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "v.npz"
    VectorSet(rng.normal(size=(3, 20)), ["a", "b", "c"], {}).save(path)
    return path


def test_store_edit_moves_every_latent(tmp_path, capsys, digits_store, vectors):
    out = tmp_path / "e.npz"
    code, stdout, _ = run_cli(capsys, "edit", "--store", digits_store, "--vectors", vectors,
                              "--strength", "a=1.5", "--strength", "c=-0.5", "-o", out)
    assert code == 0 and "1.5·a + -0.5·c" in stdout
    src, got, vs = LatentStore.load(digits_store), LatentStore.load(out), VectorSet.load(vectors)
    expected = src.latents + (1.5 * vs["a"] - 0.5 * vs["c"]).astype(np.float32)
    np.testing.assert_allclose(got.latents, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got.labels, src.labels)
    np.testing.assert_array_equal(got.split, src.split)
    assert got.provenance["edit"]["names"] == ["a", "c"] and got.provenance["edit"]["strengths"] == [1.5, -0.5]

    code, _, _ = run_cli(capsys, "edit", "--store", digits_store, "--vectors", vectors, "--use", "b",
                         "--strength=-2", "--indices", "4,0", "-o", out)
    got = LatentStore.load(out)
    assert code == 0 and len(got) == 2
    np.testing.assert_allclose(got.latents, src.latents[[4, 0]] - 2 * vs["b"].astype(np.float32), rtol=1e-5, atol=1e-6)


def test_image_sheet_is_the_decoded_traversal(tmp_path, capsys, digits, digits_vae, vectors):
    out = tmp_path / "e.png"
    code, _, _ = run_cli(capsys, "edit", "-m", "digits-vae", "--data", "digits", "--indices", "7,3",
                         "--vectors", vectors, "--use", "a,b", "--strength", "-1,0,2", "-o", out)
    assert code == 0
    vs = VectorSet.load(vectors)
    images = digits.images[[7, 3]]
    z = sampling.encode_batched(digits_vae, images)
    cells = []
    for i in range(2):
        for name in ("a", "b"):
            moved = z[i] + np.array([-1, 0, 2], np.float32)[:, None] * vs[name].astype(np.float32)
            cells.append(np.concatenate([images[i:i + 1], sampling.decode_batched(digits_vae, moved)]))
    expected = render.image_sheet(np.concatenate(cells), 4, 4, row_labels=["7: a", "7: b", "3: a", "3: b"],
                                  col_labels=["input", "-1", "+0", "+2"])
    with Image.open(out) as im:
        got = np.asarray(im)
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # float32 sums in another order


def test_strength_groups():
    traverse = strength_groups(["a", "b"], [(None, (-1.0, 1.0))])
    assert [g[0] for g in traverse] == ["a", "b"]
    np.testing.assert_array_equal(traverse[1][1], [[0, -1], [0, 1]])
    (label, alphas), = strength_groups(["a", "b"], [("b", (0.0, 2.0)), ("a", (1.0,))])
    assert label == "a + b"
    np.testing.assert_array_equal(alphas, [[1, 0], [1, 2]])
    with pytest.raises(ValueError, match="not both"):
        strength_groups(["a"], [(None, (1.0,)), ("a", (1.0,))])
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        strength_groups(["a", "b"], [("a", (1.0,))])
    with pytest.raises(ValueError, match="lists must match"):
        strength_groups(["a", "b"], [("a", (1.0, 2.0)), ("b", (1.0, 2.0, 3.0))])


def test_edit_errors(tmp_path, capsys, digits_store, vectors):
    (tmp_path / "d5.json").write_text("[[1, 2, 3, 4, 5]]")
    (tmp_path / "nan.json").write_text("[[1, NaN]]")
    cases = [
        (["--store", digits_store, "--vectors", vectors, "--strength", "1", "-o", "e.npz"], "one strength per vector"),
        (["--store", digits_store, "--vectors", vectors, "--strength", "z=1", "-o", "e.npz"], "no vector named 'z'"),
        (["--store", digits_store, "--vectors", tmp_path / "d5.json", "--strength", "1", "-o", "e.npz"],
         "the vectors have latent size 5 but the store has 20"),
        (["--store", digits_store, "--vectors", tmp_path / "nan.json", "--strength", "1", "-o", "e.npz"],
         r"--vectors: .*non-finite"),
        (["--store", digits_store, "--vectors", tmp_path / "none.npz", "--strength", "1", "-o", "e.npz"],
         "vector file .* does not exist"),
        (["--store", digits_store, "--vectors", vectors, "--strength", "1", "-o", "e.png"], "needs --model"),
        (["--data", "digits", "--vectors", vectors, "--use", "a", "--strength", "1", "-o", "e.npz"], "give --model"),
        (["-m", "digits-gan", "--data", "digits", "--vectors", vectors, "--use", "a", "--strength", "1", "-o", "e.png"],
         "the vectors have latent size 20 but the encoded data has 10"),
    ]
    for argv, pattern in cases:
        argv = [str(tmp_path / a) if a in ("e.npz", "e.png") else a for a in argv]
        code, _, err = run_cli(capsys, "edit", *argv)
        assert_one_error_line(code, err, pattern)
    code, _, err = run_cli(capsys, "edit", "--store", digits_store, "--vectors", vectors, "--strength", "nan",
                           "-o", tmp_path / "e.npz")
    assert code == 2 and "expected finite numbers" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["d5.json", "nan.json", "v.npz"]
