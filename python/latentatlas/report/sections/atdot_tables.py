"""The paper's AtDot section: attribute vectors as classifiers on shapes-vae, digits-vae and
digits-gan latents, beside logistic regression and a linear SVM, with ROC curves and a
score histogram."""

from __future__ import annotations

import numpy as np

from ..context import Context
from ..page import Number, Section, Table


def section_atdot(ctx: Context) -> Section:
    """AtDot accuracy and AUC against logistic regression and a linear SVM, ROC curves and a histogram."""
    from ... import plots
    from ...experiments import atdot_report

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
