"""Exact nearest neighbours: brute force on the native ``score`` kernel, dot products of
each query with its own candidate rows (``gather_score``), the one conversion from dot
products to distances, and recall@k.

Distances follow hnswlib's conventions, so that exact and graph results compare directly:

- ``"cosine"``: ``1 − cos(q, x)`` (a zero vector has cosine 0 with everything);
- ``"ip"``: ``1 − q·x``;
- ``"l2"``: the squared Euclidean distance ``|q − x|²``.

The input checks here (spaces, vectors, ids) are also the index's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .._core import gather_score as _gather_score_native
from .._arrays import check_int, finite_floats, to_numpy

__all__ = ["SPACES", "exact_search", "exact_distances", "gather_scores", "recall_at_k"]

SPACES = ("cosine", "l2", "ip")
# Score blocks hold at most this many (query, vector) pairs (64 MiB of float32).
_BLOCK_PAIRS = 1 << 24

Array = Any  # numpy.ndarray or torch.Tensor


def check_space(space: Any) -> str:
    """``space`` if it is one of :data:`SPACES`, else a ValueError listing them."""
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    return space


def as_vectors(name: str, x: Array, dim: int | None, *, allow_1d: bool = False) -> np.ndarray:
    """A C-contiguous float32 (N, dim) copy or view of an array/tensor, checked: float
    dtype, finite, 2-D (or 1-D with ``allow_1d``), ``dim`` columns when given, and values
    that fit float32."""
    x = finite_floats(x, name)
    if allow_1d and x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        want = "(D,) or (N, D)" if allow_1d else "(N, D)"
        raise ValueError(f"{name} must be {want}, got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (the index's dim), got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has dimension 0")
    out = np.ascontiguousarray(x, dtype=np.float32)
    if out.size and not np.isfinite(out).all():
        raise ValueError(f"{name} has values too large for float32")
    return out


def check_ids(ids: Array, n: int) -> np.ndarray:
    """``ids`` as ``(n,)`` int64 labels, checked: integers, one per vector, non-negative,
    unique."""
    ids = ids if isinstance(ids, (list, tuple)) else to_numpy(ids, "ids")
    ids = np.asarray(ids)
    if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    if ids.shape != (n,):
        raise ValueError(f"ids must have shape ({n},), one per vector, got {ids.shape}")
    if n and (ids.min() < 0 or ids.max() > np.iinfo(np.int64).max):
        raise ValueError("ids must be non-negative 64-bit integers")
    ids = ids.astype(np.int64)
    if len(np.unique(ids)) != n:
        raise ValueError("ids contains duplicates")
    return ids


def sq_norms(x: np.ndarray) -> np.ndarray:
    """Squared length of each row, in float64."""
    x64 = x.astype(np.float64)
    return np.einsum("ij,ij->i", x64, x64)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float32 (zero rows stay zero: no direction, cosine 0)."""
    norms = np.sqrt(sq_norms(x))
    return (x / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)


def gather_scores(q: np.ndarray, data: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Dot products of each query with its own candidate rows of ``data``:
    ``out[i, c] = q[i] · data[rows[i, c]]`` on the native kernel (lanes in float, sums in
    double), without gathering the candidates into a copy.

    Args:
        q: ``(Q, D)`` float32 or float64.
        data: ``(N, D)``, the dtype of ``q``.
        rows: ``(Q, C)`` integer row numbers into ``data``, each in ``[0, N)``.

    Returns:
        ``(Q, C)`` scores in the dtype of ``q``.

    Raises:
        TypeError: non-float ``q``/``data``, mixed dtypes, non-integer ``rows``.
        ValueError: wrong shapes, or a row number outside ``[0, N)``.
    """
    q, data = to_numpy(q, "q"), to_numpy(data, "data")
    rows = to_numpy(rows, "rows")
    if not np.issubdtype(rows.dtype, np.integer) or rows.dtype == np.bool_:
        raise TypeError(f"rows must be integers, got dtype {rows.dtype}")
    if q.ndim != 2 or data.ndim != 2 or rows.ndim != 2:
        raise ValueError(f"q, data and rows must be 2-D, got shapes {q.shape}, {data.shape} and {rows.shape}")
    if q.shape[0] != rows.shape[0]:
        raise ValueError(f"rows must have one row per query, got shapes {rows.shape} and q {q.shape}")
    if data.shape[1] != q.shape[1]:
        raise ValueError(f"data must have the vector size of q, got shapes {data.shape} and {q.shape}")
    out = np.empty(rows.shape, dtype=q.dtype)
    _gather_score_native(np.ascontiguousarray(q), np.ascontiguousarray(data),
                         np.ascontiguousarray(rows, dtype=np.int64), out)
    return out


def exact_distances(q: np.ndarray, data: np.ndarray, space: str, *, rows: np.ndarray | None = None,
                    data_sq: np.ndarray | None = None) -> np.ndarray:
    """Exact distances (module docstring's conventions) from each query to every row of
    ``data`` or, with ``rows``, to its own candidate rows; the dot products are the native
    kernels' (double-precision sums), the conversion is done in float64.

    Args:
        q: ``(Q, D)`` float32 queries.
        data: ``(N, D)`` float32 vectors; with ``rows`` and ``"cosine"`` they must already be
            unit rows (the index stores them so), without ``rows`` any length.
        space: ``"cosine"``, ``"l2"`` or ``"ip"``.
        rows: optional ``(Q, C)`` row numbers into ``data``, the candidates of each query.
        data_sq: ``(N,)`` squared norms of ``data``'s rows (``"l2"`` only; computed when
            None), for callers that keep them.

    Returns:
        float32 distances, ``(Q, N)`` without ``rows``, ``(Q, C)`` with them.
    """
    if rows is None:
        scores = ops.score(q, data, normalize=(space == "cosine"))
    else:
        scores = gather_scores(unit_rows(q) if space == "cosine" else q, data, rows)
    if space != "l2":
        return (1.0 - scores.astype(np.float64)).astype(np.float32)
    data_sq = sq_norms(data) if data_sq is None else data_sq
    d = sq_norms(q)[:, None] + (data_sq if rows is None else data_sq[rows]) - 2.0 * scores.astype(np.float64)
    return np.maximum(d, 0.0).astype(np.float32)


def top_k(dist: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest distances of each row with their labels, nearest first (ties by
    label among the k kept): ``(labels, distances)``."""
    if k < dist.shape[1]:
        keep = np.argpartition(dist, k - 1, axis=1)[:, :k]
        dist, labels = np.take_along_axis(dist, keep, axis=1), np.take_along_axis(labels, keep, axis=1)
    order = np.lexsort((labels, dist), axis=1)
    return np.take_along_axis(labels, order, axis=1), np.take_along_axis(dist, order, axis=1)


def exact_search(vectors: Array, queries: Array, k: int, space: str = "cosine", *,
                 ids: Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by brute force on the native ``score`` kernel (dot
    products accumulated in double precision), in blocks of queries.

    For small sets, and as the ground truth when measuring an index's recall.

    Args:
        vectors: ``(N, D)`` data, float32/float64 (used as float32).
        queries: ``(Q, D)`` or ``(D,)``.
        k: neighbours per query, ``1 <= k <= N``.
        space: ``"cosine"``, ``"l2"`` or ``"ip"`` (distances as in the module docstring).
        ids: optional ``(N,)`` integer labels for the rows of ``vectors`` (default: row numbers).

    Returns:
        ``(ids, distances)``, each ``(Q, k)`` (int64, float32), nearest first; equal
        distances are listed by row number.
    """
    space = check_space(space)
    data = as_vectors("vectors", vectors, None)
    q = as_vectors("queries", queries, data.shape[1], allow_1d=True)
    n = data.shape[0]
    if n == 0:
        raise ValueError("vectors is empty: nothing to search")
    k = check_int("k", k, 1)
    if k > n:
        raise ValueError(f"k = {k} is larger than the number of vectors ({n})")
    labels = np.arange(n, dtype=np.int64) if ids is None else check_ids(ids, n)
    data_sq = sq_norms(data) if space == "l2" else None
    block = max(1, _BLOCK_PAIRS // n)
    out_ids = np.empty((q.shape[0], k), dtype=np.int64)
    out_d = np.empty((q.shape[0], k), dtype=np.float32)
    for start in range(0, q.shape[0], block):
        qb = q[start:start + block]
        dist = exact_distances(qb, data, space, data_sq=data_sq)
        # Ties go by row number (not by label), so the order does not depend on the ids given.
        rows, out_d[start:start + len(qb)] = top_k(dist, np.broadcast_to(np.arange(n), dist.shape), k)
        out_ids[start:start + len(qb)] = labels[rows]
    return out_ids, out_d


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true k nearest ids (``truth``, ``(Q, k)``) present among the
    ids ``found`` (``(Q, k')``) per query."""
    found, truth = np.asarray(found), np.asarray(truth)
    if found.ndim != 2 or truth.ndim != 2 or found.shape[0] != truth.shape[0]:
        raise ValueError(f"found and truth must be (Q, k) arrays with the same Q, got {found.shape} and {truth.shape}")
    if truth.shape[0] == 0 or truth.shape[1] == 0:
        raise ValueError("truth is empty")
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size
