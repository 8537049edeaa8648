"""`latentatlas demo`: the fast report end to end (files, images, numbers against
results.json and against independent float64 computations), the page in a real headless
Chromium where one is installed, and the command's errors."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from latentatlas import cli
from latentatlas.report import Figure, Number, Section, Table, format_value, lookup, run_demo, write_report

EXPECTED_FILES = [
    "norm_along_path.png", "strips_vae.png", "strips_gan.png", "j_diagram_vae.png", "j_diagram_gan.png",
    "mine.png", "samples_vae.png", "samples_gan.png", "walk.gif",
    *[f"prior_gap_{m}_{kind}.png" for m in ("vae", "gan") for kind in ("dims", "norms", "off_manifold")], "traversals.png", "correlated_labels.png",
    "labelling_bias.png", "two_attributes.png", "atdot_roc_shapes.png", "atdot_hist_shapes.png",
    "atdot_roc_digits.png", "centroid_walks.png", "centroid_walk_probabilities.png", "move_7_along_6_to_0.png",
    "move_7_probabilities.png", "vae_2d_latent_space.png", "reconstructions_2d_vs_20d.png", "naive_bayes_samples.png",
    "results.json", "index.html",
]
SECTIONS = ["paths", "j_diagrams", "mine", "samples", "prior_gap", "traversals", "correlated_labels", "label_tables",
            "labelling_bias",
            "two_attributes", "atdot", "blog_models", "walks"]


class _Page(HTMLParser):
    """Collects images, number cells (data-key, data-scale, text), links, scripts and ids."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.cells: list[tuple[str, float, str]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: set[str] = set()
        self._cell: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.images.append(a)
        if tag in ("a", "link") and "href" in a:
            self.links.append(a["href"])
        if tag == "td" and "data-key" in a:
            self._cell, self._text = a, []

    def handle_data(self, data):
        if self._cell is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append((self._cell["data-key"], float(self._cell["data-scale"]), "".join(self._text)))
            self._cell = None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    log = io.StringIO()
    info = run_demo(out, fast=True, seed=0, stream=log)
    page = _Page()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {"out": out, "info": info, "log": log.getvalue(), "page": page, "results": results}


@pytest.mark.slow
def test_fast_demo_writes_every_file_and_section(report):
    out, info = report["out"], report["info"]
    for name in EXPECTED_FILES:
        assert (out / name).is_file(), name
    assert info["index"] == os.path.join(str(out), "index.html") and info["files"][-1] == info["index"]
    assert sorted(os.path.basename(f) for f in info["files"]) == sorted(EXPECTED_FILES)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    page = report["page"]
    assert set(SECTIONS) <= page.ids and set(SECTIONS) <= set(report["results"])
    assert sorted(page.links) == sorted(f"#{s}" for s in SECTIONS)
    assert "script" not in page.tags and "iframe" not in page.tags
    run = report["results"]["run"]
    assert run["fast"] is True and run["seed"] == 0 and run["device"] == "cpu"


@pytest.mark.slow
def test_progress_is_one_line_per_step_with_elapsed_time(report):
    lines = report["log"].strip().splitlines()
    steps = [ln for ln in lines if re.match(r"^\[\s*\d+\.\ds\] \[\d+/15\] ", ln)]
    assert len(steps) == 15 and lines[-1].startswith("[") and "done in" in lines[-1]


@pytest.mark.slow
def test_every_image_exists_decodes_and_has_size_and_alt(report):
    from PIL import Image

    out, images = report["out"], report["page"].images
    assert len(images) == len(EXPECTED_FILES) - 2
    for img in images:
        src = img["src"]
        assert not re.match(r"^[a-z]+:|^/|\.\.", src), src  # relative, inside the folder, no URL
        assert img["alt"].strip() and int(img["width"]) > 0 and int(img["height"]) > 0
        with Image.open(out / src) as im:
            im.load()
            assert im.size == (int(img["width"]), int(img["height"])), src
            assert np.asarray(im.convert("L")).std() > 1.0, f"{src} is blank"


@pytest.mark.slow
def test_numbers_in_the_page_are_those_in_results_json(report):
    results, cells = report["results"], report["page"].cells
    assert len(cells) > 150
    assert {key.split(".")[0] for key, _, _ in cells} == set(SECTIONS)
    for key, scale, text in cells:
        value = lookup(results, key)
        assert text == format_value(value, scale, "%" if text.endswith("%") else ""), key
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            shown = float(text.rstrip("%"))
            assert math.isclose(shown, value * scale, rel_tol=1e-3, abs_tol=0.051), (key, text, value)


def _np_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Float64 reference slerp of the paper on non-unit vectors: (B, D), (B, D), (T,) -> (B, T, D)."""
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    omega = np.arccos(np.clip(np.sum(an * bn, axis=1), -1.0, 1.0))[:, None, None]
    t = t[None, :, None]
    return (np.sin((1 - t) * omega) * a[:, None] + np.sin(t * omega) * b[:, None]) / np.sin(omega)


@pytest.mark.slow
def test_norms_along_the_path_match_a_float64_reference(report):
    import latentatlas as la

    paths = report["results"]["paths"]
    t = np.asarray(paths["t"])
    n = paths["pairs"]
    for name in ("paper", "digits-vae", "digits-gan"):
        r = paths[name]
        z = la.sampling.sample_prior(2 * n, r["dim"], r["prior"], seed=paths["seed"]).astype(np.float64)
        a, b = z[:n], z[n:]
        lerp = a[:, None] + t[None, :, None] * (b - a)[:, None]
        np.testing.assert_allclose(r["lerp"], np.linalg.norm(lerp, axis=-1).mean(0), rtol=1e-5)
        np.testing.assert_allclose(r["slerp"], np.linalg.norm(_np_slerp(a, b, t), axis=-1).mean(0), rtol=1e-5)
        expected = math.sqrt(r["dim"]) if r["prior"] == "gaussian" else math.sqrt(r["dim"] / 3)
        assert r["typical_norm"] == pytest.approx(expected)
        # the tent pole: lerp's midpoint norm sags towards 1/sqrt(2) of the ends, slerp's does not
        assert r["lerp_mid"] < 0.8 * r["endpoint_norm"] and r["slerp_mid"] > 0.95 * r["endpoint_norm"]
    assert paths["paper"]["lerp_mid"] == pytest.approx(10 / math.sqrt(2), rel=0.03)  # the paper's "10 to 7"


@pytest.mark.slow
def test_tables_are_consistent(report):
    res = report["results"]
    for name in ("shapes-vae", "digits-vae", "digits-gan"):
        rows = res["atdot"][name]
        assert rows[-1]["attribute"] == "average"
        assert rows[-1]["atdot"] == pytest.approx(np.mean([r["atdot"] for r in rows[:-1]]))
    walks = res["walks"]
    assert walks["pairs"] == 45 and len(walks["alphas"]) == 5 and 0 <= walks["midpoint_other_digit"] <= 45
    assert res["mine"]["anchors"] == 9 and 0 <= res["mine"]["anchor_same_class"] <= 1
    assert -1 <= res["correlated_labels"]["label_correlation"] <= 1


@pytest.mark.slow
def test_blog_model_numbers_match_an_independent_recomputation(report):
    """The 20-D VAE's test MSE and the Naive-Bayes classifier's accuracy, recomputed in float64
    from the shipped model and the class means/variances of the train split."""
    import latentatlas as la

    res = report["results"]["blog_models"]
    d = la.data.load_digits()
    test, train = d.split == "test", d.split == "train"
    x = d.images[test].astype(np.float64)
    vae = la.models.load("digits-vae")
    rec = np.asarray(vae.decode(vae.encode(d.images[test]))).astype(np.float64)
    assert res["mse_20d"] == pytest.approx(np.mean((rec - x) ** 2), rel=1e-5)
    # Gaussian Naive Bayes by hand: log prior + sum of per-pixel normal log densities
    xt = d.images[train].reshape(train.sum(), -1).astype(np.float64)
    yt = d.classes[train]
    flat = x.reshape(len(x), -1)
    scores, eps = [], 1e-2 * xt.var(0).max()  # variance smoothing relative to the largest pixel variance
    for c in range(10):
        mu, var = xt[yt == c].mean(0), xt[yt == c].var(0) + eps
        scores.append(np.log(np.mean(yt == c)) - 0.5 * np.sum(np.log(2 * np.pi * var) + (flat - mu) ** 2 / var, axis=1))
    acc = np.mean(np.argmax(scores, axis=0) == d.classes[test])
    assert res["naive_bayes_test_accuracy"] == pytest.approx(acc, abs=1.5 / test.sum())
    assert res["mse_2d"] > res["mse_20d"] and 0 <= res["naive_bayes_samples_recognised"] <= 1


# ----------------------------------------------------------------------------- real browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


_CHECK_PAGE = """<!DOCTYPE html><html><body>
<iframe id="f" src="{src}" width="1280" height="900"></iframe><pre id="result">pending</pre>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var out = document.getElementById('result');
  try {{
    var imgs = Array.prototype.slice.call(document.getElementById('f').contentDocument.images);
    var bad = imgs.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }})
                  .map(function (i) {{ return i.getAttribute('src'); }});
    out.textContent = JSON.stringify({{total: imgs.length, bad: bad}});
  }} catch (e) {{ out.textContent = JSON.stringify({{error: String(e)}}); }}
}});
</script></body></html>"""


def _images_loaded(browser: str, page: Path, folder: Path) -> dict:
    """Loads ``page`` in an iframe of a checking page (the report itself stays script-free)
    and returns what the browser says of its images."""
    check = folder / f"check_{page.stem}.html"
    check.write_text(_CHECK_PAGE.format(src=page.as_uri()), encoding="utf-8")
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", "--allow-file-access-from-files",
                           "--virtual-time-budget=15000", "--dump-dom", check.as_uri()],
                          capture_output=True, text=True, timeout=60)
    m = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no result from {browser}: {proc.stderr[-500:]}"
    import html

    return json.loads(html.unescape(m.group(1)))


@pytest.mark.slow
def test_report_in_headless_chromium(request, tmp_path):
    browser = _chromium()
    if browser is None:  # checked before the demo runs, so the skip costs nothing
        pytest.skip("Chromium is not installed (e.g. apt-get install chromium)")
    from PIL import Image

    report = request.getfixturevalue("report")

    out = report["out"]
    seen = _images_loaded(browser, out / "index.html", tmp_path)
    assert seen == {"total": len(report["page"].images), "bad": []}
    # the check can fail: a copy of the page with one image missing is caught
    broken = out / "broken.html"
    broken.write_text((out / "index.html").read_text(encoding="utf-8").replace('src="mine.png"', 'src="gone.png"'),
                      encoding="utf-8")
    try:
        assert _images_loaded(browser, broken, tmp_path)["bad"] == ["gone.png"]
    finally:
        broken.unlink()
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1280,2400", (out / "index.html").as_uri()],
                   capture_output=True, timeout=60, check=True)
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1280)
    assert pixels.std() > 20 and len(np.unique(pixels)) > 50  # text, plots and digits, not a blank page


# ----------------------------------------------------------------------------- report pieces and errors


def test_render_html_escapes_text_and_rejects_unknown_keys(tmp_path):
    from PIL import Image

    Image.new("L", (4, 3), 128).save(tmp_path / "a.png")
    sec = Section("s<1>", "Title <b>&", "One \"sentence\" <script>", [Figure("a.png", 4, 3, "alt <x>")],
                       [Number("n <i>", "s.v", 100.0, "%")],
                       [Table("t", ["row", "value"], [("r & s", ["s.v"])])])
    index, results = write_report(tmp_path, [sec], {"s": {"v": 0.5}}, title="<T>", subtitle="&")
    text = Path(index).read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text and "Title &lt;b&gt;&amp;" in text
    assert 'alt="alt &lt;x&gt;" width="4" height="3"' in text and ">50.0%</td>" in text
    assert json.loads(Path(results).read_text()) == {"s": {"v": 0.5}}
    with pytest.raises(ValueError, match=r"results has no 's.w'"):
        write_report(tmp_path, [Section("s", "T", "x", [], [Number("n", "s.w")])], {"s": {"v": 1}})
    with pytest.raises(ValueError, match="must be relative"):
        write_report(tmp_path, [Section("s", "T", "x", [Figure("/etc/a.png", 1, 1, "a")])], {})
    with pytest.raises(ValueError, match="was not written"):
        write_report(tmp_path, [Section("s", "T", "x", [Figure("b.png", 1, 1, "a")])], {})
    with pytest.raises(ValueError, match="does not exist"):
        write_report(tmp_path / "nope", [], {})
    with pytest.raises(ValueError, match="has 2 values for 1 value columns"):
        write_report(tmp_path, [Section("s", "T", "x", tables=[
            Table("t", ["row", "v"], [("r", ["s.v", "s.v"])])])], {"s": {"v": 1}})


def test_lookup_and_format_value():
    res = {"a": {"b": [1, {"c": 0.123456}]}, "n": None}
    assert lookup(res, "a.b.1.c") == 0.123456 and lookup(res, "a.b.0") == 1
    with pytest.raises(ValueError, match="list index '5'"):
        lookup(res, "a.b.5")
    with pytest.raises(TypeError, match="non-empty string"):
        lookup(res, 3)
    assert format_value(0.123456) == "0.1235" and format_value(0.9671, 100.0, "%") == "96.7%"
    assert format_value(45) == "45" and format_value(None) == "–" and format_value(True) == "yes"
    assert format_value(float("nan")) == "–" and format_value("1→0 (8)") == "1→0 (8)"


def test_run_demo_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="out_dir must be a path"):
        run_demo(3)
    with pytest.raises(TypeError, match="fast must be True or False"):
        run_demo(tmp_path, fast="yes")
    with pytest.raises(TypeError, match="seed must be an integer"):
        run_demo(tmp_path, seed=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        run_demo(tmp_path, seed=-1)
    with pytest.raises(ValueError, match="unknown device"):
        run_demo(tmp_path, device="bogus")


def test_demo_help(capsys):
    assert cli.main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--out", "--fast", "--seed", "--device", "--quiet"):
        assert flag in text


@pytest.mark.parametrize("where", ["file", "under_file", "proc"])
def test_demo_bad_out_is_one_error_line(tmp_path, capsys, where):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    out = {"file": str(target), "under_file": str(target / "sub"), "proc": "/proc/latentatlas-demo-test"}[where]
    assert cli.main(["demo", "--out", out, "--fast", "--quiet"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latentatlas demo: error: ") and captured.out == ""
    assert target.read_text() == "not a folder"


def test_demo_usage_errors_exit_2(capsys):
    assert cli.main(["demo"]) == 2
    assert cli.main(["demo", "--out", "x", "--seed", "one"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("latentatlas demo: error:") for line in err)


@pytest.mark.slow
def test_prior_gap_and_label_tables_agree_with_independent_numbers(report):
    from latentatlas import diagnostics, models, sampling
    from latentatlas.data import load_digits

    r = report["results"]
    gan = models.load("digits-gan")
    z = sampling.encode_batched(gan, load_digits().images)
    ref = diagnostics.prior_gap(z, gan, seed=0, n_permutations=50)
    got = r["prior_gap"]["digits_gan"]
    assert got["active_units"] == ref.active_units and got["n"] == len(z) == r["prior_gap"]["digits_vae"]["n"]
    assert got["off_manifold"] == pytest.approx(ref.off_manifold, abs=1e-9)
    assert r["prior_gap"]["digits_vae"]["prior"] == "gaussian" and got["prior"] == "uniform"
    tables = r["label_tables"]
    # phi of the training labels, as the correlated-labels experiment measured it with np.corrcoef
    assert tables["before"]["phi"] == pytest.approx(r["correlated_labels"]["label_correlation"], rel=1e-9)
    assert np.allclose(tables["after"]["fractions"], 0.25) and abs(tables["after"]["phi"]) < 1e-12
    phis = [abs(t["phi"]) for t in tables["ranking"]]
    assert phis == sorted(phis, reverse=True) and phis[0] >= abs(tables["before"]["phi"]) - 1e-12
