"""The paper's section 4 and its Tables 1–2 on the shipped models: how far the digits
models' encodings sit from their priors (digits-vae against digits-gan, on one scale),
and the label tables of the shapes data with every pair ranked by |phi|."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..context import Context
from ..page import Figure, Number, Section, Table

#: (row label, key in a report's to_dict(), scale, unit) of the comparison table.
_GAP_ROWS = [
    ("encodings", "n", 1.0, ""),
    ("latent size", "dim", 1.0, ""),
    ("active units", "active_units", 1.0, ""),
    ("mean KS statistic", "mean_ks", 1.0, ""),
    ("max KS statistic", "max_ks", 1.0, ""),
    ("norm mean", "norm.mean", 1.0, ""),
    ("prior's norm mean", "norm.prior_mean", 1.0, ""),
    ("norms below the prior's 1st percentile", "norm.below_p01", 100.0, "%"),
    ("norms above the prior's 99th percentile", "norm.above_p99", 100.0, "%"),
    ("MMD²", "mmd.mmd2", 1.0, ""),
    ("MMD permutation p-value", "mmd.p_value", 1.0, ""),
    ("off-manifold probability (q = 0.99; no gap: 1%)", "off_manifold", 100.0, "%"),
    ("off-manifold probability on the active units only", "off_manifold_active", 100.0, "%"),
]


def section_prior_gap(ctx: Context) -> Section:
    """digits-vae and digits-gan: per-dimension KS, active units, norms, MMD and the off-manifold probability."""
    from ... import diagnostics, sampling

    k = "prior_gap"
    out: dict[str, Any] = {}
    figs: list[Figure] = []
    for name, model in (("vae", ctx.vae), ("gan", ctx.gan)):
        z = ctx.vae_latents if name == "vae" else sampling.encode_batched(model, ctx.digits.images)
        report = diagnostics.prior_gap(z, model, seed=ctx.seed, n_permutations=ctx.sizes.gap_permutations,
                                       label=f"digits-{name}")
        out[f"digits_{name}"] = report.to_dict()
        for kind, path in diagnostics.draw_report(report, z, ctx.w.folder, prefix=f"prior_gap_{name}_").items():
            figs.append(ctx.w.plot(  # already drawn by draw_report: the writer records and measures it
                os.path.basename(path), lambda p: p,
                {"dims": f"Histograms of the most and least prior-like latent dimensions of digits-{name} "
                         "against the prior's density",
                 "norms": f"Histogram of digits-{name}'s encoded norms against the prior's norm density",
                 "off_manifold": f"Fraction of prior samples off digits-{name}'s encoded manifold over q"}[kind],
                f"digits-{name} ({model.prior} prior): " + {"dims": "three most and least prior-like dimensions",
                                                             "norms": "norms of the encodings vs the prior's",
                                                             "off_manifold": "off-manifold probability over q"}[kind]))
    ctx.results[k] = out
    rows = [(label, [f"{k}.digits_vae.{key}", f"{k}.digits_gan.{key}"]) for label, key, _, _ in _GAP_ROWS]
    percent = [(label, keys) for (label, keys), (_, _, scale, _) in zip(rows, _GAP_ROWS) if scale != 1.0]
    plain = [(label, keys) for (label, keys), (_, _, scale, _) in zip(rows, _GAP_ROWS) if scale == 1.0]
    return Section(k, "How far the encodings sit from the prior (section 4)",
                   "The paper asks for a measure of how far encoded data deviate from the prior, including the "
                   "probability that random prior samples fall outside the manifold of encodings: here for the "
                   "bundled digits encoded by the VAE (its posterior means) and by the BiGAN's encoder, each "
                   "against its own prior. Prior samples drawn as encodings would read: KS ~ 1/√N, every unit "
                   "active, 1% of norms beyond each percentile, a large MMD p-value and 1% off the manifold.",
                   figs, [],
                   [Table("digits-vae against digits-gan (every number measured in this run)",
                          ["statistic", "digits-vae", "digits-gan"], plain),
                    Table("fractions", ["statistic", "digits-vae", "digits-gan"], percent, scales=[100.0, 100.0],
                          units=["%", "%"])])


def section_label_tables(ctx: Context) -> Section:
    """The shapes data of the correlated-labels experiment: the (large, bright) table before and
    after replication, and every pair of its labels ranked by |phi| (the paper's Tables 1 and 2)."""
    from ... import attributes

    k = "label_tables"
    det = ctx.correlated_details
    data, train = det["data"], det["train"]
    y, names = data.labels[train], list(data.label_names)
    before = attributes.label_table(y, "large", "bright", label_names=names)
    w, _ = attributes.balance_weights(y, ["large", "bright"], label_names=names)
    after = attributes.label_table(y, "large", "bright", label_names=names, weights=w)
    ranked = attributes.correlated_pairs(y, names, top=5)
    out = {"before": before.to_dict(), "after": after.to_dict(),
           "ranking": [t.to_dict() for t in ranked], "rows": int(np.count_nonzero(train)),
           "pairs": len(names) * (len(names) - 1) // 2}
    ctx.results[k] = out

    def breakdown(side: str) -> Table:
        p = f"{k}.{side}"
        what = "training rows" if side == "before" else "each cell replicated to the largest"
        return Table(f"large × bright, {side} replication ({what})",
                     ["", "bright", "not bright", "total"],
                     [("large", [f"{p}.fractions.0.0", f"{p}.fractions.0.1", f"{p}.row_totals.0"]),
                      ("not large", [f"{p}.fractions.1.0", f"{p}.fractions.1.1", f"{p}.row_totals.1"]),
                      ("total", [f"{p}.col_totals.0", f"{p}.col_totals.1", None])],
                     scales=[100.0] * 3, units=["%"] * 3)

    ranking = Table(f"the {len(ranked)} most correlated of {out['pairs']} label pairs, by |phi|",
                    ["pair", "phi", "odds ratio", "both", "first only", "second only", "neither"],
                    [(f"{t.a} × {t.b}", [f"{k}.ranking.{i}.phi", f"{k}.ranking.{i}.odds_ratio",
                                         f"{k}.ranking.{i}.fractions.0.0", f"{k}.ranking.{i}.fractions.0.1",
                                         f"{k}.ranking.{i}.fractions.1.0", f"{k}.ranking.{i}.fractions.1.1"])
                     for i, t in enumerate(ranked)],
                    scales=[1.0, 1.0, 100.0, 100.0, 100.0, 100.0], units=["", "", "%", "%", "%", "%"])
    return Section(k, "Label tables of the shapes data (Tables 1 and 2)",
                   "The training labels of the correlated-labels experiment above as the paper tabulates CelebA's "
                   "smiling × male: the 2×2 breakdown as percentages of the whole, before and after replicating "
                   "every cell to the size of the largest, and the most correlated pairs of all its labels "
                   "(the ones whose vectors most need balancing).", [],
                   [Number("phi(large, bright) before replication", f"{k}.before.phi"),
                    Number("phi(large, bright) after replication", f"{k}.after.phi"),
                    Number("odds ratio before replication", f"{k}.before.odds_ratio"),
                    Number("training rows", f"{k}.rows")],
                   [breakdown("before"), breakdown("after"), ranking])
