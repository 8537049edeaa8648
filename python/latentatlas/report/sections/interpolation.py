"""The paper's section 2 on the digits models: slerp against lerp (the norm along the path,
decoded strips, how digit-like the midpoints are), J-Diagrams, the MINE grid, and prior
samples with a slerp walk."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..context import Context
from ..page import Number, Section


def _mean_norms(paths: np.ndarray) -> list[float]:
    return np.linalg.norm(paths.astype(np.float64), axis=-1).mean(axis=0).tolist()


def section_paths(ctx: Context) -> Section:
    """Slerp vs lerp: the norm along the path (tent pole) and decoded strips."""
    from ... import ops, plots, sampling, sheets

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


def section_j_diagrams(ctx: Context) -> Section:
    """J-Diagrams of three validation digits through digits-vae and digits-gan, with their reconstruction error."""
    from ... import sampling, sheets

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


def section_mine(ctx: Context) -> Section:
    """A MINE grid of held-out digits-vae encodings around one validation digit."""
    from ... import sheets

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


def section_samples(ctx: Context) -> Section:
    """Prior sample sheets of both digits models, the classifier's confidence on them, and a slerp-walk GIF."""
    from ... import grids, sampling, sheets

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
