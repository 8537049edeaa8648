"""The paper's section 3 on shapes-vae: attribute traversals, correlated labels (naive
against balanced vectors), labelling bias (labelled against synthetic blur) and the
decoupled two-attribute grid, each with the factor changes measured on decoded images."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..context import Context
from ..page import Figure, Number, Section, Table


#: Shapes attributes and the measured factor each one should move.
_ATTRIBUTE_FACTORS = {"large": "size", "round": None, "bright": "brightness", "blurry": "sharpness",
                      "left": "x", "top": "y", "warm": "hue"}


def section_traversals(ctx: Context) -> Section:
    """Every shapes attribute's mean-difference vector applied to one test shape, with the factor changes."""
    from ... import attributes, render
    from ...experiments import factor_change

    data, z = ctx.shapes, ctx.shapes_latents
    train, test = data.split == "train", np.flatnonzero(data.split == "test")
    names = list(data.label_names)
    V = attributes.mean_difference(z[train], data.labels[train], label_names=names)
    s = np.linspace(-2.0, 2.0, ctx.sizes.strengths)
    rows = [attributes.traverse(z[test[0]], V[k], s) for k in range(len(names))]
    images = ctx.decode_shapes(rows)
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


def _plus_minus_sheet(ctx: Context, details: dict[str, Any], rows: Sequence[tuple[str, str]], name: str,
                      alt: str, caption: str) -> Figure:
    """Eight test shapes of an experiment: inputs, reconstructions, then each vector
    ``(label, key in details["vectors"])`` added, then each subtracted, at strength 1."""
    from ... import render

    test = np.flatnonzero(details["test"])[:8]
    z, images = details["latents"][test], details["data"].images[test]
    moves = [(f"{sign} {label}", details["vectors"][key], strength)
             for sign, strength in (("+", 1.0), ("-", -1.0)) for label, key in rows]
    decoded = ctx.decode_shapes([z] + [z + strength * v.astype(np.float32)[None, :] for _, v, strength in moves])
    labels = ["input", "reconstruction"] + [label for label, _, _ in moves]
    sheet = render.image_sheet(np.concatenate([images, decoded]), len(labels), len(z), row_labels=labels, scale=2)
    return ctx.w.sheet(name, sheet, alt, caption)


def _shapes_experiment(ctx: Context, key: str, experiment: Any, seed: int, rows: Sequence[tuple[str, str]],
                       alt: str) -> tuple[dict[str, Any], dict[str, Any], Figure]:
    """Runs a shapes experiment of :mod:`latentatlas.experiments` with its details, stores
    its numbers under ``key`` and draws its vectors on test shapes (``key``.png)."""
    r = experiment(ctx.shapes_vae, n=ctx.sizes.shapes_n, seed=seed, details=True)
    details = r.pop("details")
    ctx.results[key] = r
    fig = _plus_minus_sheet(ctx, details, rows, f"{key}.png", alt,
                            "shapes-vae: each vector added (+) and subtracted (-) at strength 1")
    return r, details, fig


def section_correlated(ctx: Context) -> Section:
    """Naive against balanced 'large' vectors on shapes whose 'large' and 'bright' labels co-occur."""
    from ... import experiments

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


def section_labelling(ctx: Context) -> Section:
    """Labelled against synthetic blur vectors on shapes whose 'blurry' label leans towards dark images."""
    from ... import experiments

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


def section_two_attributes(ctx: Context) -> Section:
    """Balanced 'large' and 'bright' vectors on a two-dimensional grid, against the naive ones."""
    from ... import attributes, render
    from ...experiments import factor_change

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
    decoded = ctx.decode_shapes([grid.reshape(n * n, -1), z0[None, :]]).reshape((n * n + 1,) + img0.shape)
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
