"""The paper's and the blog's claims as measured numbers on the bundled data.

- :func:`correlated_labels`: on shapes whose "large" label is strongly correlated with
  "bright", the naive "large" vector changes the brightness factor when applied; the
  vector balanced by replication (§3.1) changes it far less.
- :func:`labelling_bias`: on shapes whose "blurry" label is biased towards dark images,
  the labelled blur vector also darkens; the synthetic blur vector, from blurring the
  images (§3.2), changes sharpness with little brightness change.
- :func:`atdot_report`: AtDot accuracy and AUC per attribute beside logistic regression
  and a linear SVM on the same latents (Table 3), for the shapes attributes or the
  digits one-vs-rest.
- :func:`centroid_walks` and :func:`move_sample`: the blog's walks along class-centroid
  vectors, with the probabilities a logistic regression trained on real images gives
  along each walk.

Every function takes a model (the latentatlas model protocol: ``encode``, ``decode``) so
the same measurements run on the shipped checkpoints or on your own.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import attributes, atdot, ops, sampling
from ._arrays import as_numpy
from .data.digits import digit_classifier  # re-exported: the experiments' yardstick

__all__ = ["factor_change", "correlated_labels", "labelling_bias", "atdot_report",
           "centroid_walks", "move_sample", "digit_classifier"]


def factor_change(model: Any, z: Any, vector: Any, strength: float) -> dict[str, float]:
    """Mean change of the measurable shapes factors (size in pixels, brightness, sharpness,
    x, y, and hue for colour images) when decoding ``z + strength·vector`` instead of ``z``.

    Args:
        model: a protocol model that decodes to shapes-like images.
        z: ``(N, D)`` latents, N >= 1.
        vector: ``(D,)`` direction.
        strength: how far to move (finite).
    """
    from .data.shapes import measure_factors

    zf = as_numpy(z, np.float32)
    if zf.ndim != 2 or zf.shape[0] == 0:
        raise ValueError(f"z must be (N, D) with N >= 1, got shape {zf.shape}")
    v = as_numpy(vector, np.float32)
    if v.shape != zf.shape[1:]:
        raise ValueError(f"vector must be ({zf.shape[1]},) like the rows of z, got shape {v.shape}")
    if not np.isfinite(float(strength)):
        raise ValueError(f"strength must be finite, got {strength!r}")
    moved = ops.offset(zf, v, np.array([0.0, strength], np.float32))
    before = measure_factors(sampling.decode_batched(model, moved[:, 0]))
    after = measure_factors(sampling.decode_batched(model, moved[:, 1]))
    keys = [k for k in ("size", "brightness", "sharpness", "x", "y", "hue") if k in before]
    return {k: float(np.nanmean(after[k] - before[k])) for k in keys}


def _encoded_shapes(model: Any, n: int, pair: tuple[str, str], correlation: float, seed: int,
                    image_size: int | None) -> tuple[Any, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Shapes with one correlated attribute pair, encoded: (data, latents, names, train, test)."""
    from .data import make_shapes

    size = image_size or _image_side(model)
    data = make_shapes(n, size=size, correlations={pair: correlation}, seed=seed)
    return data, sampling.encode_batched(model, data.images), list(data.label_names), data.split == "train", \
        data.split == "test"


def correlated_labels(model: Any, *, n: int = 6000, correlation: float = 0.8, strength: float = 1.0,
                      seed: int = 0, image_size: int | None = None, details: bool = False) -> dict[str, Any]:
    """The correlated-labels experiment of §3.1, measured on procedural shapes.

    Shapes are generated with ``correlation`` (phi) between "large" and "bright" and
    encoded; the naive mean-difference "large" vector and the one balanced by replication
    over (large, bright) are each added at ``strength`` to the held-out latents, and the
    mean change of the ground-truth factors measured from the decoded images is reported.

    Returns:
        ``{"naive": {...}, "balanced": {...}, "label_correlation": phi measured}``, each
        inner dict the mean change of size (pixels), brightness, sharpness, x and y. With
        ``details=True`` also ``"details"``: the data set, its latents, the train and test
        masks and both vectors (for pictures; not JSON).
    """
    data, z, names, train, test = _encoded_shapes(model, n, ("large", "bright"), correlation, seed, image_size)
    naive = attributes.mean_difference(z[train], data.labels[train], label_names=names)[names.index("large")]
    fixed = attributes.balanced(z[train], data.labels[train], ["large", "bright"], label_names=names)[0]
    y = data.labels[train]
    phi = float(np.corrcoef(y[:, names.index("large")], y[:, names.index("bright")])[0, 1])
    out = {
        "label_correlation": phi,
        "naive": factor_change(model, z[test], naive, strength),
        "balanced": factor_change(model, z[test], fixed, strength),
        "n_test": int(test.sum()),
    }
    for key in ("naive", "balanced"):  # brightness dragged along per pixel of size gained
        ch = out[key]
        ch["brightness_per_size"] = ch["brightness"] / ch["size"] if ch["size"] else float("nan")
    if details:
        out["details"] = _details(data, z, train, test, naive=naive, balanced=fixed)
    return out


def _details(data: Any, z: np.ndarray, train: np.ndarray, test: np.ndarray, **vectors: np.ndarray) -> dict[str, Any]:
    """What an experiment worked on, for callers that draw it."""
    return {"data": data, "latents": z, "train": train, "test": test, "vectors": vectors}


def labelling_bias(model: Any, *, n: int = 6000, correlation: float = -0.8, sigma: float = 1.2,
                   strength: float = 1.0, seed: int = 1, image_size: int | None = None,
                   details: bool = False) -> dict[str, Any]:
    """The labelling-bias experiment of §3.2, measured on procedural shapes.

    "blurry" is generated with ``correlation`` (phi) to "bright" (negative: blurry images
    mostly dark). The labelled blur vector is the mean difference of the "blurry" label;
    the synthetic one comes from encoding the same images blurred by ``sigma`` pixels.
    Both are added at ``strength`` to held-out latents; the mean change of the measured
    factors is reported, so the labelled vector's brightness change can be set beside the
    synthetic vector's. ``details=True`` adds ``"details"`` as in :func:`correlated_labels`.
    """
    data, z, names, train, test = _encoded_shapes(model, n, ("blurry", "bright"), correlation, seed, image_size)
    labelled = attributes.mean_difference(z[train], data.labels[train], label_names=names)[names.index("blurry")]
    synthetic = attributes.synthetic(model, data.images[train], "blur", sigma=sigma)
    out = {
        "labelled": factor_change(model, z[test], labelled, strength),
        "synthetic": factor_change(model, z[test], synthetic, strength),
        "n_test": int(test.sum()),
    }
    for key in ("labelled", "synthetic"):  # brightness change per unit of sharpness change
        ch = out[key]
        ch["brightness_per_sharpness"] = ch["brightness"] / ch["sharpness"] if ch["sharpness"] else float("nan")
    if details:
        out["details"] = _details(data, z, train, test, labelled=labelled, synthetic=synthetic)
    return out


def _image_side(model: Any) -> int:
    shape = getattr(model, "image_shape", None)
    if shape is None:
        return 32
    return int(shape[-1])


def atdot_report(model: Any, dataset: Any, *, balance: Sequence[str] | None = None) -> dict[str, Any]:
    """AtDot beside logistic regression and a linear SVM on the model's latents (Table 3).

    Vectors and thresholds come from the training split; accuracy and AUC are measured on
    the test split. For digits the one-hot labels make it one-vs-rest per digit.

    Returns:
        ``{"rows": accuracy_table rows, "table": Markdown text, "roc": {attribute: (fpr,
        tpr)}, "histograms": {attribute: (edges, positives, negatives)}, "thresholds":
        {attribute: AtDot's decision threshold}}`` (ROC curves and histograms of the test
        scores, for plotting).
    """
    z = sampling.encode_batched(model, dataset.images)
    train, test = dataset.split == "train", dataset.split == "test"
    names = list(dataset.label_names)
    rows = atdot.accuracy_table(z[train], dataset.labels[train], z[test], dataset.labels[test],
                                label_names=names, balance=balance)
    fitted = atdot.AtDot().fit(z[train], dataset.labels[train], label_names=names, balance=balance)
    scores = fitted.scores(z[test])
    roc, hist = {}, {}
    for k, name in enumerate(names):
        yk = dataset.labels[test][:, k].astype(int)
        if 0 < yk.sum() < yk.size:
            fpr, tpr, _ = atdot.roc_curve(scores[:, k], yk)
            roc[name] = (fpr, tpr)
            hist[name] = atdot.score_histogram(scores[:, k], yk)
    thresholds = {name: float(t) for name, t in zip(names, np.asarray(fitted.thresholds).reshape(-1))}
    return {"rows": rows, "table": atdot.format_table(rows), "roc": roc, "histograms": hist,
            "thresholds": thresholds}


def centroid_walks(model: Any, dataset: Any, alphas: Sequence[float] = tuple(np.linspace(0.0, 1.0, 9)), *,
                   classifier: Any = None) -> dict[str, Any]:
    """Decoded walks along every pair's centroid vector (the blog's 45-row sheet).

    For classes ``a < b`` the walk is ``centroid(b) + α·(centroid(a) − centroid(b))``: α = 0
    is the centroid of b, α = 1 that of a. Centroids come from the training split.

    Returns:
        ``{"pairs": [(a, b), ...], "alphas": (A,), "images": (P, A, C, H, W),
        "probabilities": (P, A, n_classes) from the classifier (a logistic regression on
        real images unless given)}``.
    """
    if dataset.classes is None:
        raise ValueError("centroid walks need a data set with classes")
    al = np.asarray(alphas, dtype=np.float32).reshape(-1)
    if al.size == 0:
        raise ValueError("alphas must hold at least one value")
    train = dataset.split == "train"
    z = sampling.encode_batched(model, dataset.images[train])
    classes = dataset.classes[train]
    vectors = attributes.centroid_vectors(z, classes)
    ids = np.unique(classes)
    cent = {int(c): z[classes == c].astype(np.float64).mean(axis=0) for c in ids}
    pairs = sorted(vectors)
    starts = np.stack([cent[b] for _, b in pairs]).astype(np.float32)
    V = np.stack([vectors[p] for p in pairs]).astype(np.float32)
    # Row p moves start p along vector p only: offset with a block-diagonal strength table.
    walks = np.stack([ops.offset(starts[i], V[i], al) for i in range(len(pairs))])
    P, A, D = walks.shape
    images = sampling.decode_batched(model, walks.reshape(P * A, D))
    clf = classifier or digit_classifier(dataset)
    probs = clf.predict_proba(images.reshape(P * A, -1)).reshape(P, A, -1)
    return {"pairs": pairs, "alphas": al, "images": images.reshape((P, A) + images.shape[1:]),
            "probabilities": probs}


def move_sample(model: Any, dataset: Any, sample_class: int, pair: tuple[int, int],
                alphas: Sequence[float] = tuple(np.linspace(-1.5, 1.5, 7)), *, index: int = 0,
                classifier: Any = None) -> dict[str, Any]:
    """The blog's second experiment: a test sample of ``sample_class`` moved along the
    ``src → dst`` centroid vector ``centroid(dst) − centroid(src)`` for ``pair = (src,
    dst)`` (e.g. a 7 along 6 → 0: positive α heads towards 0, negative towards 6),
    decoded, with the classifier's probabilities along the way."""
    if dataset.classes is None:
        raise ValueError("move_sample needs a data set with classes")
    src, dst = pair
    train, test = dataset.split == "train", dataset.split == "test"
    z = sampling.encode_batched(model, dataset.images[train])
    vectors = attributes.centroid_vectors(z, dataset.classes[train])
    key = (min(src, dst), max(src, dst))
    if key not in vectors:
        raise ValueError(f"no centroid vector for classes {pair}")
    v = vectors[key] if dst < src else -vectors[key]  # vectors[(a, b)] = centroid(a) - centroid(b)
    candidates = np.flatnonzero(test & (dataset.classes == sample_class))
    if index >= candidates.size:
        raise ValueError(f"the test split has {candidates.size} samples of class {sample_class}, asked for #{index}")
    z0 = sampling.encode_batched(model, dataset.images[candidates[index]:candidates[index] + 1])[0]
    al = np.asarray(alphas, dtype=np.float32)
    walk = ops.offset(z0, v.astype(np.float32), al)
    images = sampling.decode_batched(model, walk)
    clf = classifier or digit_classifier(dataset)
    return {"alphas": al, "images": images, "probabilities": clf.predict_proba(images.reshape(len(al), -1)),
            "source_index": int(candidates[index])}

