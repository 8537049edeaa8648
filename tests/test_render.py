"""Image sheets and GIFs: layout arithmetic, exact cell contents, clipping, nearest
upscaling, labels, atomic writes and every error path."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from latentatlas import render


def batch(n: int, c: int = 1, h: int = 8, w: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def u8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def test_grayscale_layout_and_cells_exact():
    imgs = batch(5)
    sheet = render.image_sheet(imgs, 2, 3, pad=1, pad_value=0.0, scale=2)
    # pad + rows * (H*scale + pad) by pad + cols * (W*scale + pad)
    assert sheet.shape == (1 + 2 * 17, 1 + 3 * 17)
    assert sheet.dtype == np.uint8
    for i in range(5):
        r, c = divmod(i, 3)
        y, x = 1 + r * 17, 1 + c * 17
        cell = sheet[y:y + 16, x:x + 16]
        # nearest upscaling: every 2x2 block is one source pixel
        np.testing.assert_array_equal(cell[::2, ::2], u8(imgs[i, 0]))
        np.testing.assert_array_equal(cell[1::2, 1::2], u8(imgs[i, 0]))
    # the sixth cell and all padding stay background
    assert (sheet[18:34, 35:51] == 0).all()
    assert (sheet[0, :] == 0).all() and (sheet[:, 17] == 0).all()


def test_rgb_layout_channels_and_pad_value():
    imgs = np.zeros((2, 3, 4, 4), np.float32)
    imgs[0, 0] = 1.0  # red
    imgs[1, 2] = 1.0  # blue
    sheet = render.image_sheet(imgs, 1, 2, pad=2, pad_value=1.0, scale=1)
    assert sheet.shape == (2 + 6, 2 + 2 * 6, 3)
    np.testing.assert_array_equal(sheet[2, 2], [255, 0, 0])
    np.testing.assert_array_equal(sheet[2, 8], [0, 0, 255])
    np.testing.assert_array_equal(sheet[0, 0], [255, 255, 255])


def test_values_are_clipped():
    imgs = np.array([[[[-3.0, 0.5], [1.0, 7.0]]]], np.float32)
    sheet = render.image_sheet(imgs, 1, 1, pad=0, scale=1)
    np.testing.assert_array_equal(sheet, [[0, 128], [255, 255]])


def test_auto_scale_makes_tiny_images_visible():
    assert render.auto_scale(8, 8) == 8
    assert render.auto_scale(28, 28) == 3
    assert render.auto_scale(64, 80) == 1
    sheet = render.image_sheet(batch(1), 1, 1, pad=0)
    assert sheet.shape == (64, 64)


def test_torch_input_matches_numpy():
    imgs = batch(3, c=3)
    np.testing.assert_array_equal(render.image_sheet(torch.from_numpy(imgs), 2, 2),
                                  render.image_sheet(imgs, 2, 2))


def test_labels_add_bands_with_ink():
    imgs = batch(4)
    plain = render.image_sheet(imgs, 2, 2, pad=1, pad_value=1.0, scale=4)
    labelled = render.image_sheet(imgs, 2, 2, pad=1, pad_value=1.0, scale=4,
                                  row_labels=["lerp", "slerp"], col_labels=["t=0", "t=1"])
    top = labelled.shape[0] - plain.shape[0]
    left = labelled.shape[1] - plain.shape[1]
    assert top > 0 and left > 0
    np.testing.assert_array_equal(labelled[top:, left:], plain)
    assert (labelled[:top] < 128).any()  # dark text on the white band
    assert (labelled[:, :left] < 128).any()


def test_empty_batch_gives_blank_sheet():
    sheet = render.image_sheet(np.zeros((0, 1, 8, 8), np.float32), 1, 2, pad=1, pad_value=0.5, scale=1)
    assert sheet.shape == (10, 19) and (sheet == 128).all()


@pytest.mark.parametrize("images, rows, cols, kwargs, err, match", [
    (np.full((1, 1, 2, 2), np.nan, np.float32), 1, 1, {}, ValueError, "NaN"),
    (np.zeros((1, 8, 8), np.float32), 1, 1, {}, ValueError, r"NCHW .* got shape \(1, 8, 8\)"),
    (np.zeros((1, 2, 8, 8), np.float32), 1, 1, {}, ValueError, "C = 2"),
    (np.zeros((1, 1, 0, 8), np.float32), 1, 1, {}, ValueError, "empty images"),
    (np.zeros((1, 1, 8, 8), np.uint8), 1, 1, {}, TypeError, "divide uint8"),
    ([[0.5]], 1, 1, {}, TypeError, "numpy array or a torch tensor"),
    (np.zeros((5, 1, 2, 2), np.float32), 2, 2, {}, ValueError, "holds only 4"),
    (np.zeros((1, 1, 2, 2), np.float32), 0, 1, {}, ValueError, "rows must be >= 1"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 1.5, {}, TypeError, "cols must be an int"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 1, {"pad_value": 2.0}, ValueError, r"pad_value must lie in \[0, 1\]"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 1, {"scale": 0}, ValueError, "scale must be >= 1"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 1, {"pad": -1}, ValueError, "pad must be >= 0"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 2, {"col_labels": ["a"]}, ValueError, "col_labels must have 2"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 1, {"row_labels": "a"}, TypeError, "not a single string"),
    (np.zeros((1, 1, 2, 2), np.float32), 1, 1, {"row_labels": [3]}, TypeError, "contain strings"),
])
def test_image_sheet_errors(images, rows, cols, kwargs, err, match):
    with pytest.raises(err, match=match):
        render.image_sheet(images, rows, cols, **kwargs)


def test_save_image_round_trip_and_no_temp_left(tmp_path):
    sheet = render.image_sheet(batch(3, c=3), 1, 3)
    path = tmp_path / "sheet.png"
    assert render.save_image(sheet, path) == str(path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), sheet)
    assert os.listdir(tmp_path) == ["sheet.png"]


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "sheet.png"
    path.write_bytes(b"old")

    def broken(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        render.save_image(render.image_sheet(batch(1), 1, 1), path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["sheet.png"]


def test_save_image_errors(tmp_path):
    sheet = render.image_sheet(batch(1), 1, 1)
    with pytest.raises(ValueError, match="image format"):
        render.save_image(sheet, tmp_path / "sheet.bmpx")
    with pytest.raises(ValueError, match="does not exist"):
        render.save_image(sheet, tmp_path / "missing" / "sheet.png")
    with pytest.raises(TypeError, match="uint8"):
        render.save_image(sheet.astype(np.float32), tmp_path / "sheet.png")
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\)"):
        render.save_image(np.zeros((4, 4, 2), np.uint8), tmp_path / "sheet.png")


def test_save_gif_frames_and_boomerang(tmp_path):
    frames = np.stack([np.full((1, 4, 4), v, np.float32) for v in (0.0, 0.5, 1.0, 0.25)])
    path = render.save_gif(frames, tmp_path / "walk.gif", scale=2, duration_ms=50)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.size == (8, 8)
        seen = []
        for i in range(gif.n_frames):
            gif.seek(i)
            seen.append(int(np.asarray(gif.convert("L"))[0, 0]))
    assert seen == [0, 128, 255, 64]
    path = render.save_gif(frames, tmp_path / "walk.gif", boomerang=True)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 + 2  # there, and back without repeating the ends
    assert sorted(os.listdir(tmp_path)) == ["walk.gif"]


def test_save_gif_errors(tmp_path):
    with pytest.raises(ValueError, match="at least one frame"):
        render.save_gif(np.zeros((0, 1, 4, 4), np.float32), tmp_path / "w.gif")
    with pytest.raises(ValueError, match=r"\.gif"):
        render.save_gif(batch(2), tmp_path / "w.png")
    with pytest.raises(ValueError, match="duration_ms must be >= 1"):
        render.save_gif(batch(2), tmp_path / "w.gif", duration_ms=0)
