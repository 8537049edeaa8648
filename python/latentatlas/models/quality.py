"""Quality bars for the shipped models, reproducible with ``latentatlas quality``.

- Digits: a logistic regression trained on the real training digits classifies the
  model's reconstructions of the test split (the blog's way of quantifying generated
  digits); also its confidence on random samples.
- Shapes: factors measured back from reconstructions of fresh shapes images (a seed the
  model never saw) correlate with the ground truth.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import as_numpy
from ..data.digits import digit_classifier

__all__ = ["digit_classifier", "reconstruction_accuracy", "sample_confidence", "shapes_factor_correlations",
           "image_sheet_png", "evaluate_shipped"]


def reconstruction_accuracy(model: Any, dataset: Any, classifier: Any, *, split: str = "test") -> float:
    """Fraction of ``split`` images whose reconstruction the classifier labels with the true class."""
    part = dataset.subset(split)
    rec = as_numpy(model.reconstruct(part.images))
    return float(classifier.score(rec.reshape(len(part), -1), part.classes))


def sample_confidence(model: Any, classifier: Any, *, n: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean top class probability of the classifier on ``n`` prior samples, and the class histogram."""
    samples = as_numpy(model.sample(n, seed=seed))
    proba = classifier.predict_proba(samples.reshape(n, -1))
    return {"mean_max_prob": float(proba.max(axis=1).mean()),
            "class_counts": np.bincount(proba.argmax(axis=1), minlength=proba.shape[1]).tolist()}


def shapes_factor_correlations(model: Any, dataset: Any) -> dict[str, float]:
    """Pearson r between factors measured on reconstructions and the ground truth.

    ``sharpness`` is correlated with ``-blur`` (sharper means less blur).
    """
    from ..data import measure_factors

    rec = as_numpy(model.reconstruct(dataset.images))
    measured = measure_factors(rec)
    truth = dataset.factors
    pairs = {"size": truth["size"], "brightness": truth["brightness"], "x": truth["x"], "y": truth["y"],
             "hue": truth["hue"], "sharpness": -truth["blur"]}
    out = {}
    for name, ref in pairs.items():
        m = measured[name]
        ok = np.isfinite(m)
        out[name] = float(np.corrcoef(m[ok], ref[ok])[0, 1]) if ok.sum() > 2 else math.nan
    return out


def image_sheet_png(images: Any, path: str | Path, *, cols: int = 10, scale: int = 6) -> Path:
    """Write a grid of images ``(N, C, H, W)`` in [0, 1] to a PNG, ``cols`` a row, every
    pixel (and the one-pixel gaps) upscaled ``scale`` times, atomically."""
    from .. import render

    n = len(images)
    sheet = render.image_sheet(images, max(1, math.ceil(n / cols)), cols, pad=scale, pad_value=0.25, scale=scale)
    return Path(render.save_image(sheet, path))


def evaluate_shipped(*, sheet_dir: str | Path | None = None, n_shapes: int = 2000) -> dict[str, Any]:
    """Compute every quality bar on the shipped checkpoints; optionally write sample sheets to ``sheet_dir``."""
    from .. import data
    from .checkpoint import load

    digits = data.load_digits()
    clf = digit_classifier(digits)
    test = digits.subset("test")
    report: dict[str, Any] = {"classifier_on_real_test": float(clf.score(test.images.reshape(len(test), -1), test.classes))}
    for name, bar in (("digits-vae", 0.85), ("digits-gan", 0.60)):
        model = load(name)
        acc = reconstruction_accuracy(model, digits, clf)
        report[name] = {"recon_accuracy": acc, "bar": bar, "passes": acc >= bar, **sample_confidence(model, clf)}
        if sheet_dir is not None:
            report[name]["sample_sheet"] = str(image_sheet_png(model.sample(100, seed=0), Path(sheet_dir) / f"{name}-samples.png"))
    shapes = data.make_shapes(n_shapes, seed=12345)  # never seen in training (trained on seed 0)
    model = load("shapes-vae")
    r = shapes_factor_correlations(model, shapes)
    report["shapes-vae"] = {"r": r, "bar": 0.9, "passes": all(r[k] >= 0.9 for k in ("size", "brightness", "x"))}
    if sheet_dir is not None:
        pair = np.concatenate([shapes.images[:50], as_numpy(model.reconstruct(shapes.images[:50]))])
        report["shapes-vae"]["recon_sheet"] = str(image_sheet_png(pair, Path(sheet_dir) / "shapes-vae-recon.png", scale=3))
    return report

