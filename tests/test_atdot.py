"""AtDot classifiers: the exact threshold scan against brute force, ROC/AUC against
scikit-learn, and the accuracy table."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from latentatlas import atdot
from latentatlas.atdot import AtDot


def brute_threshold(s, y):
    best = (-1.0, None)
    cands = np.r_[s.min() - 1, np.unique(s), s.max() + 1]
    for c in np.unique(np.r_[cands, (np.unique(s)[1:] + np.unique(s)[:-1]) / 2]):
        acc = ((s > c) == y).mean()
        if acc > best[0]:
            best = (acc, c)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_threshold_scan_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    s = np.round(rng.standard_normal(n), 1)  # many ties
    y = rng.random(n) < 0.4
    thr, acc = atdot.best_threshold(s, y.astype(int))
    want_acc, _ = brute_threshold(s, y)
    assert acc == pytest.approx(want_acc)
    assert ((s > thr) == y).mean() == pytest.approx(acc)


def test_roc_and_auc_match_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(5):
        y = (rng.random(300) < 0.3).astype(int)
        s = np.round(rng.standard_normal(300) + y, 1)
        assert atdot.auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        fpr, tpr, thr = atdot.roc_curve(s, y)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thr) < 0)


def test_histogram_counts_each_class():
    s = np.array([0.0, 0.1, 0.9, 1.0, 0.5])
    y = np.array([0, 0, 1, 1, 1])
    edges, pos, neg = atdot.score_histogram(s, y, bins=2)
    assert edges.tolist() == [0.0, 0.5, 1.0]
    assert pos.tolist() == [0, 3] and neg.tolist() == [2, 0]


def test_atdot_fit_predict_evaluate_on_planted_attributes():
    rng = np.random.default_rng(2)
    D, n = 64, 3000  # near-orthogonal planted directions: little cross-talk
    V = rng.standard_normal((3, D))
    Y = (rng.random((n, 3)) < [0.5, 0.3, 0.7]).astype(int)
    Z = rng.standard_normal((n, D)) * 0.5 + Y @ V
    model = AtDot().fit(Z[:2000], Y[:2000], label_names=["a", "b", "c"])
    assert model.vectors.shape == (3, D) and model.thresholds.shape == (3,)
    np.testing.assert_allclose(model.scores(Z[:5]), Z[:5] @ model.vectors.T, rtol=1e-10)
    pred = model.predict(Z[2000:])
    assert pred.shape == (1000, 3) and set(np.unique(pred)) <= {0, 1}
    ev = model.evaluate(Z[2000:], Y[2000:])
    for k, name in enumerate("abc"):
        assert ev[name]["accuracy"] == pytest.approx((pred[:, k] == Y[2000:, k]).mean())
        assert ev[name]["accuracy"] > 0.9 and ev[name]["auc"] > 0.95
        assert ev[name]["auc"] == pytest.approx(roc_auc_score(Y[2000:, k], model.scores(Z[2000:])[:, k]))


def test_accuracy_table_sets_atdot_beside_baselines():
    rng = np.random.default_rng(3)
    D, n = 8, 1200
    V = rng.standard_normal((2, D))
    Y = (rng.random((n, 2)) < 0.5).astype(int)
    Z = rng.standard_normal((n, D)) * 0.6 + Y @ V
    rows = atdot.accuracy_table(Z[:800], Y[:800], Z[800:], Y[800:], label_names=["x", "y"])
    assert [r["attribute"] for r in rows] == ["x", "y", "average"]
    for r in rows[:2]:
        assert 0.85 < r["atdot"] <= 1 and 0.85 < r["logistic"] <= 1 and 0.85 < r["linear_svm"] <= 1
    assert rows[2]["atdot"] == pytest.approx((rows[0]["atdot"] + rows[1]["atdot"]) / 2)
    text = atdot.format_table(rows)
    assert text.count("\n") == 4 and "| average |" in text


def test_atdot_errors():
    with pytest.raises(ValueError, match="AtDot is not fitted"):
        AtDot().predict(np.zeros((2, 3)))
    model = AtDot().fit(np.array([[1.0, 0], [0, 1], [1, 1], [0, 0]]), np.array([[1], [0], [1], [0]]))
    with pytest.raises(ValueError, match=r"latents must be \(N, 2\), got shape \(3, 3\)"):
        model.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="scores and labels must be 1-D of the same length"):
        atdot.best_threshold(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="ROC needs both positive and negative labels"):
        atdot.auc(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="scores contain NaN or Inf"):
        atdot.best_threshold(np.array([np.nan, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"vectors must be \(K, D\)"):
        AtDot().fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]), vectors=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="bins must be >= 1, got 0"):
        atdot.score_histogram(np.zeros(3), np.array([0, 1, 0]), bins=0)
    with pytest.raises(TypeError, match="bins must be an int, got str"):
        atdot.score_histogram(np.zeros(3), np.array([0, 1, 0]), bins="auto")
