"""AtDot: attribute vectors as binary classifiers (section 3.3 of the paper).

The score of a latent for attribute k is its dot product with the attribute vector
(the native ``score`` kernel); the threshold is the one that maximises training accuracy,
found by an exact scan of the sorted training scores. Accuracy, ROC curves, AUC and the
positive/negative score histograms of Figure 11 follow, and :func:`accuracy_table` sets
AtDot beside a logistic regression and a linear SVM on the same latents, like Table 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import attributes, ops
from ._arrays import as_numpy, check_int

__all__ = ["AtDot", "best_threshold", "roc_curve", "auc", "score_histogram", "accuracy_table", "format_table"]


def _scores_labels(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    s = as_numpy(scores, np.float64)
    y = as_numpy(labels)
    if s.ndim != 1 or y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"scores and labels must be 1-D of the same length, got shapes {s.shape} and {y.shape}")
    if s.size == 0:
        raise ValueError("scores and labels are empty")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or Inf")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must hold only 0 and 1")
    return s, y.astype(bool)


def best_threshold(scores: Any, labels: Any) -> tuple[float, float]:
    """The threshold maximising accuracy of ``score > threshold``, by an exact scan.

    All cut points between consecutive distinct sorted scores (and below the lowest and
    above the highest) are evaluated with cumulative counts, so ties are handled exactly;
    the threshold returned is the midpoint of the best gap (the lowest such gap on ties).

    Returns:
        ``(threshold, training accuracy)``.

    Raises:
        ValueError: mismatched or empty inputs, NaN scores, non-0/1 labels.
    """
    s, y = _scores_labels(scores, labels)
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    distinct = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each run of ties
    neg_below = np.cumsum(~y)[distinct]  # negatives at or below each distinct value
    pos_below = np.cumsum(y)[distinct]
    n_pos = int(y.sum())
    # Cut below everything: all predicted positive. Cut after run i: the run and below negative.
    correct = np.r_[n_pos, neg_below + (n_pos - pos_below)]
    best = int(np.argmax(correct))
    values = s[distinct]
    if best == 0:
        thr = values[0] - max(1.0, abs(values[0])) * 1e-6
    elif best == values.size:
        thr = values[-1] + max(1.0, abs(values[-1])) * 1e-6
    else:
        thr = 0.5 * (values[best - 1] + values[best])
    return float(thr), float(correct[best] / s.size)


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of ``score >= threshold``: ``(fpr, tpr, thresholds)``, one point per
    distinct score (ties grouped) plus the origin, thresholds decreasing.

    Raises:
        ValueError: as :func:`best_threshold`, or labels of a single class.
    """
    s, y = _scores_labels(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC needs both positive and negative labels")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    thresholds = np.r_[np.inf, s[last]]
    return fpr, tpr, thresholds


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting one half (the trapezoidal area of :func:`roc_curve`)."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) * 0.5))


def score_histogram(scores: Any, labels: Any, bins: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positive/negative score histograms of Figure 11(b) on shared bins:
    ``(edges (bins+1,), positive counts, negative counts)``."""
    s, y = _scores_labels(scores, labels)
    bins = check_int("bins", bins, 1)
    edges = np.histogram_bin_edges(s, bins=bins)
    return edges, np.histogram(s[y], bins=edges)[0], np.histogram(s[~y], bins=edges)[0]


@dataclass
class AtDot:
    """Attribute-vector dot-product classifiers, one per label column.

    ``fit`` computes the attribute vectors (mean difference by default, or the balanced
    vectors of :func:`latentatlas.attributes.balanced` with ``balance=[...]``, or vectors
    you pass) and each threshold by :func:`best_threshold` on the training scores.
    """

    vectors: np.ndarray | None = None  # (K, D), or (K, *S) for latents of shape S
    thresholds: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    train_accuracy: np.ndarray | None = None

    def fit(self, latents: Any, labels: Any, *, label_names: Sequence[str] | None = None,
            vectors: Any = None, balance: Sequence[str | int] | None = None) -> "AtDot":
        """Fits vectors (unless given) and thresholds on ``latents (N, D)``, ``labels (N, K)``.

        Latents of any shape ``(N, *S)`` are scored as flat vectors; the vectors are then
        ``(K, *S)``. Returns ``self``. Raises ValueError for shape mismatches, single-class attributes
        and bad labels (see :mod:`latentatlas.attributes`).
        """
        z = as_numpy(latents)
        y = attributes._as_labels(labels, z.shape[0] if z.ndim else 0)
        names = attributes._names(label_names, y.shape[1])
        shape = tuple(z.shape[1:])
        if z.ndim > 2:
            z = z.reshape(z.shape[0], -1)
        if vectors is not None:
            V = np.asarray(vectors, dtype=np.float64)
            if V.shape == shape:
                V = V[None]
            if V.shape != (y.shape[1], *shape):
                raise ValueError(f"vectors must be (K, D) (or (K, *S) for latents of shape S) = "
                                 f"{(y.shape[1], *shape)}, got {V.shape}")
            V = V.reshape(y.shape[1], -1)
        elif balance is not None:
            V = attributes.mean_difference(z, y, label_names=names)
            cols = attributes._attr_columns(balance, names)
            V[cols] = attributes.balanced(z, y, balance, label_names=names)
        else:
            V = attributes.mean_difference(z, y, label_names=names)
        self.vectors = V.reshape(V.shape[0], *shape) if len(shape) > 1 else V
        self.label_names = names
        S = self._score(z.reshape(z.shape[0], *shape))
        fits = [best_threshold(S[:, k], y[:, k]) for k in range(y.shape[1])]
        self.thresholds = np.array([f[0] for f in fits])
        self.train_accuracy = np.array([f[1] for f in fits])
        return self

    def _score(self, latents: Any) -> np.ndarray:
        if self.vectors is None:
            raise ValueError("AtDot is not fitted; call fit(latents, labels) first")
        z = as_numpy(latents, np.float64)
        shape = tuple(self.vectors.shape[1:])
        if z.ndim < 2 or tuple(z.shape[1:]) != shape:
            raise ValueError(f"latents must be (N, {', '.join(map(str, shape))}), got shape {z.shape}")
        V = self.vectors.reshape(self.vectors.shape[0], -1)
        return ops.score(np.ascontiguousarray(z.reshape(z.shape[0], -1)), np.ascontiguousarray(V))

    def scores(self, latents: Any) -> np.ndarray:
        """``(N, K)`` dot products of the latents with the attribute vectors."""
        return self._score(latents)

    def predict(self, latents: Any) -> np.ndarray:
        """``(N, K)`` 0/1 predictions: score above the attribute's threshold."""
        return (self._score(latents) > self.thresholds[None, :]).astype(np.int8)

    def evaluate(self, latents: Any, labels: Any) -> dict[str, dict[str, float]]:
        """Per attribute: ``accuracy``, ``auc`` (None where the labels have one class),
        ``positives`` (fraction of positive labels) and the ``threshold`` used."""
        S = self._score(latents)
        y = attributes._as_labels(labels, S.shape[0])
        if y.shape[1] != S.shape[1]:
            raise ValueError(f"labels must have {S.shape[1]} columns, got {y.shape[1]}")
        pred = S > self.thresholds[None, :]
        result = {}
        for k, name in enumerate(self.label_names):
            yk = y[:, k] > 0.5
            both = 0 < yk.sum() < yk.size
            result[name] = {
                "accuracy": float((pred[:, k] == yk).mean()) if yk.size else float("nan"),
                "auc": auc(S[:, k], yk.astype(int)) if both else None,
                "positives": float(yk.mean()) if yk.size else float("nan"),
                "threshold": float(self.thresholds[k]),
            }
        return result


def accuracy_table(train_latents: Any, train_labels: Any, test_latents: Any, test_labels: Any, *,
                   label_names: Sequence[str] | None = None, balance: Sequence[str | int] | None = None,
                   seed: int = 0) -> list[dict[str, Any]]:
    """Table 3 of the paper on your latents: per attribute, the test accuracy of AtDot
    (and its AUC) beside a logistic regression and a linear SVM fitted on the same
    training latents, plus the rate of the majority class as a floor; a last row
    averages each column.

    Returns:
        A list of dicts with keys ``attribute``, ``atdot``, ``auc``, ``logistic``,
        ``linear_svm``, ``majority``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    zt = as_numpy(train_latents, np.float64)
    zs = as_numpy(test_latents, np.float64)
    if zt.ndim > 2 or zs.ndim > 2:  # latents of any shape: the classifiers see flat vectors
        zt, zs = zt.reshape(zt.shape[0], -1), zs.reshape(zs.shape[0], -1)
    model = AtDot().fit(zt, train_labels, label_names=label_names, balance=balance)
    ev = model.evaluate(zs, test_labels)
    yt = attributes._as_labels(train_labels, zt.shape[0])
    ys = attributes._as_labels(test_labels, zs.shape[0])
    scaler = StandardScaler().fit(zt)
    zt_s, zs_s = scaler.transform(zt), scaler.transform(zs)
    rows = []
    for k, name in enumerate(model.label_names):
        yk = yt[:, k].astype(int)
        lr = LogisticRegression(max_iter=2000, random_state=seed).fit(zt_s, yk)
        svm = LinearSVC(C=1.0, max_iter=20000, random_state=seed).fit(zt_s, yk)
        truth = ys[:, k].astype(int)
        rows.append({
            "attribute": name,
            "atdot": ev[name]["accuracy"],
            "auc": ev[name]["auc"],
            "logistic": float((lr.predict(zs_s) == truth).mean()),
            "linear_svm": float((svm.predict(zs_s) == truth).mean()),
            "majority": float(max(truth.mean(), 1 - truth.mean())),
        })
    cols = ["atdot", "auc", "logistic", "linear_svm", "majority"]
    avg = {"attribute": "average"}
    for c in cols:
        vals = [r[c] for r in rows if r[c] is not None]
        avg[c] = float(np.mean(vals)) if vals else None
    rows.append(avg)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`accuracy_table` as a Markdown table (percentages)."""
    head = "| attribute | AtDot | AUC | logistic regression | linear SVM | majority |\n|---|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        def pct(v: Any) -> str:
            return "–" if v is None else f"{100 * v:.1f}"
        auc_text = "–" if r["auc"] is None else f"{r['auc']:.3f}"
        lines.append(f"| {r['attribute']} | {pct(r['atdot'])} | {auc_text} | "
                     f"{pct(r['logistic'])} | {pct(r['linear_svm'])} | {pct(r['majority'])} |")
    return "\n".join(lines)
