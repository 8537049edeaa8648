"""``latentatlas demo --out DIR``: every figure and table of "Sampling Generative Networks"
and of the class-centroid interpolation blog post that the bundled data allows, computed
on the shipped checkpoints (``digits-vae``, ``digits-gan``, ``shapes-vae``), with a
self-contained ``index.html`` that shows each figure beside the numbers measured in the
same run, and ``results.json`` holding those numbers.

Nothing needs the network. Each step prints one line with the elapsed time on stderr;
every file is written atomically, ``index.html`` last. ``fast=True`` (``--fast``) keeps
every section but uses fewer samples, smaller grids and fewer walk cells (for CI).

The report is plain HTML and inline CSS: no script, no external resource, relative image
paths, escaped text, alt text and sizes on every image.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Sequence

import numpy as np

__all__ = ["run_demo", "register", "write_report", "Section", "Figure", "Number", "Table"]

#: Shapes attributes and the measured factor each one should move.
_ATTRIBUTE_FACTORS = {"large": "size", "round": None, "bright": "brightness", "blurry": "sharpness",
                      "left": "x", "top": "y", "warm": "hue"}


# ----------------------------------------------------------------------------- report model


@dataclass(frozen=True)
class Figure:
    """An image in the report: ``path`` relative to the report's folder, its pixel size,
    alt text, a caption, and whether it is a sheet of tiny images (drawn pixelated)."""

    path: str
    width: int
    height: int
    alt: str
    caption: str = ""
    pixelated: bool = True


@dataclass(frozen=True)
class Number:
    """A measured number shown beside a figure: ``key`` is its dotted path in
    ``results.json`` (list items by index); the value is shown times ``scale`` followed by
    ``unit``."""

    label: str
    key: str
    scale: float = 1.0
    unit: str = ""


@dataclass(frozen=True)
class Table:
    """A table of measured numbers: ``rows`` of ``(row label, [dotted key per value
    column])``; ``columns`` names the label column and then each value column, and
    ``scales``/``units`` say how each value column is shown (see :class:`Number`)."""

    caption: str
    columns: Sequence[str]
    rows: Sequence[tuple[str, Sequence[str | None]]]
    scales: Sequence[float] | None = None  # one per value column (default 1)
    units: Sequence[str] | None = None


@dataclass
class Section:
    """One part of the report: a title, one sentence on what the figures show, the
    figures, and the numbers (and tables) measured in this run."""

    key: str
    title: str
    sentence: str
    figures: list[Figure] = field(default_factory=list)
    numbers: list[Number] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def lookup(results: dict[str, Any], key: str) -> Any:
    """The value at dotted path ``key`` in ``results`` (list items by integer index).

    Raises:
        TypeError: ``key`` not a string.
        ValueError: no such path in ``results``.
    """
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty string, got {key!r}")
    node: Any = results
    for part in key.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ValueError(f"results has no {key!r} (list index {part!r})")
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ValueError(f"results has no {key!r} (at {part!r})")
    return node


def format_value(value: Any, scale: float = 1.0, unit: str = "") -> str:
    """How the report prints a measured number: 4 significant digits (1 decimal for
    percentages), ``–`` for a missing value, integers as they are."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)) and scale == 1.0:
        return f"{int(value)}{unit}"
    if isinstance(value, str):
        return value
    v = float(value) * scale
    if not math.isfinite(v):
        return "–"
    text = f"{v:.1f}" if unit == "%" else f"{v:.4g}"
    return text + unit


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f6f4;color:#222}
header{background:#23303d;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px}header p{margin:4px 0 0;color:#c9d3dc}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #ddd;font-size:13px}
nav a{margin-right:12px;color:#2a5d8f;text-decoration:none}
main{padding:8px 32px 40px;max-width:1500px}
section{background:#fff;border:1px solid #e1e1dc;border-radius:6px;margin:18px 0;padding:14px 20px}
h2{margin:0 0 4px;font-size:19px}p.what{margin:0 0 12px;color:#444}
.row{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
.figs{display:flex;flex-wrap:wrap;gap:16px;flex:1 1 600px;min-width:0}
.row>table.nums{flex:0 1 440px;position:sticky;top:8px}
figure{margin:0;max-width:100%}figcaption{font-size:12px;color:#555;max-width:640px}
img{max-width:100%;height:auto;border:1px solid #ccc;background:#888;display:block}
img.pix{image-rendering:pixelated;image-rendering:crisp-edges}
img.plot{background:#fff}
table{border-collapse:collapse;font-size:13px;margin:4px 0 10px}
th,td{border-bottom:1px solid #e4e4e0;padding:3px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f0f0ec}
table.nums td{font-variant-numeric:tabular-nums;font-weight:600}table.nums{max-width:760px}table.nums th{white-space:nowrap}
caption{text-align:left;font-weight:600;padding:2px 0 4px}
table.nums td.text{font-weight:400;text-align:left;min-width:14em}
footer{padding:0 32px 30px;color:#777;font-size:12px}
"""


def _img(fig: Figure) -> str:
    e = html.escape
    cls = "pix" if fig.pixelated else "plot"
    cap = f"<figcaption>{e(fig.caption)}</figcaption>" if fig.caption else ""
    return (f'<figure><img class="{cls}" src="{e(fig.path)}" alt="{e(fig.alt)}" width="{int(fig.width)}" '
            f'height="{int(fig.height)}" loading="eager">{cap}</figure>')


def _cell(results: dict[str, Any], key: str | None, scale: float, unit: str) -> str:
    if key is None:
        return "<td>–</td>"
    value = lookup(results, key)
    text = ' class="text"' if isinstance(value, str) else ""  # a list of names: wrap it as prose
    return (f'<td data-key="{html.escape(key)}" data-scale="{scale!r}"{text}>'
            f"{html.escape(format_value(value, scale, unit))}</td>")


def render_html(sections: Sequence[Section], results: dict[str, Any], *, title: str, subtitle: str,
                footer: str = "") -> str:
    """The report page for ``sections`` whose numbers come from ``results``. All text is
    escaped; every number cell carries ``data-key`` (its path in ``results``) so the page
    can be checked against ``results.json``."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>", "<nav>"]
    parts += [f'<a href="#{e(s.key)}">{e(s.title)}</a>' for s in sections]
    parts.append("</nav><main>")
    for s in sections:
        parts.append(f'<section id="{e(s.key)}"><h2>{e(s.title)}</h2><p class="what">{e(s.sentence)}</p>')
        parts.append('<div class="row"><div class="figs">')  # numbers beside the figures when wide enough
        parts += [_img(f) for f in s.figures]
        parts.append("</div>")
        if s.numbers:
            parts.append('<table class="nums"><caption>measured in this run</caption><tbody>')
            for n in s.numbers:
                parts.append(f"<tr><th>{e(n.label)}</th>{_cell(results, n.key, n.scale, n.unit)}</tr>")
            parts.append("</tbody></table>")
        parts.append("</div>")
        for t in s.tables:
            parts.append(f'<table class="nums"><caption>{e(t.caption)}</caption><thead><tr>')
            parts += [f"<th>{e(c)}</th>" for c in t.columns]
            parts.append("</tr></thead><tbody>")
            scales = list(t.scales or [1.0] * (len(t.columns) - 1))
            units = list(t.units or [""] * (len(t.columns) - 1))
            for label, keys in t.rows:
                if not len(keys) == len(scales) == len(units) == len(t.columns) - 1:
                    raise ValueError(f"table {t.caption!r}: row {label!r} has {len(keys)} values for "
                                     f"{len(t.columns) - 1} value columns")
                parts.append(f"<tr><td>{e(label)}</td>"
                             + "".join(_cell(results, k, sc, u) for k, sc, u in zip(keys, scales, units)) + "</tr>")
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts.append(f"</main><footer>{e(footer)}</footer></body></html>")
    return "\n".join(parts)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def write_report(out_dir: str | os.PathLike, sections: Sequence[Section], results: dict[str, Any], *,
                 title: str = "latentatlas demo", subtitle: str = "", footer: str = "") -> tuple[str, str]:
    """Writes ``results.json`` and then ``index.html`` (last) into ``out_dir``, atomically.

    Every figure path must be relative, inside ``out_dir`` and exist; every number key must
    resolve in ``results``. Returns ``(index path, results path)``.
    """
    from ._files import atomic_open

    folder = os.fspath(out_dir)
    if not os.path.isdir(folder):
        raise ValueError(f"report folder {folder!r} does not exist")
    for s in sections:
        for f in s.figures:
            if os.path.isabs(f.path) or f.path.startswith("..") or "\\" in f.path:
                raise ValueError(f"figure path {f.path!r} must be relative to the report folder")
            if not os.path.isfile(os.path.join(folder, f.path)):
                raise ValueError(f"figure {f.path!r} of section {s.key!r} was not written")
    safe = _json_safe(results)
    page = render_html(sections, safe, title=title, subtitle=subtitle, footer=footer)
    results_path = os.path.join(folder, "results.json")
    with atomic_open(results_path, "w") as fh:
        fh.write(json.dumps(safe, indent=2, allow_nan=False))
    index_path = os.path.join(folder, "index.html")
    with atomic_open(index_path, "w") as fh:
        fh.write(page)
    return index_path, results_path


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class _Sizes:
    path_pairs: int       # prior pairs for the norm-along-the-path curves
    path_steps: int       # points along each path
    quality_pairs: int    # pairs whose midpoints the digit classifier judges
    strips: int           # interpolation pairs drawn per model
    grid: int             # J-Diagram rows = cols
    mine: int             # MINE grid rows = cols (spacing 2)
    samples: int          # prior sample sheet rows = cols
    shapes_n: int         # shapes images per attribute experiment
    atdot_n: int          # shapes images for traversals and the AtDot table
    strengths: int        # traversal / two-attribute grid strengths
    walk_alphas: int      # cells per centroid walk
    measure_n: int        # held-out latents over which factor changes are averaged
    vae2d_epochs: int     # epochs of the blog's 2-D VAE, trained in the run
    nb_samples: int       # Naive-Bayes samples drawn per digit


_FULL = _Sizes(path_pairs=2000, path_steps=21, quality_pairs=500, strips=4, grid=7, mine=9, samples=8,
               shapes_n=6000, atdot_n=3000, strengths=7, walk_alphas=9, measure_n=400,
               vae2d_epochs=100, nb_samples=6)
_FAST = _Sizes(path_pairs=200, path_steps=11, quality_pairs=100, strips=2, grid=5, mine=5, samples=5,
               shapes_n=1200, atdot_n=800, strengths=5, walk_alphas=5, measure_n=100,
               vae2d_epochs=20, nb_samples=3)


class _Progress:
    """One line per step on ``stream`` with the time since the start."""

    def __init__(self, total: int, stream: IO[str] | None) -> None:
        self.start = time.perf_counter()
        self.total = total
        self.count = 0
        self.stream = stream
        self.marks: dict[str, float] = {}
        self._last: tuple[str, float] | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def step(self, name: str) -> None:
        self._close()
        self.count += 1
        self._last = (name, self.elapsed())
        self.say(f"[{self.count}/{self.total}] {name}")

    def _close(self) -> None:
        if self._last is not None:
            name, began = self._last
            self.marks[name] = round(self.elapsed() - began, 3)
            self._last = None

    def say(self, text: str) -> None:
        if self.stream is not None:
            print(f"[{self.elapsed():6.1f}s] {text}", file=self.stream, flush=True)

    def finish(self) -> float:
        self._close()
        return self.elapsed()


class _Writer:
    """Writes figures into the report folder and describes them for the page."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.written: list[str] = []

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def sheet(self, name: str, sheet: np.ndarray, alt: str, caption: str = "") -> Figure:
        from . import render

        self.written.append(render.save_image(sheet, self._path(name)))
        return Figure(name, sheet.shape[1], sheet.shape[0], alt, caption, pixelated=True)

    def gif(self, name: str, frames: np.ndarray, alt: str, caption: str = "") -> Figure:
        from . import render

        self.written.append(render.save_gif(frames, self._path(name), duration_ms=90))
        side = frames.shape[-1] * render.auto_scale(frames.shape[-2], frames.shape[-1])
        return Figure(name, side, frames.shape[-2] * side // frames.shape[-1], alt, caption, pixelated=True)

    def plot(self, name: str, draw: Any, alt: str, caption: str = "") -> Figure:
        """``draw(path)`` writes a matplotlib figure (a :mod:`latentatlas.plots` function)."""
        from PIL import Image

        path = draw(self._path(name))
        self.written.append(path)
        with Image.open(path) as im:
            width, height = im.size
        return Figure(name, width, height, alt, caption, pixelated=False)


def _mean_norms(paths: np.ndarray) -> list[float]:
    return np.linalg.norm(paths.astype(np.float64), axis=-1).mean(axis=0).tolist()


def _section_paths(ctx: "_Context") -> Section:
    """Slerp vs lerp: the norm along the path (tent pole) and decoded strips."""
    from . import ops, plots, sampling, sheets

    sz, out = ctx.sizes, {}
    t = np.linspace(0.0, 1.0, sz.path_steps)
    mid = sz.path_steps // 2
    configs = [("digits-vae", ctx.vae.latent_dim, ctx.vae.prior), ("digits-gan", ctx.gan.latent_dim, ctx.gan.prior),
               ("paper", 100, "gaussian")]
    out["t"] = t.tolist()
    out["pairs"] = sz.path_pairs
    out["seed"] = ctx.seed
    for name, d, prior in configs:
        z = sampling.sample_prior(2 * sz.path_pairs, d, prior, seed=ctx.seed)
        a, b = z[:sz.path_pairs], z[sz.path_pairs:]
        ends = np.linalg.norm(z.astype(np.float64), axis=1)
        typical = math.sqrt(d) if prior == "gaussian" else math.sqrt(d / 3.0)
        lerp, slerp = _mean_norms(ops.lerp(a, b, t)), _mean_norms(ops.slerp(a, b, t))
        out[name] = {"dim": d, "prior": prior, "typical_norm": typical, "endpoint_norm": float(ends.mean()),
                     "endpoint_norm_sd": float(ends.std()), "lerp": lerp, "slerp": slerp,
                     "lerp_mid": lerp[mid], "slerp_mid": slerp[mid],
                     "lerp_mid_sds_below": (float(ends.mean()) - lerp[mid]) / float(ends.std())}
    series = {}
    for name in ("paper", "digits-vae"):
        d = out[name]["dim"]
        series[f"lerp, d={d}"] = out[name]["lerp"]
        series[f"slerp, d={d}"] = out[name]["slerp"]
    figs = [ctx.w.plot("norm_along_path.png", lambda p: plots.line_plot(
        t, series, p, title="mean |z| along the path between prior samples", xlabel="t", ylabel="|z|",
        hlines={f"√{out['paper']['dim']}": out["paper"]["typical_norm"],
                f"√{out['digits-vae']['dim']}": out["digits-vae"]["typical_norm"]}, size=(6.0, 3.6)),
        "Mean latent norm along lerp and slerp paths; lerp sags in the middle, slerp stays near √d",
        f"mean over {sz.path_pairs} Gaussian prior pairs; dashed: √d")]
    # Decoded strips and how digit-like the midpoints are to a pixel classifier.
    for name, model in (("vae", ctx.vae), ("gan", ctx.gan)):
        z = sampling.sample_prior(2 * sz.strips, model.latent_dim, model.prior, seed=ctx.seed + 11)
        sheet = sheets.strips_sheet(model, z[:sz.strips], z[sz.strips:], 9)
        figs.append(ctx.w.sheet(f"strips_{name}.png", sheet,
                                f"Lerp and slerp walks between the same prior samples, digits-{name}",
                                f"digits-{name} ({model.prior} prior): each pair of rows has identical ends"))
        q = sampling.sample_prior(2 * sz.quality_pairs, model.latent_dim, model.prior, seed=ctx.seed + 12)
        qa, qb = q[:sz.quality_pairs], q[sz.quality_pairs:]
        conf = {}
        for method, fn in (("lerp", ops.lerp), ("slerp", ops.slerp)):
            images = sampling.decode_batched(model, fn(qa, qb, 0.5))
            conf[method] = ctx.confidence(images)
        conf["endpoints"] = ctx.confidence(sampling.decode_batched(model, q))
        out[f"midpoint_confidence_{name}"] = conf
    numbers = []
    for name in ("paper", "digits-vae", "digits-gan"):
        r = out[name]
        tag = f"{name} (d={r['dim']}, {r['prior']})"
        numbers += [Number(f"{tag}: typical norm", f"paths.{name}.typical_norm"),
                    Number(f"{tag}: mean |z| at the ends", f"paths.{name}.endpoint_norm"),
                    Number(f"{tag}: lerp midpoint |z|", f"paths.{name}.lerp_mid"),
                    Number(f"{tag}: slerp midpoint |z|", f"paths.{name}.slerp_mid"),
                    Number(f"{tag}: lerp midpoint, SDs below the ends", f"paths.{name}.lerp_mid_sds_below")]
    for name in ("vae", "gan"):
        for what in ("lerp", "slerp", "endpoints"):
            numbers.append(Number(f"digits-{name}: classifier confidence, {what}",
                                  f"paths.midpoint_confidence_{name}.{what}", 100.0, "%"))
    ctx.results["paths"] = out
    return Section("paths", "Slerp vs lerp: the tent-pole effect",
                   "Linear interpolation between two prior samples passes through the low-norm middle of the "
                   "prior (the paper's 10 → 7 at d = 100) while slerp keeps the norm near the prior's typical √d; "
                   "the strips decode both paths between the same ends, and a pixel classifier says how digit-like "
                   "the midpoints are.",
                   figs, numbers)


def _section_j_diagrams(ctx: "_Context") -> Section:
    from . import sampling, sheets

    inputs, rows = sheets.first_images(ctx.digits, 3)
    out: dict[str, Any] = {"input_rows": rows.tolist()}
    figs, numbers = [], []
    for name, model in (("vae", ctx.vae), ("gan", ctx.gan)):
        sheet = sheets.j_diagram_sheet(model, inputs, ctx.sizes.grid, ctx.sizes.grid)
        figs.append(ctx.w.sheet(f"j_diagram_{name}.png", sheet, f"J-Diagram of three validation digits, digits-{name}",
                                f"digits-{name}: inputs A (top left), B (top right), C (bottom left) beside their "
                                "reconstructions; bottom right is B + C − A"))
        recon = sampling.decode_batched(model, sampling.encode_batched(model, inputs))
        out[name] = {"reconstruction_mse": float(np.mean((recon - inputs) ** 2)),
                     "reconstruction_classes_match": int(np.sum(ctx.predict(recon) == ctx.digits.classes[rows]))}
        numbers += [Number(f"digits-{name}: reconstruction MSE of A, B, C", f"j_diagrams.{name}.reconstruction_mse"),
                    Number(f"digits-{name}: reconstructions classified as their input's digit (of 3)",
                           f"j_diagrams.{name}.reconstruction_classes_match")]
    ctx.results["j_diagrams"] = out
    return Section("j_diagrams", "J-Diagrams (Figures 3 and 4)",
                   "The analogy A : B :: C : ? as a grid: slerp along both edges from the encoded inputs, with the "
                   "same three images through a VAE and a GAN with an encoder for comparison.", figs, numbers)


def _section_mine(ctx: "_Context") -> Section:
    from . import sheets

    split = np.asarray(ctx.digits.split)
    held = np.flatnonzero(split != "train")
    z = ctx.vae_latents[held]
    seed_row = int(np.flatnonzero(split[held] == "valid")[0])
    n = ctx.sizes.mine
    sheet, grid = sheets.mine_sheet(ctx.vae, z[seed_row], z, n, n, spacing=2)
    classes = ctx.digits.classes[held]
    same = float(np.mean(classes[grid.anchor_ids.reshape(-1)] == classes[seed_row]))
    out = {"searched": int(len(held)), "anchors": int(grid.anchor_ids.size), "seed_class": int(classes[seed_row]),
           "anchor_same_class": same, "median_anchor_distance": float(np.median(grid.anchor_distances)),
           "max_anchor_distance": float(np.max(grid.anchor_distances))}
    ctx.results["mine"] = out
    fig = ctx.w.sheet("mine.png", sheet, "MINE grid of held-out digit encodings around one validation digit",
                      f"{n}×{n} cells, spacing 2: the nearest neighbours sit on every second cell, slerp between")
    return Section("mine", "MINE grid (Figure 5)",
                   "The nearest held-out encodings of one digit, laid out so that latent neighbours are grid "
                   "neighbours, with slerp filling the cells between them: a local map of the manifold.",
                   [fig], [Number("held-out encodings searched", "mine.searched"),
                           Number("anchors (actual encodings)", "mine.anchors"),
                           Number("digit of the seed image", "mine.seed_class"),
                           Number("anchors of the seed's digit", "mine.anchor_same_class", 100.0, "%"),
                           Number("median cosine distance of anchors to the seed", "mine.median_anchor_distance"),
                           Number("largest cosine distance", "mine.max_anchor_distance")])


def _section_samples(ctx: "_Context") -> Section:
    from . import grids, sampling, sheets

    n = ctx.sizes.samples
    figs, out = [], {}
    for name, model in (("vae", ctx.vae), ("gan", ctx.gan)):
        grid = sampling.sample_grid(model, n, n, seed=ctx.seed + 1)
        figs.append(ctx.w.sheet(f"samples_{name}.png", sheets.latent_grid_sheet(model, grid),
                                f"Random prior samples from digits-{name}", f"digits-{name}: {n * n} prior samples"))
        many = sampling.decode_batched(model, sampling.sample_latents(model, 500, seed=ctx.seed + 2))
        out[f"confidence_{name}"] = ctx.confidence(many)
    test = ctx.digits.split == "test"
    out["confidence_real_test"] = ctx.confidence(ctx.digits.images[test])
    keys = sampling.sample_latents(ctx.vae, 4, seed=ctx.seed + 3)
    walk = grids.interpolation_strips(keys, np.roll(keys, -1, axis=0), 12, methods=("slerp",))[:, :-1]
    frames = sampling.decode_batched(ctx.vae, walk.reshape(-1, ctx.vae.latent_dim))
    figs.append(ctx.w.gif("walk.gif", frames, "Animated slerp walk through four prior samples of digits-vae",
                          "a slerp loop through four prior samples (animated)"))
    ctx.results["samples"] = out
    return Section("samples", "Prior samples and a slerp walk",
                   "What each model draws from its prior, and an animated great-circle walk; the numbers give the "
                   "mean top-class probability a pixel classifier trained on real digits assigns.", figs,
                   [Number("digits-vae samples: mean classifier confidence", "samples.confidence_vae", 100.0, "%"),
                    Number("digits-gan samples: mean classifier confidence", "samples.confidence_gan", 100.0, "%"),
                    Number("real test digits: mean classifier confidence", "samples.confidence_real_test", 100.0, "%")])


def _decode_rows(ctx: "_Context", latents: Sequence[np.ndarray]) -> np.ndarray:
    from . import sampling

    flat = np.concatenate([np.asarray(z, np.float32) for z in latents])
    return sampling.decode_batched(ctx.shapes_vae, flat)


def _section_traversals(ctx: "_Context") -> Section:
    from . import attributes, render
    from .experiments import factor_change

    data, z = ctx.shapes, ctx.shapes_latents
    train, test = data.split == "train", np.flatnonzero(data.split == "test")
    names = list(data.label_names)
    V = attributes.mean_difference(z[train], data.labels[train], label_names=names)
    s = np.linspace(-2.0, 2.0, ctx.sizes.strengths)
    rows = [attributes.traverse(z[test[0]], V[k], s) for k in range(len(names))]
    images = _decode_rows(ctx, rows)
    sheet = render.image_sheet(images, len(names), len(s), row_labels=names,
                               col_labels=[f"{v:+.1f}" for v in s])
    held = z[test[:ctx.sizes.measure_n]]
    out: dict[str, Any] = {"strengths": s.tolist()}
    table_rows = []
    for k, name in enumerate(names):
        factor = _ATTRIBUTE_FACTORS.get(name)
        ch = factor_change(ctx.shapes_vae, held, V[k], 1.0)
        out[name] = {"factor": factor, "change": ch.get(factor) if factor else None, "brightness": ch["brightness"],
                     "size": ch["size"], "vector_norm": float(np.linalg.norm(V[k]))}
        table_rows.append((f"{name} → {factor}", [f"traversals.{name}.change", f"traversals.{name}.size",
                                                   f"traversals.{name}.brightness",
                                                   f"traversals.{name}.vector_norm"]))
    ctx.results["traversals"] = out
    fig = ctx.w.sheet("traversals.png", sheet, "Shapes decoded along each attribute vector at seven strengths",
                      "shapes-vae: one test image moved along each mean-difference vector")
    return Section("traversals", "Attribute traversals (Figure 6)",
                   "Each row moves one held-out shape along one attribute's mean-difference vector, from −2 to +2; "
                   "the table gives the change of the factor each attribute stands for, measured on the decoded "
                   "images at strength +1 (round has no measured factor).", [fig], [],
                   [Table(f"mean change at strength +1 over {len(held)} test shapes",
                          ["attribute → factor", "Δ factor", "Δ size (px)", "Δ brightness", "|vector|"],
                          table_rows)])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _side_numbers(section: str, sides: Sequence[str], fields: Sequence[tuple[str, str]]) -> list[Number]:
    """``side: label`` rows for each side (e.g. naive, balanced) and each measured field."""
    return [Number(f"{side}: {label}", f"{section}.{side}.{key}") for side in sides for label, key in fields]


def _plus_minus_sheet(ctx: "_Context", details: dict[str, Any], rows: Sequence[tuple[str, str]], name: str,
                      alt: str, caption: str) -> Figure:
    """Eight test shapes of an experiment: inputs, reconstructions, then each vector
    ``(label, key in details["vectors"])`` added, then each subtracted, at strength 1."""
    from . import render

    test = np.flatnonzero(details["test"])[:8]
    z, images = details["latents"][test], details["data"].images[test]
    moves = [(f"{sign} {label}", details["vectors"][key], strength)
             for sign, strength in (("+", 1.0), ("-", -1.0)) for label, key in rows]
    decoded = _decode_rows(ctx, [z] + [z + strength * v.astype(np.float32)[None, :] for _, v, strength in moves])
    labels = ["input", "reconstruction"] + [label for label, _, _ in moves]
    sheet = render.image_sheet(np.concatenate([images, decoded]), len(labels), len(z), row_labels=labels, scale=2)
    return ctx.w.sheet(name, sheet, alt, caption)


def _shapes_experiment(ctx: "_Context", key: str, experiment: Any, seed: int, rows: Sequence[tuple[str, str]],
                       alt: str) -> tuple[dict[str, Any], dict[str, Any], Figure]:
    """Runs a shapes experiment of :mod:`latentatlas.experiments` with its details, stores
    its numbers under ``key`` and draws its vectors on test shapes (``key``.png)."""
    r = experiment(ctx.shapes_vae, n=ctx.sizes.shapes_n, seed=seed, details=True)
    details = r.pop("details")
    ctx.results[key] = r
    fig = _plus_minus_sheet(ctx, details, rows, f"{key}.png", alt,
                            "shapes-vae: each vector added (+) and subtracted (-) at strength 1")
    return r, details, fig


def _section_correlated(ctx: "_Context") -> Section:
    from . import experiments

    k = "correlated_labels"
    r, det, fig = _shapes_experiment(ctx, k, experiments.correlated_labels, ctx.seed,
                                     [("naive large", "naive"), ("balanced large", "balanced")],
                                     "Test shapes with the naive and the balanced 'large' vector added and subtracted")
    ctx.correlated_details = det
    r["cosine_naive_balanced"] = _cosine(det["vectors"]["naive"], det["vectors"]["balanced"])
    return Section(k, "Correlated labels: naive vs balanced vectors (Figure 7, Table 1)",
                   "On shapes whose 'large' label co-occurs with 'bright', the naive 'large' vector (mean "
                   "difference) and the one balanced by replicating every (large, bright) cell to the same size "
                   "are added to test shapes; the numbers say how much brightness each drags along with size.",
                   [fig],
                   [Number("label correlation φ(large, bright) in training", f"{k}.label_correlation")]
                   + _side_numbers(k, ("naive", "balanced"), [("Δ size (px)", "size"), ("Δ brightness", "brightness"),
                                                              ("Δ brightness per px of size", "brightness_per_size")])
                   + [Number("cosine(naive, balanced)", f"{k}.cosine_naive_balanced"),
                      Number("test shapes measured", f"{k}.n_test")])


def _section_labelling(ctx: "_Context") -> Section:
    from . import experiments

    k = "labelling_bias"
    _, _, fig = _shapes_experiment(ctx, k, experiments.labelling_bias, ctx.seed + 1,
                                   [("labelled blur", "labelled"), ("synthetic blur", "synthetic")],
                                   "Test shapes with the labelled and the synthetic blur vector added (blur) and "
                                   "subtracted (unblur)")
    return Section(k, "Labelling bias: labelled vs synthetic blur (Figures 9 and 10)",
                   "Here 'blurry' was mostly given to dark images; the labelled blur vector (mean difference of "
                   "the label) is set beside the synthetic one (encodings of the training images blurred on "
                   "purpose minus the originals), each added to and subtracted from test shapes.", [fig],
                   _side_numbers(k, ("labelled", "synthetic"),
                                 [("Δ sharpness", "sharpness"), ("Δ brightness", "brightness"),
                                  ("Δ brightness per unit of sharpness", "brightness_per_sharpness")])
                   + [Number("test shapes measured", f"{k}.n_test")])


def _section_two_attributes(ctx: "_Context") -> Section:
    from . import attributes, render
    from .experiments import factor_change

    det = ctx.correlated_details
    data, z, train = det["data"], det["latents"], det["train"]
    names = list(data.label_names)
    pair = ["large", "bright"]
    naive = attributes.mean_difference(z[train], data.labels[train], label_names=names)[[names.index(p) for p in pair]]
    bal = attributes.balanced(z[train], data.labels[train], pair, label_names=names)
    test = np.flatnonzero(det["test"])
    z0, img0 = z[test[1]], data.images[test[1]]
    s = np.linspace(-2.0, 2.0, ctx.sizes.strengths)
    grid = attributes.attribute_grid(z0, bal[0], bal[1], s, s)
    n = len(s)
    decoded = _decode_rows(ctx, [grid.reshape(n * n, -1), z0[None, :]]).reshape((n * n + 1,) + img0.shape)
    cells = np.full((n, n + 2) + img0.shape, 0.5, np.float32)
    cells[:, 2:] = decoded[:-1].reshape((n, n) + img0.shape)
    cells[n // 2, 0], cells[n // 2, 1] = img0, decoded[-1]
    sheet = render.image_sheet(cells.reshape((-1,) + img0.shape), n, n + 2, scale=2,
                               row_labels=[f"bright {v:+.1f}" for v in s],
                               col_labels=["input", "recon"] + [f"large {v:+.1f}" for v in s])
    held = z[test[:ctx.sizes.measure_n]]
    out: dict[str, Any] = {"strengths": s.tolist(),
                           "cosine_naive": _cosine(naive[0], naive[1]), "cosine_balanced": _cosine(bal[0], bal[1])}
    for label, vectors in (("naive", naive), ("balanced", bal)):
        for axis, v in zip(pair, vectors):
            ch = factor_change(ctx.shapes_vae, held, v, 1.0)
            out[f"{label}_{axis}"] = {"size": ch["size"], "brightness": ch["brightness"]}
    ctx.results["two_attributes"] = out
    fig = ctx.w.sheet("two_attributes.png", sheet, "A shape decoded over a grid of balanced 'large' (x) and "
                      "'bright' (y) strengths", "shapes-vae: input and reconstruction at left; x: large, y: bright")
    k = "two_attributes"
    rows = [(f"{label} {axis} vector", [f"{k}.{label}_{axis}.size", f"{k}.{label}_{axis}.brightness"])
            for label in ("naive", "balanced") for axis in pair]
    return Section(k, "Decoupled two-attribute grid (Figure 8, Table 2)",
                   "'large' and 'bright' (correlated in the labels) balanced against each other and applied "
                   "separately to one test shape, large along x and bright along y; the table compares each "
                   "vector's effect on size and brightness with the naive vectors'.", [fig],
                   [Number("cosine(large, bright), naive vectors", f"{k}.cosine_naive"),
                    Number("cosine(large, bright), balanced vectors", f"{k}.cosine_balanced")],
                   [Table(f"mean change at strength +1 over {len(held)} test shapes",
                          ["vector", "Δ size (px)", "Δ brightness"], rows)])


def _section_atdot(ctx: "_Context") -> Section:
    from . import plots
    from .experiments import atdot_report

    reports = {"shapes-vae": atdot_report(ctx.shapes_vae, ctx.shapes),
               "digits-vae": atdot_report(ctx.vae, ctx.digits),
               "digits-gan": atdot_report(ctx.gan, ctx.digits)}
    out = {name: r["rows"] for name, r in reports.items()}
    shapes = reports["shapes-vae"]
    auc = {row["attribute"]: row["auc"] for row in shapes["rows"]}
    figs = [ctx.w.plot("atdot_roc_shapes.png", lambda p: plots.roc_plot(
        {f"{a} (AUC {auc[a]:.3f})": c for a, c in shapes["roc"].items()}, p, title="AtDot ROC, shapes-vae test split"),
        "ROC curves of the AtDot classifiers for every shapes attribute", "one curve per attribute")]
    hist_attr = "large" if "large" in shapes["histograms"] else next(iter(shapes["histograms"]))
    edges, pos, neg = shapes["histograms"][hist_attr]
    figs.append(ctx.w.plot("atdot_hist_shapes.png", lambda p: plots.histogram_plot(
        edges, {f"{hist_attr}": pos, f"not {hist_attr}": neg}, p, threshold=shapes["thresholds"][hist_attr],
        title=f"AtDot scores of test shapes for '{hist_attr}'"),
        f"Histogram of AtDot scores for {hist_attr} and not {hist_attr}, with the threshold",
        "dashed: the threshold fitted on the training split (Figure 11)"))
    dv = reports["digits-vae"]
    dauc = {row["attribute"]: row["auc"] for row in dv["rows"]}
    figs.append(ctx.w.plot("atdot_roc_digits.png", lambda p: plots.roc_plot(
        {f"{a} (AUC {dauc[a]:.3f})": c for a, c in dv["roc"].items()}, p, title="AtDot ROC, digits-vae one-vs-rest"),
        "ROC curves of the one-vs-rest AtDot classifiers on digits-vae latents", "one curve per digit"))
    out["histogram_attribute"] = hist_attr
    out["threshold"] = shapes["thresholds"][hist_attr]
    ctx.results["atdot"] = out
    cols = ("atdot", "auc", "logistic", "linear_svm", "majority")
    tables = []
    for name, r in reports.items():
        rows = [(row["attribute"], [f"atdot.{name}.{i}.{c}" if row[c] is not None else None for c in cols])
                for i, row in enumerate(r["rows"])]
        tables.append(Table(f"{name}: test accuracy and AtDot's AUC",
                            ["attribute", "AtDot", "AUC", "logistic regression", "linear SVM", "majority"],
                            rows, [100.0, 1.0, 100.0, 100.0, 100.0], ["%", "", "%", "%", "%"]))
    last = {name: len(r["rows"]) - 1 for name, r in reports.items()}
    return Section("atdot", "AtDot: attribute vectors as classifiers (Table 3, Figure 11)",
                   "A latent's dot product with an attribute vector, thresholded, is a classifier; its test "
                   "accuracy and AUC stand beside a logistic regression and a linear SVM trained on the same "
                   "latents, and the majority-class rate as a floor.", figs,
                   [Number(f"{name}: average AtDot accuracy", f"atdot.{name}.{last[name]}.atdot", 100.0, "%")
                    for name in reports]
                   + [Number(f"{name}: average logistic-regression accuracy", f"atdot.{name}.{last[name]}.logistic",
                             100.0, "%") for name in reports]
                   + [Number(f"threshold for '{hist_attr}' (histogram)", "atdot.threshold")],
                   tables)


def _blocks(sheets: Sequence[np.ndarray], gap: int = 12) -> np.ndarray:
    """Sheets of equal height side by side on the sheets' background, ``gap`` pixels apart."""
    height = max(s.shape[0] for s in sheets)
    background = sheets[0][0, 0]
    parts: list[np.ndarray] = []
    for s in sheets:
        block = np.full((height,) + s.shape[1:], background, dtype=s.dtype)
        block[:s.shape[0]] = s
        parts += [block, np.full((height, gap) + s.shape[2:], background, dtype=s.dtype)]
    return np.concatenate(parts[:-1], axis=1)


def _section_walks(ctx: "_Context") -> Section:
    from . import experiments, plots, render

    alphas = np.linspace(0.0, 1.0, ctx.sizes.walk_alphas)
    out: dict[str, Any] = {"alphas": alphas.tolist()}
    walks = experiments.centroid_walks(ctx.vae, ctx.digits, alphas, classifier=ctx.classifier)
    pairs, P, images = walks["pairs"], walks["probabilities"], walks["images"]
    A = len(alphas)
    labels = [f"{b}→{a}" for a, b in pairs]
    sheet = _blocks([render.image_sheet(images[i:i + 15].reshape((-1,) + images.shape[2:]), len(images[i:i + 15]), A,
                                        scale=4, pad=1, row_labels=[f"{b}->{a}" for a, b in pairs[i:i + 15]],
                                        col_labels=[f"{v:.2f}" for v in alphas]) for i in range(0, len(pairs), 15)])
    figs = [ctx.w.sheet("centroid_walks.png", sheet, "Decoded walks between the centroids of every pair of digits",
                        "digits-vae: row b→a goes from the centroid of b (α = 0) to that of a (α = 1)")]
    panels = [(f"{b}→{a}", {"p(start digit)": P[i, :, b], "p(end digit)": P[i, :, a]})
              for i, (a, b) in enumerate(pairs)]
    figs.append(ctx.w.plot("centroid_walk_probabilities.png", lambda p: plots.small_multiples(
        alphas, panels, p, cols=9, xlabel="α", ylabel="classifier probability", ylim=(0.0, 1.0)),
        "Classifier probabilities of the start and end digit along each of the 45 walks",
        "logistic regression on real pixels"))
    end = np.array([P[i, -1, a] for i, (a, _) in enumerate(pairs)])
    start = np.array([P[i, 0, b] for i, (_, b) in enumerate(pairs)])
    crossing = []
    for i, (a, b) in enumerate(pairs):
        above = np.flatnonzero(P[i, :, a] > P[i, :, b])
        crossing.append(float(alphas[above[0]]) if above.size else float("nan"))
    mid = A // 2
    mid_class = P[:, mid].argmax(axis=1)
    other = [labels[i] + f" ({int(mid_class[i])})" for i, (a, b) in enumerate(pairs) if mid_class[i] not in (a, b)]
    out.update({"pairs": len(pairs), "p_end_at_alpha_1": float(end.mean()), "p_start_at_alpha_0": float(start.mean()),
                "end_wins_at_alpha_1": int(np.sum(P[:, -1].argmax(axis=1) == [a for a, _ in pairs])),
                "mean_crossing_alpha": float(np.nanmean(crossing)), "midpoint_alpha": float(alphas[mid]),
                "midpoint_other_digit": len(other), "midpoint_other_pairs": ", ".join(other) or "none"})
    gan = experiments.centroid_walks(ctx.gan, ctx.digits, alphas, classifier=ctx.classifier)
    gp = gan["probabilities"]
    out["gan_p_end_at_alpha_1"] = float(np.mean([gp[i, -1, a] for i, (a, _) in enumerate(gan["pairs"])]))
    out["gan_p_start_at_alpha_0"] = float(np.mean([gp[i, 0, b] for i, (_, b) in enumerate(gan["pairs"])]))
    # The blog's second experiment: a 7 moved along the 6 → 0 vector.
    move_alphas = np.linspace(-1.5, 1.5, 7 if ctx.sizes.walk_alphas >= 9 else 5)
    moved = experiments.move_sample(ctx.vae, ctx.digits, 7, (6, 0), move_alphas, classifier=ctx.classifier)
    mp = moved["probabilities"]
    figs.append(ctx.w.sheet("move_7_along_6_to_0.png", render.image_sheet(
        moved["images"], 1, len(move_alphas), col_labels=[f"{v:+.1f}" for v in move_alphas]),
        "A test 7 moved along the vector from the centroid of 6 to that of 0",
        "digits-vae: a 7 moved along 6 → 0 (negative α towards 6, positive towards 0)"))
    figs.append(ctx.w.plot("move_7_probabilities.png", lambda p: plots.line_plot(
        move_alphas, {"p(6)": mp[:, 6], "p(0)": mp[:, 0], "p(7)": mp[:, 7]}, p, xlabel="α",
        ylabel="classifier probability", title="a 7 along 6 → 0", size=(4.6, 3.0)),
        "Classifier probabilities of 6, 0 and 7 along the moved 7", "the blog's logit-classifier plot"))
    zero = int(np.argmin(np.abs(move_alphas)))
    out["move"] = {"alphas": move_alphas.tolist(), "p0_at_max": float(mp[-1, 0]), "p6_at_min": float(mp[0, 6]),
                   "p7_at_zero": float(mp[zero, 7]), "source_index": moved["source_index"]}
    ctx.results["walks"] = out
    k = "walks"
    return Section(k, "Centroid walks between all 45 digit pairs (the blog)",
                   "Each row walks from one digit's latent centroid to another's, and a logistic regression "
                   "trained on real pixels gives the probability of both digits along the way; last, a test 7 is "
                   "pushed along the 6 → 0 vector as in the blog.", figs,
                   [Number("pairs", f"{k}.pairs"),
                    Number("mean p(end digit) at α = 1", f"{k}.p_end_at_alpha_1", 100.0, "%"),
                    Number("mean p(start digit) at α = 0", f"{k}.p_start_at_alpha_0", 100.0, "%"),
                    Number("walks whose end is classified as the end digit", f"{k}.end_wins_at_alpha_1"),
                    Number("mean α where the end digit overtakes the start", f"{k}.mean_crossing_alpha"),
                    Number("walks whose midpoint looks like a third digit", f"{k}.midpoint_other_digit"),
                    Number("those walks (midpoint digit)", f"{k}.midpoint_other_pairs"),
                    Number("digits-gan: mean p(end digit) at α = 1", f"{k}.gan_p_end_at_alpha_1", 100.0, "%"),
                    Number("digits-gan: mean p(start digit) at α = 0", f"{k}.gan_p_start_at_alpha_0", 100.0, "%"),
                    Number("moved 7: p(0) at the largest α", f"{k}.move.p0_at_max", 100.0, "%"),
                    Number("moved 7: p(6) at the smallest α", f"{k}.move.p6_at_min", 100.0, "%"),
                    Number("moved 7: p(7) at α = 0", f"{k}.move.p7_at_zero", 100.0, "%")])


def _section_blog_models(ctx: "_Context") -> Section:
    from . import models, plots, render, sampling

    d, k = ctx.digits, "blog_models"
    # The blog's VAE with two neurons at the bottleneck, trained here (seeded, a few seconds).
    vae2 = models.VAE(d.image_shape, 2, hidden=(256, 128), seed=ctx.seed)
    vae2.fit(d, epochs=ctx.sizes.vae2d_epochs, seed=ctx.seed, device=ctx.device, progress=False)
    vae2.eval()
    held = d.split != "train"
    z2 = sampling.encode_batched(vae2, d.images[held])
    figs = [ctx.w.plot("vae_2d_latent_space.png", lambda p: plots.scatter_plot(
        z2, d.classes[held], p, class_names=[f"digit {i}" for i in range(10)], xlabel="z1", ylabel="z2",
        title="held-out digits in a 2-D VAE latent space"),
        "Encodings of the held-out digits in the latent space of a VAE with two latent units, coloured by digit",
        f"a 2-D VAE trained for {ctx.sizes.vae2d_epochs} epochs in this run (posterior means)")]
    test = d.split == "test"
    x, y = d.images[test], d.classes[test]
    rec = {name: sampling.decode_batched(m, sampling.encode_batched(m, x)) for name, m in (("2d", vae2), ("20d", ctx.vae))}
    first = [int(np.flatnonzero(y == c)[0]) for c in range(10) if np.any(y == c)]
    cells = np.concatenate([x[first], rec["20d"][first], rec["2d"][first]])
    figs.append(ctx.w.sheet("reconstructions_2d_vs_20d.png", render.image_sheet(
        cells, 3, len(first), row_labels=["input", "20-d VAE", "2-d VAE"], col_labels=[str(int(y[i])) for i in first]),
        "The first test image of each digit and its reconstructions by the 20-D and the 2-D VAE",
        "reconstructions: 20 latent units against 2"))
    # The blog's simplest generative model: a Gaussian per class over the pixels.
    nb = models.PixelNaiveBayes(d.image_shape, 10)
    nb.fit(d)
    n = ctx.sizes.nb_samples
    per_class = np.stack([np.asarray(nb.sample_class(c, n, seed=ctx.seed + c)) for c in range(10)], axis=1)
    figs.append(ctx.w.sheet("naive_bayes_samples.png", render.image_sheet(
        per_class.reshape((-1,) + per_class.shape[2:]), n, 10, col_labels=[str(c) for c in range(10)]),
        "Samples drawn pixel by pixel from the Naive-Bayes Gaussian of each digit",
        "pixel Naive Bayes: one column per digit"))
    nb_flat = per_class.reshape((-1,) + per_class.shape[2:])
    nb_intended = np.tile(np.arange(10), n)
    ctx.results[k] = {
        "vae2d_epochs": ctx.sizes.vae2d_epochs,
        "mse_2d": float(np.mean((rec["2d"] - x) ** 2)), "mse_20d": float(np.mean((rec["20d"] - x) ** 2)),
        "accuracy_real": float(np.mean(ctx.predict(x) == y)),
        "accuracy_recon_2d": float(np.mean(ctx.predict(rec["2d"]) == y)),
        "accuracy_recon_20d": float(np.mean(ctx.predict(rec["20d"]) == y)),
        "naive_bayes_test_accuracy": float(np.mean(nb.predict(x) == y)),
        "naive_bayes_samples_recognised": float(np.mean(ctx.predict(nb_flat) == nb_intended)),
        "naive_bayes_sample_confidence": ctx.confidence(nb_flat),
    }
    return Section(k, "The blog's models: a 2-D latent space and pixel Naive Bayes",
                   "A VAE with two latent units lays the digits out in a plane you can look at but reconstructs "
                   "them worse than the 20-unit VAE, and a per-class Gaussian over the pixels (Naive Bayes) samples "
                   "blurry, noisy digits because it models every pixel independently.", figs,
                   [Number("2-D VAE epochs (trained in this run)", f"{k}.vae2d_epochs"),
                    Number("test reconstruction MSE, 2-D VAE", f"{k}.mse_2d"),
                    Number("test reconstruction MSE, 20-D VAE", f"{k}.mse_20d"),
                    Number("classifier accuracy on real test digits", f"{k}.accuracy_real", 100.0, "%"),
                    Number("… on 2-D VAE reconstructions", f"{k}.accuracy_recon_2d", 100.0, "%"),
                    Number("… on 20-D VAE reconstructions", f"{k}.accuracy_recon_20d", 100.0, "%"),
                    Number("Naive Bayes as a classifier: test accuracy", f"{k}.naive_bayes_test_accuracy", 100.0, "%"),
                    Number("Naive-Bayes samples classified as their digit", f"{k}.naive_bayes_samples_recognised",
                           100.0, "%"),
                    Number("Naive-Bayes samples: mean classifier confidence", f"{k}.naive_bayes_sample_confidence",
                           100.0, "%")])


class _Context:
    """What the sections share: models, data, latents, the classifier, sizes, the writer."""

    def __init__(self, writer: _Writer, sizes: _Sizes, seed: int, device: str) -> None:
        from . import data, experiments, models, sampling

        self.w, self.sizes, self.seed, self.device = writer, sizes, seed, device
        self.results: dict[str, Any] = {}
        self.vae = models.load("digits-vae", device=device)
        self.gan = models.load("digits-gan", device=device)
        self.shapes_vae = models.load("shapes-vae", device=device)
        for m in (self.vae, self.gan, self.shapes_vae):
            m.eval()
        self.digits = data.load_digits()
        self.vae_latents = sampling.encode_batched(self.vae, self.digits.images)
        self.classifier = experiments.digit_classifier(self.digits, seed=seed)
        self.shapes = data.make_shapes(sizes.atdot_n, seed=seed + 7)
        self.shapes_latents = sampling.encode_batched(self.shapes_vae, self.shapes.images)
        self.correlated_details: dict[str, Any] = {}

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.classifier.predict(np.asarray(images).reshape(len(images), -1))

    def confidence(self, images: np.ndarray) -> float:
        """Mean top-class probability the pixel classifier gives the images."""
        p = self.classifier.predict_proba(np.asarray(images).reshape(len(images), -1))
        return float(p.max(axis=1).mean())


_STEPS = [("slerp vs lerp: norms along the path and strips", _section_paths),
          ("J-Diagrams (VAE and GAN)", _section_j_diagrams),
          ("MINE grid", _section_mine),
          ("prior samples and a slerp walk", _section_samples),
          ("attribute traversals", _section_traversals),
          ("correlated labels: naive vs balanced", _section_correlated),
          ("labelling bias: labelled vs synthetic blur", _section_labelling),
          ("decoupled two-attribute grid", _section_two_attributes),
          ("AtDot tables, ROC and histogram", _section_atdot),
          ("the blog's models: a 2-D VAE and pixel Naive Bayes", _section_blog_models),
          ("centroid walks on all 45 digit pairs", _section_walks)]


def _check_out(out_dir: Any) -> str:
    if isinstance(out_dir, bool) or not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}")
    folder = os.fspath(out_dir)
    if not folder:
        raise ValueError("out_dir is empty")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"output folder {folder!r} exists and is not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output folder {folder!r}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {folder!r} is not writable")
    return folder


def run_demo(out_dir: str | os.PathLike, *, fast: bool = False, seed: int = 0, device: str = "cpu",
             stream: IO[str] | None = sys.stderr) -> dict[str, Any]:
    """Reproduces the paper's and the blog's figures and tables on the shipped models and
    bundled data into ``out_dir`` and writes ``index.html`` and ``results.json`` there.

    Args:
        out_dir: the report folder (created if needed; existing files are replaced).
        fast: fewer samples, smaller grids and fewer walk cells; every section is kept.
        seed: seeds every random draw (prior samples, shapes data, classifiers).
        device: torch device for the models (``"cpu"``, ``"cuda"``, ``"auto"``).
        stream: where the progress lines go (None: silent).

    Returns:
        ``{"index": path, "results": path, "files": [every file written], "seconds": total}``.

    Raises:
        TypeError: ``out_dir`` not a path, ``seed`` not an integer, ``fast`` not a bool.
        ValueError: ``out_dir`` is a file or cannot be created or written, a negative
            seed, an unknown or unavailable device.
    """
    if not isinstance(fast, bool):
        raise TypeError(f"fast must be True or False, got {type(fast).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not isinstance(device, str):
        raise TypeError(f"device must be a string, got {type(device).__name__}")
    from .models.base import resolve_device

    dev = str(resolve_device(device))
    folder = _check_out(out_dir)
    progress = _Progress(len(_STEPS) + 2, stream)
    progress.step(f"loading models and data (device {dev}, {'fast' if fast else 'full'} run, seed {seed})")
    writer = _Writer(folder)
    ctx = _Context(writer, _FAST if fast else _FULL, int(seed), dev)
    sections = []
    for name, build in _STEPS:
        progress.step(name)
        sections.append(build(ctx))
    progress.step("writing results.json and index.html")
    from . import __version__

    ctx.results["run"] = {"fast": fast, "seed": int(seed), "device": dev, "version": __version__,
                          "step_seconds": progress.marks, "seconds": round(progress.elapsed(), 2)}
    subtitle = (f"Sampling Generative Networks (White, 2016) and class-centroid interpolation, reproduced on "
                f"the shipped digits-vae, digits-gan and shapes-vae with latentatlas {__version__}: "
                f"{'fast' if fast else 'full'} run, seed {seed}, device {dev}; "
                f"every number below was measured in this run.")
    index, results = write_report(folder, sections, ctx.results, title="latentatlas: the paper on bundled data",
                                  subtitle=subtitle,
                                  footer=f"generated by latentatlas demo in {ctx.results['run']['seconds']:.1f} s; "
                                         "numbers also in results.json")
    total = progress.finish()
    progress.say(f"done in {total:.1f} s")
    return {"index": index, "results": results, "files": writer.written + [results, index], "seconds": total}


# ----------------------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    """Adds ``latentatlas demo`` to the command line's subparsers."""
    from .commands._common import add_parser

    p = add_parser(
        subparsers, "demo", help="reproduce the paper's and the blog's figures on the shipped models into an HTML report",
        description="Reproduce every figure and table of 'Sampling Generative Networks' and the class-centroid "
                    "blog post that the bundled data allows, on the shipped checkpoints, into DIR/index.html "
                    "(with DIR/results.json). No network needed; under a minute on two cores (--fast: ~20 s).",
        examples=["latentatlas demo --out demo", "latentatlas demo --out /tmp/quick --fast --seed 1"])
    p.add_argument("--out", required=True, metavar="DIR", help="report folder (created if needed)")
    p.add_argument("--fast", action="store_true", help="smaller samples and grids, every section kept (for CI)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random draw (default 0)")
    p.add_argument("--device", default="cpu", help="torch device for the models: cpu, cuda, auto (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    report = run_demo(args.out, fast=args.fast, seed=args.seed, device=args.device,
                      stream=None if args.quiet else sys.stderr)
    for path in report["files"]:
        print(f"wrote {path}")
    print(f"open {report['index']}")
    return 0
