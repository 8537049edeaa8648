"""The class-centroid blog post: walks between the centroids of all 45 digit pairs with a
pixel classifier's probabilities, a 7 moved along 6 → 0, a 2-D VAE trained in the run
and pixel Naive Bayes."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..context import Context
from ..page import Number, Section


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


def section_walks(ctx: Context) -> Section:
    """Centroid walks between all 45 digit pairs and a 7 moved along 6 → 0, with classifier probabilities."""
    from ... import experiments, plots, render

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


def section_blog_models(ctx: Context) -> Section:
    """A 2-D VAE trained in the run against the 20-D one, and pixel Naive Bayes samples."""
    from ... import models, plots, render, sampling

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
