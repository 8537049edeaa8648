"""latentatlas sample: prior sheets, grids, strips, J-Diagrams, MINE grids and walks, checked
against the library functions they drive."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import assert_one_error_line, run_cli
from PIL import Image

from latentatlas import grids, sampling, sheets
from latentatlas.data import LatentStore


def _png(path):
    with Image.open(path) as im:
        return np.asarray(im)


def _json(path):
    return np.array(json.loads(path.read_text()), dtype=np.float32)


def test_random_sheet_decodes_the_seeded_prior(tmp_path, capsys, digits_vae):
    out, lat = tmp_path / "r.png", tmp_path / "r.json"
    code, stdout, _ = run_cli(capsys, "sample", "random", "-m", "digits-vae", "--rows", 3, "--cols", 4,
                              "--seed", 7, "-o", out, "--save-latents", lat, "--device", "cpu")
    assert code == 0 and stdout.strip().endswith(f"wrote {lat}")
    z = sampling.sample_grid(digits_vae, 3, 4, seed=7)
    np.testing.assert_array_equal(_json(lat), z.reshape(12, -1))
    np.testing.assert_array_equal(_png(out), sheets.latent_grid_sheet(digits_vae, z))


def test_grid_from_store_rows_is_the_interpolation_grid(tmp_path, capsys, digits_vae, digits_store):
    out, lat = tmp_path / "g.png", tmp_path / "g.json"
    code, stdout, _ = run_cli(capsys, "sample", "grid", "-m", "digits-vae", "--store", digits_store,
                              "--indices", "3,1,4,15", "--rows", 4, "--cols", 5, "--method", "lerp-gaussian",
                              "-o", out, "--save-latents", lat)
    assert code == 0 and "rows [3, 1, 4, 15]" in stdout
    store = LatentStore.load(digits_store)
    grid = grids.interpolation_grid(store.latents[[3, 1, 4, 15]], 4, 5, method="lerp_gaussian")
    np.testing.assert_allclose(_json(lat), grid.reshape(20, -1), rtol=1e-6)
    np.testing.assert_array_equal(_png(out), sheets.latent_grid_sheet(digits_vae, grid))


def test_strips_and_walk(tmp_path, capsys, digits_vae):
    lat = tmp_path / "s.json"
    code, _, _ = run_cli(capsys, "sample", "strips", "-m", "digits-vae", "--pairs", 2, "--steps", 5,
                         "--methods", "lerp,slerp", "-o", tmp_path / "s.png", "--save-latents", lat)
    assert code == 0
    z = sampling.sample_latents(digits_vae, 4, seed=0)
    np.testing.assert_allclose(_json(lat), grids.interpolation_strips(z[:2], z[2:], 5).reshape(20, -1), rtol=1e-6)

    gif, lat = tmp_path / "w.gif", tmp_path / "w.json"
    code, _, _ = run_cli(capsys, "sample", "walk", "-m", "digits-vae", "--anchors", 3, "--steps", 4, "--seed", 2,
                         "-o", gif, "--save-latents", lat)
    assert code == 0
    walk, keys = _json(lat), sampling.sample_latents(digits_vae, 3, seed=2)
    with Image.open(gif) as im:
        assert walk.shape == (12, 20) and im.n_frames == 12  # 3 legs of 4, back to the start
    np.testing.assert_allclose(walk[[0, 4, 8]], keys, rtol=1e-6)


def test_jdiagram_from_data_shows_the_inputs(tmp_path, capsys, digits, digits_vae):
    out = tmp_path / "jd.png"
    code, stdout, _ = run_cli(capsys, "sample", "jdiagram", "-m", "digits-vae", "--data", "digits",
                              "--rows", 5, "--cols", 6, "-o", out)
    assert code == 0
    images, rows = sheets.first_images(digits, 3)
    assert f"rows {list(map(int, rows))}" in stdout
    np.testing.assert_array_equal(_png(out), sheets.j_diagram_sheet(digits_vae, images, 5, 6))


def test_mine_grid_from_a_store(tmp_path, capsys, digits_vae, digits_store):
    lat = tmp_path / "m.json"
    code, stdout, _ = run_cli(capsys, "sample", "mine", "-m", "digits-vae", "--store", digits_store,
                              "--rows", 5, "--cols", 5, "--spacing", 2, "-o", tmp_path / "m.png", "--save-latents", lat)
    assert code == 0
    store = LatentStore.load(digits_store)
    pool = np.flatnonzero(store.split != "train")
    seed_row = int(np.flatnonzero(store.split == "valid")[0])
    _, grid = sheets.mine_sheet(digits_vae, store.latents[seed_row], store.latents[pool], 5, 5, spacing=2)
    np.testing.assert_allclose(_json(lat), grid.latents.reshape(25, -1), rtol=1e-6)
    assert f"to row {seed_row}" in stdout and str(int(pool[grid.anchor_ids[0, 0]])) in stdout


@pytest.mark.parametrize("argv, pattern", [
    (["grid", "--indices", "1,2"], "--indices needs --store or --data"),
    (["grid", "--data", "digits", "--indices", "1,2,3,4,5"], "a grid needs 2, 3 or 4 anchors, got 5"),
    (["jdiagram", "--data", "digits", "--indices", "1,2,99999"], "row 99999 is out of range"),
    (["mine"], "give --store or --data"),
    (["walk", "--anchors", "1"], "at least 2 anchors"),
    (["strips", "--methods", "lerp,cubic"], "unknown method 'cubic'"),
    (["mine", "--data", "digits", "--rows", 4], r"rows - 1 must be a multiple of spacing"),
])
def test_sample_errors(tmp_path, capsys, argv, pattern):
    out = tmp_path / ("x.gif" if argv[0] == "walk" else "x.png")
    code, _, err = run_cli(capsys, "sample", argv[0], "-m", "digits-vae", "-o", out, *argv[1:])
    assert_one_error_line(code, err, pattern)
    assert os.listdir(tmp_path) == []


def test_sample_file_errors(tmp_path, capsys):
    small = LatentStore(np.zeros((4, 5), np.float32), np.zeros((4, 1), np.uint8), ["a"], np.array(["valid"] * 4))
    small.save(tmp_path / "d5.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK junk")
    for store, pattern in ((tmp_path / "d5.npz", "the store's latents have latent size 5 but the model 'digits-vae' has 20"),
                           (tmp_path / "junk.npz", r"--store: .*not a readable latent store"),
                           (tmp_path / "none.npz", "does not exist")):
        code, _, err = run_cli(capsys, "sample", "grid", "-m", "digits-vae", "--store", store, "-o", tmp_path / "g.png")
        assert_one_error_line(code, err, pattern)
    code, _, err = run_cli(capsys, "sample", "walk", "-m", "digits-vae", "-o", tmp_path / "w.png")
    assert_one_error_line(code, err, r"must end in \.gif")
    code, _, err = run_cli(capsys, "sample", "grid", "-m", "digits-vae", "--method", "cubic", "-o", tmp_path / "g.png")
    assert code == 2 and "invalid choice" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["d5.npz", "junk.npz"]
