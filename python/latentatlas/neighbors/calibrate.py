"""Choosing a NeighborIndex's search breadth from a recall target, by measurement.

The queries (unless the caller gives some): a seeded sample of at most
:data:`CALIBRATION_QUERIES` stored rows, each moved in a random direction by
:data:`REACH` times the distance to its own nearest other stored row. A query drawn from
the same distribution as the stored vectors (a new encoding) lies about one such distance
from its nearest stored vector, but a row moved by one still has itself as an easy,
distinct nearest neighbour; measured on 20k × 64 i.i.d. Gaussian latents (recall@10 at
ef = 60/120/180/300), out-of-sample queries reached 0.715/0.882/0.941/0.981, rows moved
by one distance 0.797/0.911/0.957/0.987 (optimistic), by two 0.739/0.887/0.943/0.985. The queries are moved by 2.5, on the safe side of that.
Off the data's manifold (encodings of low intrinsic dimension) the random direction makes
queries harder, not easier, so the estimate errs on the safe side.

For each ``k``, the exact k nearest rows of those queries are the truth; the breadth is the
smallest ``ef`` (doubling from ``k``, then bisecting) whose graph results reach the target
plus a margin of :data:`MARGIN_SE` standard errors of the mean per-query recall (at least
:data:`MIN_MARGIN`). When that ``ef`` would exceed
:data:`EXACT_EF_FRACTION` of the stored rows, the graph searches about as many rows as
brute force would, so the index searches exactly for that ``k`` instead; so it does as soon
as a graph search of the queries takes longer than their exact search did.

Cost: one broad graph search of the sample for its nearest stored row, one exact search
per ``k`` for the truth, and about ``2·log2(ef/k)`` graph searches of the sample; the seconds are recorded
with the result.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

__all__ = ["CALIBRATION_QUERIES", "REACH", "EXACT_EF_FRACTION", "STALE_FRACTION", "held_out_queries", "choose_ef",
           "check_calibration"]

# How far a stored row is moved to make a query, in distances to its nearest other row.
REACH = 2.5
# Queries measured per calibration.
CALIBRATION_QUERIES = 300
# The measured recall must exceed the target by this many standard errors of its mean
# over the queries, and by at least MIN_MARGIN.
MARGIN_SE = 2.5
MIN_MARGIN = 0.01
# A calibrated ef above this fraction of the stored rows sends the queries to exact search.
EXACT_EF_FRACTION = 0.25
# A calibration is redone on the next query once adds and removals since it exceed this
# fraction of the rows it measured.
STALE_FRACTION = 0.05

# (queries, k, ef) -> graph result rows (Q, k).
GraphSearch = Callable[[np.ndarray, int, int], np.ndarray]


def held_out_queries(vectors: np.ndarray, exact_nn: Callable[[np.ndarray, int], np.ndarray],
                     seed: int) -> np.ndarray:
    """Calibration queries from stored rows (see the module docstring).

    Args:
        vectors: ``(n, D)`` float32 alive rows as stored.
        exact_nn: ``(queries, k) -> (Q, k)`` squared Euclidean distances to the ``k``
            nearest stored rows (the row itself first; the index finds them with a broad
            graph search, as only the queries' scale depends on them).
        seed: the sample's and the directions' seed.
    """
    rng = np.random.default_rng(seed)
    n = len(vectors)
    pick = np.sort(rng.choice(n, min(CALIBRATION_QUERIES, n), replace=False))
    x = vectors[pick].astype(np.float64)
    reach = np.sqrt(np.maximum(exact_nn(vectors[pick], min(2, n))[:, -1], 0.0))
    step = rng.standard_normal(x.shape)
    step /= np.maximum(np.linalg.norm(step, axis=1, keepdims=True), 1e-30)
    return (x + REACH * reach[:, None] * step).astype(np.float32)


def _recall(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Recall of each query."""
    return np.array([len(np.intersect1d(f, t, assume_unique=True)) for f, t in zip(found, truth)]) / truth.shape[1]


def choose_ef(queries: np.ndarray, truth: np.ndarray, search: GraphSearch, *, target: float, count: int,
              fixed_ef: int | None = None, exact_seconds: float | None = None) -> dict[str, Any]:
    """The calibration of one ``k`` (``truth.shape[1]``).

    Args:
        queries: ``(Q, D)`` calibration queries.
        truth: ``(Q, k)`` their exact k nearest rows.
        search: the graph search.
        target: the recall to reach, in (0, 1].
        count: stored rows (ef beyond ``EXACT_EF_FRACTION·count`` means exact search).
        fixed_ef: the user's ef: measure it instead of choosing.
        exact_seconds: how long exact search of ``queries`` took: a breadth whose graph
            search takes longer means exact search (faster and exact).

    Returns:
        ``{"ef": int or None (exact), "recall": measured (1.0 when exact), "queries": Q,
        "seconds": time taken}``.
    """
    start = time.perf_counter()
    k = truth.shape[1]
    measured: dict[int, float] = {}
    spread: dict[int, float] = {}
    seconds: dict[int, float] = {}

    def recall_at(ef: int) -> float:
        if ef not in measured:
            began = time.perf_counter()
            found = search(queries, k, ef)
            seconds[ef] = time.perf_counter() - began
            per_query = _recall(found, truth)
            measured[ef] = float(per_query.mean())
            spread[ef] = float(per_query.std() / math.sqrt(len(per_query)))
        return measured[ef]

    def slower(ef: int) -> bool:
        """The graph search at ``ef`` took longer than exact search."""
        return exact_seconds is not None and seconds[ef] > exact_seconds

    def meets(ef: int) -> bool:
        recall = recall_at(ef)
        return recall >= min(1.0, target + max(MIN_MARGIN, MARGIN_SE * spread[ef]))

    def result(ef: int | None) -> dict[str, Any]:
        recall = 1.0 if ef is None else recall_at(ef)
        return {"ef": ef, "recall": float(recall), "queries": int(len(queries)),
                "seconds": float(time.perf_counter() - start)}

    if fixed_ef is not None:
        return result(max(fixed_ef, k))
    limit = max(k, int(EXACT_EF_FRACTION * count))
    low, high = None, k
    while not meets(high):
        if high >= limit or slower(high):
            return result(None)
        low, high = high, min(limit, 2 * high)
    while low is not None and high - low > max(1, high // 16):
        mid = (low + high) // 2
        low, high = (mid, high) if not meets(mid) else (low, mid)
    return result(None if slower(high) else high)


def check_calibration(calibration: Any, path: str) -> dict[str, Any]:
    """A calibration read from a file, checked; ValueError naming the file otherwise."""
    bad = ValueError(f"{path!r}: corrupt header (invalid calibration)")
    if not isinstance(calibration, dict) or set(calibration) != {"count", "changes", "per_k"}:
        raise bad
    if any(not isinstance(calibration[key], int) or calibration[key] < 0 for key in ("count", "changes")):
        raise bad
    per_k = calibration["per_k"]
    if not isinstance(per_k, dict):
        raise bad
    out = {}
    for key, entry in per_k.items():
        if (not key.isdigit() or int(key) < 1 or not isinstance(entry, dict)
                or not (entry.get("ef") is None or (isinstance(entry["ef"], int) and entry["ef"] >= 1))
                or not isinstance(entry.get("recall"), (int, float)) or not 0.0 <= entry["recall"] <= 1.0
                or not isinstance(entry.get("queries"), int) or not isinstance(entry.get("seconds"), (int, float))):
            raise bad
        out[int(key)] = dict(entry)
    return {"count": calibration["count"], "changes": calibration["changes"], "per_k": out}
