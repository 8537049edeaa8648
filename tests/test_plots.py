"""Figures: files are real PNG/SVG of the requested size with the data drawn; bad data is
refused with a message naming the problem and nothing is written."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from latentatlas import plots

C0 = np.array([0x1F, 0x77, 0xB4])  # matplotlib's first line colour


def _colour_pixels(path: str, rgb: np.ndarray = C0, tol: int = 30) -> int:
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB")).astype(int)
    return int(np.sum(np.all(np.abs(pixels - rgb) <= tol, axis=-1)))


def test_line_plot_png_size_and_data(tmp_path):
    path = str(tmp_path / "norm.png")
    t = np.linspace(0, 1, 11)
    out = plots.line_plot(t, {"lerp": 1 - 0.3 * np.sin(np.pi * t), "slerp": np.ones(11)}, path,
                          title="norm along the path", xlabel="t", ylabel="|z|", hlines={"prior": 1.0})
    assert out == path
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (500, 320)
    assert _colour_pixels(path) > 50  # the first series is drawn
    assert [f for f in os.listdir(tmp_path) if f != "norm.png"] == []  # no temporary left


def test_line_plot_svg_contains_labels(tmp_path):
    path = tmp_path / "p.svg"
    plots.line_plot([0, 1, 2], {"alpha-curve": [0.1, 0.5, 0.9]}, path, title="walk 3 to 8")
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "walk 3 to 8" in text and "alpha-curve" in text


def test_small_multiples_layout(tmp_path):
    x = np.linspace(0, 1, 9)
    panels = [(f"{i}->{j}", {"P(start)": 1 - x, "P(end)": x}) for i, j in [(0, 1), (0, 2), (1, 2), (3, 4), (5, 6)]]
    path = str(tmp_path / "walks.png")
    plots.small_multiples(x, panels, path, cols=3, xlabel="alpha", ylabel="P", ylim=(0, 1))
    with Image.open(path) as img:
        w, h = img.size
    assert w == int(round(1.6 * 3 * 100)) and h == int(round((1.3 * 2 + 0.4) * 100))
    assert _colour_pixels(path) > 50


def test_roc_and_histogram(tmp_path):
    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(1, 1, 200), rng.normal(-1, 1, 200)]
    y = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    from latentatlas.atdot import roc_curve, score_histogram

    fpr, tpr, _ = roc_curve(s, y)
    roc = plots.roc_plot({"smiling": (fpr, tpr)}, tmp_path / "roc.png", title="ROC")
    with Image.open(roc) as img:
        assert img.size == (420, 400)
    assert _colour_pixels(roc) > 50
    edges, pos, neg = score_histogram(s, y, bins=20)
    hist = plots.histogram_plot(edges, {"positive": pos, "negative": neg}, tmp_path / "hist.svg", threshold=0.0)
    with open(hist) as fh:
        text = fh.read()
    assert "positive" in text and "threshold 0" in text


def test_scatter_plot(tmp_path):
    rng = np.random.default_rng(1)
    pts = np.r_[rng.normal(-2, 0.3, (50, 2)), rng.normal(2, 0.3, (50, 2))]
    cls = np.r_[np.zeros(50, int), np.full(50, 3)]
    path = plots.scatter_plot(pts, cls, tmp_path / "z.svg", class_names=[f"digit {i}" for i in range(4)], title="2-D")
    with open(path) as fh:
        text = fh.read()
    assert "digit 0" in text and "digit 3" in text and "digit 1" not in text  # only classes present
    png = plots.scatter_plot(pts, cls, tmp_path / "z.png")
    assert _colour_pixels(png, np.rint(0.7 * C0 + 0.3 * 255)) > 50  # class 0's dots, alpha 0.7 on white


@pytest.mark.parametrize("call, exc, match", [
    (lambda p: plots.scatter_plot(np.zeros((3, 3)), [0, 1, 2], p), ValueError, r"shape \(N, 2\)"),
    (lambda p: plots.scatter_plot(np.zeros((0, 2)), np.zeros(0, int), p), ValueError, "points is empty"),
    (lambda p: plots.scatter_plot([[0, np.inf]], [0], p), ValueError, "NaN or Inf"),
    (lambda p: plots.scatter_plot([[0, 1]], [0, 1], p), ValueError, r"classes must have shape \(1,\)"),
    (lambda p: plots.scatter_plot([[0, 1]], [-1], p), ValueError, "non-negative integers"),
    (lambda p: plots.scatter_plot([[0, 1]], [0.5], p), ValueError, "non-negative integers"),
    (lambda p: plots.scatter_plot([[0, 1]], [2], p, class_names=["a"]), ValueError, "class ids go up to 2"),
    (lambda p: plots.line_plot([0, 1], {"a": [1, 2]}, p + ".jpg"), ValueError, r"extension must be one of"),
    (lambda p: plots.line_plot([0, 1], {}, p), ValueError, "non-empty mapping"),
    (lambda p: plots.line_plot([0, 1], {"a": [1, 2, 3]}, p), ValueError, r"series\['a'\] has 3 values but x has 2"),
    (lambda p: plots.line_plot([0, np.nan], {"a": [1, 2]}, p), ValueError, "x contains NaN"),
    (lambda p: plots.line_plot([], {"a": []}, p), ValueError, "x is empty"),
    (lambda p: plots.line_plot([[0, 1]], {"a": [1, 2]}, p), ValueError, "one-dimensional"),
    (lambda p: plots.line_plot(["a", "b"], {"a": [1, 2]}, p), TypeError, "x must be numbers"),
    (lambda p: plots.line_plot([0, 1], {"a": [1, 2]}, p, hlines={"h": np.inf}), ValueError, r"hlines\['h'\] is not finite"),
    (lambda p: plots.small_multiples([0, 1], [], p), ValueError, "panels is empty"),
    (lambda p: plots.small_multiples([0, 1], [("t", {"a": [0, 1]})], p, cols=0), ValueError, "cols must be"),
    (lambda p: plots.small_multiples([0, 1], [("t", {"a": [0, 1]})], p, ylim=(1, 0)), ValueError, "ylim"),
    (lambda p: plots.small_multiples([0, 1], ["t"], p), ValueError, r"panels\[0\] must be"),
    (lambda p: plots.roc_plot({"a": ([0, 1], [0, 2])}, p), ValueError, r"rates must lie in \[0, 1\]"),
    (lambda p: plots.roc_plot({"a": ([0, 1], [0, 0.5, 1])}, p), ValueError, "fpr has 2 values but tpr has 3"),
    (lambda p: plots.roc_plot({"a": [0, 1]}, p), ValueError, r"must be an \(fpr, tpr\) pair"),
    (lambda p: plots.histogram_plot([0, 1, 1], {"a": [1, 2]}, p), ValueError, "strictly increasing"),
    (lambda p: plots.histogram_plot([0, 1, 2], {"a": [1]}, p), ValueError, "edges define 2 bins"),
    (lambda p: plots.histogram_plot([0, 1, 2], {"a": [1, -1]}, p), ValueError, "negative"),
    (lambda p: plots.histogram_plot([0, 1, 2], {"a": [1, 1]}, p, threshold=np.nan), ValueError, "threshold is not finite"),
])
def test_errors_write_nothing(tmp_path, call, exc, match):
    with pytest.raises(exc, match=match):
        call(str(tmp_path / "fig.png"))
    assert os.listdir(tmp_path) == []


def test_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        plots.line_plot([0, 1], {"a": [0, 1]}, tmp_path / "nope" / "f.png")


def test_density_panels_draw_histograms_against_densities(tmp_path):
    rng = np.random.default_rng(0)
    xs = np.linspace(-4, 4, 101)
    pdf = np.exp(-xs ** 2 / 2) / np.sqrt(2 * np.pi)
    path = plots.density_panels([(f"z{i}", rng.standard_normal(500) * s, xs, pdf) for i, s in enumerate((1, .5, 2))],
                                tmp_path / "dims.png", cols=2)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (520, 440)
    blended = (0.55 * C0 + 0.45 * 255).astype(int)  # the histograms: the first colour at alpha 0.55 on white
    assert _colour_pixels(path, blended, tol=12) > 500
    for panels, match in [([], "panels is empty"), ([("a", [1.0], xs)], "must be a .title, values, xs, density"),
                          ([("a", [np.nan], xs, pdf)], "contains NaN"),
                          ([("a", [1.0], xs, pdf[:-1])], "has 100 values but x has 101"),
                          ([("a", [1.0], xs, -pdf)], "negative values")]:
        with pytest.raises(ValueError, match=match):
            plots.density_panels(panels, tmp_path / "bad.png")
    assert not os.path.exists(tmp_path / "bad.png")
