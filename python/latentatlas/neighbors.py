"""Nearest neighbours of latents: an HNSW index (hnswlib) with exact re-ranking, and exact
brute-force search on the native ``score`` kernel.

Distances follow hnswlib's conventions in every path (approximate, re-ranked, exact):

- ``"cosine"``: ``1 − cos(q, x)`` (a zero vector has cosine 0 with everything);
- ``"ip"``: ``1 − q·x``;
- ``"l2"``: the squared Euclidean distance ``|q − x|²``.

Thread rules (enforced): any number of threads may call :meth:`NeighborIndex.query` and
:meth:`~NeighborIndex.save` at once (graph searches take turns inside, since hnswlib keeps
one search breadth per index; each batch is still searched in parallel by hnswlib's own
threads); :meth:`~NeighborIndex.add` needs the index to itself. A query or save that starts
while an add is running, or an add that starts while another add or any query or save is
running, raises ``RuntimeError`` instead of racing (hnswlib releases the GIL, so such calls
would otherwise overlap). Serialise adds and queries yourself, e.g. build first and then
serve queries.

Index files: ``MAGIC`` (8 bytes), format version (uint32 LE), header length (uint32 LE),
a UTF-8 JSON header (dim, space, count, HNSW parameters, payload size, and a SHA-256 over
the other header fields and the payload), then hnswlib's own index bytes. Version 1 is a
full-dimension index; version 2 (written only by reduced-dimension indexes,
``reduce_dim=r``) adds ``reduce_dim`` and ``hnsw_bytes`` to the header, and after
hnswlib's bytes the projection (``(r, dim)`` float32 basis, ``(dim,)`` float32 mean), the
ids of the rows (``(count,)`` int64) and the full-dimension vectors (``(count, dim)``
float32), all little-endian and all covered by the checksum.
:meth:`NeighborIndex.load` checks all of it, and cross-checks hnswlib's own header against
dim, count and M, before hnswlib reads a byte, so a truncated, corrupt or foreign file is a
``ValueError`` naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from . import ops
from ._core import gather_score as _gather_score_native
from ._files import atomic_write
from ._arrays import check_int, finite_floats, to_numpy

__all__ = ["SPACES", "NeighborIndex", "exact_search", "gather_scores", "recall_at_k"]

SPACES = ("cosine", "l2", "ip")
MAGIC = b"LATLSIDX"
FORMAT_VERSION = 1  # full-dimension indexes
REDUCED_FORMAT_VERSION = 2  # reduced-dimension indexes (projection + full vectors appended)
_PREFIX = struct.Struct("<8sII")
_MAX_HEADER = 1 << 16
_CHUNK = 1 << 20
# Score blocks hold at most this many (query, vector) pairs (64 MiB of float32).
_BLOCK_PAIRS = 1 << 24
# The projection of a reduced-dimension index is learned from at most this many rows.
_PROJECTION_SAMPLE = 20_000

Array = Any  # numpy.ndarray or torch.Tensor


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:  # pragma: no cover - hnswlib is a dependency
        raise ImportError("NeighborIndex needs hnswlib: pip install hnswlib") from exc
    return hnswlib


def _check_space(space: Any) -> str:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    return space


def _as_vectors(name: str, x: Array, dim: int | None, *, allow_1d: bool = False) -> np.ndarray:
    """A C-contiguous float32 (N, dim) copy or view of an array/tensor, checked."""
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


def _distances_from_scores(scores: np.ndarray, space: str, qq: np.ndarray | None,
                           xx: np.ndarray | None) -> np.ndarray:
    """hnswlib-convention distances from dot products (cosines for "cosine")."""
    if space == "l2":
        d = qq[:, None] + xx[None, :] - 2.0 * scores.astype(np.float64)
        return np.maximum(d, 0.0).astype(np.float32)
    return (1.0 - scores.astype(np.float64)).astype(np.float32)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    return np.einsum("ij,ij->i", x64, x64)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float32 (zero rows stay zero: no direction, cosine 0)."""
    norms = np.sqrt(_sq_norms(x))
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


def _reserve(buffer: np.ndarray, used: int, needed: int) -> np.ndarray:
    """``buffer`` with room for ``needed`` rows, its first ``used`` rows kept: itself when
    large enough, else a copy into at least twice the capacity."""
    if len(buffer) >= needed:
        return buffer
    grown = np.empty((max(needed, 2 * len(buffer)),) + buffer.shape[1:], dtype=buffer.dtype)
    grown[:used] = buffer[:used]
    return grown


def _top_k(dist: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest distances of each row with their labels, nearest first (ties by
    label among the k kept)."""
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
    space = _check_space(space)
    data = _as_vectors("vectors", vectors, None)
    q = _as_vectors("queries", queries, data.shape[1], allow_1d=True)
    n = data.shape[0]
    if n == 0:
        raise ValueError("vectors is empty: nothing to search")
    k = check_int("k", k, 1)
    if k > n:
        raise ValueError(f"k = {k} is larger than the number of vectors ({n})")
    labels = np.arange(n, dtype=np.int64) if ids is None else _check_ids(ids, n)
    xx = _sq_norms(data) if space == "l2" else None
    block = max(1, _BLOCK_PAIRS // n)
    out_ids = np.empty((q.shape[0], k), dtype=np.int64)
    out_d = np.empty((q.shape[0], k), dtype=np.float32)
    for start in range(0, q.shape[0], block):
        qb = q[start:start + block]
        scores = ops.score(qb, data, normalize=(space == "cosine"))
        dist = _distances_from_scores(scores, space, _sq_norms(qb) if space == "l2" else None, xx)
        top = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(qb), 1))
        top_d = np.take_along_axis(dist, top, axis=1)
        order = np.lexsort((top, top_d), axis=1)
        rows = np.take_along_axis(top, order, axis=1)
        out_ids[start:start + len(qb)] = labels[rows]
        out_d[start:start + len(qb)] = np.take_along_axis(top_d, order, axis=1)
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


def _check_ids(ids: Array, n: int) -> np.ndarray:
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


class NeighborIndex:
    """An HNSW index over latent vectors (hnswlib), with exact re-ranking and brute force.

    Example::

        index = NeighborIndex(64, space="cosine")
        index.add(latents)                  # ids 0..N-1
        ids, distances = index.query(z, k=10)
        index.save("latents.laidx"); index = NeighborIndex.load("latents.laidx")

    Args:
        dim: vector size (>= 1).
        space: ``"cosine"`` (default), ``"l2"`` or ``"ip"``; see the module docstring for
            the distances.
        M: HNSW graph degree (hnswlib's M; 16 is a good default, larger for high recall
            in high dimension).
        ef_construction: candidate list size while building (quality vs build time).
        ef: default candidate list size while searching (raised to k when smaller).
        seed: hnswlib's random seed for the level assignment (builds are reproducible
            single-threaded).
        num_threads: threads for add and query (-1: all cores).
        reduce_dim: build the graph on an ``r``-dimensional linear projection of the
            vectors instead of the vectors themselves (``1 <= r <= dim``; default None, a
            full-dimension graph). The projection is the top-``r`` principal subspace
            learned from the first :meth:`add` batch (which needs at least ``r`` rows),
            uncentred for ``"cosine"``/``"ip"`` (so projected inner products approximate
            the full ones) and centred for ``"l2"``. Every query then re-ranks the ``ef``
            graph candidates by exact full-dimension distances (native gathered dot
            products), so results and distances are exact for the candidates found. For
            latents of low intrinsic dimension (encoder outputs) this searches a small
            graph at full-dimension accuracy; the index keeps a float32 copy of the
            vectors for the re-rank.

    See the module docstring for the thread rules and the file format.
    """

    def __init__(self, dim: int, space: str = "cosine", *, M: int = 16, ef_construction: int = 200,
                 ef: int = 64, seed: int = 100, num_threads: int = -1, reduce_dim: int | None = None) -> None:
        self._dim = check_int("dim", dim, 1)
        self._space = _check_space(space)
        self._M = check_int("M", M, 2)
        self._ef_construction = check_int("ef_construction", ef_construction, 1)
        self._ef = check_int("ef", ef, 1)
        self._seed = check_int("seed", seed, 0)
        self.num_threads = num_threads
        if reduce_dim is not None:
            reduce_dim = check_int("reduce_dim", reduce_dim, 1)
            if reduce_dim > self._dim:
                raise ValueError(f"reduce_dim must be at most dim = {self._dim}, got {reduce_dim}")
        self._reduce = reduce_dim
        self._index = self._new_graph()
        self._index.init_index(max_elements=1024, M=self._M, ef_construction=self._ef_construction,
                               random_seed=self._seed)
        self._index.set_ef(self._ef)
        self._ids: set[int] = set()
        # Reduced-dimension indexes only: the projection, and per row (the graph's labels
        # are row numbers) the caller's id and the full vector (unit rows for "cosine").
        self._basis: np.ndarray | None = None
        self._mean: np.ndarray | None = None
        self._row_ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, self._dim), dtype=np.float32)
        self._vector_sq = np.empty(0, dtype=np.float64)
        self._next_id = 0
        self._state = threading.Lock()
        self._search = threading.Lock()  # set_ef + knn_query must not interleave
        self._readers = 0
        self._writing = False

    # -------------------------------------------------------------- properties

    @property
    def dim(self) -> int:
        """The vector size."""
        return self._dim

    @property
    def space(self) -> str:
        """``"cosine"``, ``"l2"`` or ``"ip"``."""
        return self._space

    @property
    def reduce_dim(self) -> int | None:
        """The graph's projected dimension, or None for a full-dimension graph."""
        return self._reduce

    @property
    def ef(self) -> int:
        """The default search candidate list size."""
        return self._ef

    @ef.setter
    def ef(self, value: int) -> None:
        self._ef = check_int("ef", value, 1)

    @property
    def num_threads(self) -> int:
        """Threads hnswlib uses for add and query (-1: all cores)."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value: int) -> None:
        value = check_int("num_threads", value, -1)
        if value == 0:
            raise ValueError("num_threads must be -1 (all cores) or >= 1, got 0")
        self._num_threads = value

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        reduced = f", reduce_dim={self._reduce}" if self._reduce else ""
        return (f"NeighborIndex(dim={self._dim}, space={self._space!r}, count={len(self)}, M={self._M}, "
                f"ef_construction={self._ef_construction}, ef={self._ef}{reduced})")

    def _new_graph(self) -> Any:
        """An empty hnswlib index of the graph's space and dimension (projected inner
        products for reduced "cosine"/"ip", which the re-rank turns exact)."""
        if self._reduce is None:
            return _hnswlib().Index(space=self._space, dim=self._dim)
        return _hnswlib().Index(space="l2" if self._space == "l2" else "ip", dim=self._reduce)

    # -------------------------------------------------------------- thread rules

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        with self._state:
            if self._writing:
                raise RuntimeError(f"NeighborIndex.{what}() called while add() is running in another thread; "
                                   "adds need the index to themselves (see the thread rules)")
            self._readers += 1
        try:
            yield
        finally:
            with self._state:
                self._readers -= 1

    @contextmanager
    def _writing_lock(self) -> Iterator[None]:
        with self._state:
            if self._writing or self._readers:
                busy = "another add()" if self._writing else f"{self._readers} query/save call(s)"
                raise RuntimeError(f"NeighborIndex.add() called while {busy} is running in another thread; "
                                   "adds need the index to themselves (see the thread rules)")
            self._writing = True
        try:
            yield
        finally:
            with self._state:
                self._writing = False

    # -------------------------------------------------------------- building

    def add(self, vectors: Array, ids: Array | None = None) -> np.ndarray:
        """Adds a batch of vectors.

        Args:
            vectors: ``(N, dim)`` float32/float64 array or tensor (stored as float32).
            ids: ``(N,)`` non-negative integer labels, unique and not yet in the index;
                default: consecutive numbers after the largest id so far.

        Returns:
            The ids given to the vectors, ``(N,)`` int64.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, duplicate or negative ids.
            TypeError: non-float vectors or non-integer ids.
            RuntimeError: called while another thread adds or queries.
        """
        data = _as_vectors("vectors", vectors, self._dim)
        n = data.shape[0]
        with self._writing_lock():
            if ids is None:
                labels = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
            else:
                labels = _check_ids(ids, n)
                clash = self._ids.intersection(labels.tolist())
                if clash:
                    raise ValueError(f"ids already in the index: {sorted(clash)[:5]}"
                                     + (" ..." if len(clash) > 5 else ""))
            if n == 0:
                return labels
            count = len(self._ids)
            if self._reduce is not None and self._basis is None and n < self._reduce:
                raise ValueError(f"the first add() learns the projection to reduce_dim = {self._reduce} and needs "
                                 f"at least that many vectors, got {n}")
            needed = count + n
            capacity = self._index.get_max_elements()
            if needed > capacity:
                self._index.resize_index(max(needed, 2 * capacity))
            if self._reduce is None:
                self._index.add_items(data, labels.astype(np.uint64), num_threads=self._num_threads)
            else:
                self._add_reduced(data, labels, count)
            self._ids.update(labels.tolist())
            self._next_id = max(self._next_id, int(labels.max()) + 1)
            return labels

    def _add_reduced(self, data: np.ndarray, labels: np.ndarray, count: int) -> None:
        full = _unit_rows(data) if self._space == "cosine" else data
        if self._basis is None:
            self._learn_projection(full)
        rows = np.arange(count, count + len(full), dtype=np.uint64)
        self._index.add_items(self._project(full), rows, num_threads=self._num_threads)
        end = count + len(full)
        # Buffers grow geometrically (rows past len(self) are spare), so adding in many small
        # batches costs amortised O(rows), not a full copy per batch.
        self._row_ids = _reserve(self._row_ids, count, end)
        self._vectors = _reserve(self._vectors, count, end)
        self._vector_sq = _reserve(self._vector_sq, count, end)
        self._row_ids[count:end] = labels
        self._vectors[count:end] = full
        self._vector_sq[count:end] = _sq_norms(full)

    def _learn_projection(self, full: np.ndarray) -> None:
        """The top-``reduce_dim`` eigenvectors of the (centred for l2) second-moment matrix
        of a seeded sample of ``full``."""
        sample = full
        if len(full) > _PROJECTION_SAMPLE:
            pick = np.random.default_rng(self._seed).choice(len(full), _PROJECTION_SAMPLE, replace=False)
            sample = full[np.sort(pick)]
        x = sample.astype(np.float64)
        mean = x.mean(axis=0) if self._space == "l2" else np.zeros(self._dim)
        x -= mean
        _, vecs = np.linalg.eigh(x.T @ x)
        self._basis = np.ascontiguousarray(vecs[:, ::-1][:, :self._reduce].T, dtype=np.float32)
        self._mean = mean.astype(np.float32)

    def _project(self, full: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((full - self._mean) @ self._basis.T, dtype=np.float32)

    # -------------------------------------------------------------- search

    def query(self, q: Array, k: int = 10, *, ef: int | None = None, rerank: bool = False,
              exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest neighbours of each query.

        Args:
            q: ``(Q, dim)`` or ``(dim,)`` queries.
            k: neighbours per query, ``1 <= k <= len(index)``.
            ef: search candidate list size for this call (default :attr:`ef`, at least k);
                larger is slower and more accurate. A reduced-dimension index re-ranks
                all ``ef`` candidates in full dimension.
            rerank: fetch ``2k`` HNSW candidates and re-rank them by distances recomputed
                with the native ``score`` kernel (double-precision accumulation), so the
                order and the distances returned are exact for the candidates found.
            exact: brute-force search over every stored vector instead of the graph
                (:func:`exact_search`); the reference for recall.

        Returns:
            ``(ids, distances)``: ``(Q, k)`` int64 and float32, nearest first.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, bad k or ef, an empty index.
            RuntimeError: called while another thread adds.
        """
        data = _as_vectors("q", q, self._dim, allow_1d=True)
        k = check_int("k", k, 1)
        ef = self._ef if ef is None else check_int("ef", ef, 1)
        if not isinstance(rerank, (bool, np.bool_)) or not isinstance(exact, (bool, np.bool_)):
            raise TypeError("rerank and exact must be bools")
        with self._reading("query"):
            count = len(self._ids)
            if count == 0:
                raise ValueError("the index is empty: add vectors before querying")
            if k > count:
                raise ValueError(f"k = {k} is larger than the number of vectors in the index ({count})")
            if data.shape[0] == 0:
                return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
            if exact:
                if self._reduce is not None:
                    return exact_search(self._vectors[:count], data, k, self._space, ids=self._row_ids[:count])
                labels = np.array(self._index.get_ids_list(), dtype=np.uint64)
                stored = np.asarray(self._index.get_items(labels, return_type="numpy"), dtype=np.float32)
                return exact_search(stored, data, k, self._space, ids=labels.astype(np.int64))
            if self._reduce is not None:
                return self._query_reduced(data, k, max(ef, k), count)
            fetch = min(count, 2 * k) if rerank else k
            labels, dist = self._graph_candidates(data, fetch, ef)
            if not rerank:
                return labels, dist
            return self._rerank(data, labels, k)

    def _graph_candidates(self, q: np.ndarray, fetch: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """hnswlib's ``fetch`` nearest graph labels (int64) and distances per query."""
        try:
            with self._search:  # set_ef + knn_query must not interleave
                self._index.set_ef(max(ef, fetch))
                labels, dist = self._index.knn_query(q, k=fetch, num_threads=self._num_threads)
        except RuntimeError as exc:
            raise RuntimeError(f"hnswlib could not return {fetch} neighbours per query ({exc}); "
                               "raise ef or M") from exc
        return labels.astype(np.int64), dist

    def _exact_distances(self, q: np.ndarray, data: np.ndarray, rows: np.ndarray,
                         data_sq: np.ndarray | None) -> np.ndarray:
        """hnswlib-convention distances of each query to its candidate ``rows`` of ``data``
        (unit rows for "cosine"; ``data_sq`` their squared norms for "l2")."""
        qs = _unit_rows(q) if self._space == "cosine" else q
        scores = gather_scores(qs, data, rows)
        if self._space != "l2":
            return (1.0 - scores.astype(np.float64)).astype(np.float32)
        d = _sq_norms(q)[:, None] + data_sq[rows] - 2.0 * scores.astype(np.float64)
        return np.maximum(d, 0.0).astype(np.float32)

    def _rerank(self, q: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact distances of a full-dimension graph's candidates (read back from hnswlib,
        unit rows for "cosine"), then the k nearest."""
        stored = np.asarray(self._index.get_items(labels.reshape(-1).astype(np.uint64), return_type="numpy"),
                            dtype=np.float32)
        rows = np.arange(stored.shape[0], dtype=np.int64).reshape(labels.shape)
        dist = self._exact_distances(q, stored, rows, _sq_norms(stored) if self._space == "l2" else None)
        return _top_k(dist, labels, k)

    def _query_reduced(self, q: np.ndarray, k: int, ef: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Graph search on the projected queries for ``ef`` candidates, then the exact
        full-dimension re-rank."""
        full = _unit_rows(q) if self._space == "cosine" else q
        fetch = min(count, ef)
        rows, _ = self._graph_candidates(self._project(full), fetch, ef)
        dist = self._exact_distances(q, self._vectors, rows, self._vector_sq)
        labels, dist = _top_k(dist, rows, k)
        return self._row_ids[labels], dist

    # -------------------------------------------------------------- files

    def _header(self, hnsw_bytes: int, extras: list[np.ndarray]) -> dict[str, Any]:
        fields = {"dim": self._dim, "space": self._space, "count": len(self), "M": self._M,
                  "ef_construction": self._ef_construction, "ef": self._ef, "seed": self._seed,
                  "next_id": self._next_id, "payload_bytes": hnsw_bytes + sum(a.nbytes for a in extras)}
        if self._reduce is not None:
            fields.update(reduce_dim=self._reduce, hnsw_bytes=hnsw_bytes)
        return fields

    def _extras(self) -> list[np.ndarray]:
        """What a reduced-dimension index writes after hnswlib's bytes (module docstring)."""
        if self._reduce is None:
            return []
        count = len(self)
        projection = [] if self._basis is None else [self._basis.astype("<f4"), self._mean.astype("<f4")]
        return [np.ascontiguousarray(a) for a in
                projection + [self._row_ids[:count].astype("<i8"), self._vectors[:count].astype("<f4")]]

    def save(self, path: str | os.PathLike) -> str:
        """Writes the index to ``path`` atomically (header + hnswlib bytes; see the module
        docstring). Returns the path."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"cannot write {path!r}: folder {folder!r} does not exist")
        with self._reading("save"):
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                raw = os.path.join(tmp, "hnsw.bin")
                self._index.save_index(raw)
                extras = self._extras()
                fields = self._header(os.path.getsize(raw), extras)
                digest = _header_digest(fields)
                with open(raw, "rb") as f:
                    for chunk in iter(lambda: f.read(_CHUNK), b""):
                        digest.update(chunk)
                for array in extras:
                    digest.update(array.reshape(-1).view(np.uint8))
                header = json.dumps({**fields, "sha256": digest.hexdigest()}, sort_keys=True).encode()
                version = FORMAT_VERSION if self._reduce is None else REDUCED_FORMAT_VERSION

                def write(target: str) -> None:
                    with open(target, "wb") as out, open(raw, "rb") as src:
                        out.write(_PREFIX.pack(MAGIC, version, len(header)))
                        out.write(header)
                        shutil.copyfileobj(src, out, _CHUNK)
                        for array in extras:
                            out.write(array.reshape(-1).view(np.uint8))
                        out.flush()
                        os.fsync(out.fileno())

                return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike, *, num_threads: int = -1) -> "NeighborIndex":
        """Reads an index written by :meth:`save`, checking magic, version, header fields,
        size and checksum before hnswlib reads it.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not an index file, unsupported version, corrupt header, truncated
                or trailing data, checksum mismatch, or contents that contradict the header.
        """
        path = os.fspath(path)
        with open(path, "rb") as f:
            header = _read_header(f, path)
            expected = header.pop("sha256")
            with tempfile.TemporaryDirectory() as tmp:
                raw = os.path.join(tmp, "hnsw.bin")
                digest = _header_digest(header)
                hnsw_left = header.get("hnsw_bytes", header["payload_bytes"])
                with open(raw, "wb") as out:
                    while hnsw_left > 0:
                        chunk = f.read(min(_CHUNK, hnsw_left))
                        hnsw_left -= len(chunk)
                        digest.update(chunk)
                        out.write(chunk)
                extras = f.read()
                digest.update(extras)
                if digest.hexdigest() != expected:
                    raise ValueError(f"{path!r}: checksum mismatch, the index file is corrupt")
                reduce_dim = header.get("reduce_dim")
                _check_hnsw_payload(raw, header, path, reduce_dim or header["dim"])
                index = cls(header["dim"], header["space"], M=header["M"], ef_construction=header["ef_construction"],
                            ef=header["ef"], seed=header["seed"], num_threads=num_threads, reduce_dim=reduce_dim)
                index._index = index._new_graph()
                try:
                    index._index.load_index(raw, max_elements=max(header["count"], 1))
                except RuntimeError as exc:
                    raise ValueError(f"{path!r}: hnswlib could not read the index data ({exc})") from exc
        index._index.set_ef(index._ef)
        labels = index._index.get_ids_list()
        if index._index.dim != (reduce_dim or header["dim"]) or len(labels) != header["count"]:
            raise ValueError(f"{path!r}: the index data hold {len(labels)} vectors of dim {index._index.dim}, "
                             f"the header says {header['count']} of dim {header['dim']}")
        if reduce_dim is None:
            index._ids = set(int(i) for i in labels)
        else:
            index._restore_reduced(extras, labels, path)
        index._next_id = header["next_id"]
        return index

    def _restore_reduced(self, extras: bytes, labels: list[int], path: str) -> None:
        """Reads back what :meth:`_extras` wrote (sizes already checked by
        :func:`_read_header`), and cross-checks it against the graph."""
        count, dim, r = len(labels), self._dim, self._reduce
        offset = 0

        def take(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
            nonlocal offset
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            array = np.frombuffer(extras, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape)
            offset += size
            return array.astype(dtype[1:], copy=True)

        if count:
            self._basis, self._mean = take("<f4", (r, dim)), take("<f4", (dim,))
        self._row_ids = take("<i8", (count,))
        self._vectors = take("<f4", (count, dim))
        self._vector_sq = _sq_norms(self._vectors)
        if (sorted(int(i) for i in labels) != list(range(count)) or len(np.unique(self._row_ids)) != count
                or (count and self._row_ids.min() < 0) or not np.isfinite(self._vectors).all()):
            raise ValueError(f"{path!r}: the stored rows (ids, vectors) do not match the index data")
        self._ids = set(self._row_ids.tolist())


def _header_digest(fields: dict[str, Any]) -> Any:
    """A SHA-256 already fed with the header fields, to be fed the payload next: the
    checksum covers both."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode())


# hnswlib's own header (hnswalg.h, saveIndex): offsetLevel0, max_elements, count,
# size_data_per_element, label_offset, offsetData (size_t), maxlevel (int),
# enterpoint (uint32), maxM, maxM0, M (size_t), mult (double), ef_construction (size_t).
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")


def _check_hnsw_payload(raw: str, header: dict[str, Any], path: str, graph_dim: int) -> None:
    """Cross-checks hnswlib's header against ours before hnswlib reads the data, so a
    file whose header describes other data (another dim, count or M) is refused instead
    of being read out of bounds."""
    with open(raw, "rb") as f:
        head = f.read(_HNSW_HEADER.size)
    if len(head) < _HNSW_HEADER.size:
        raise ValueError(f"{path!r}: the index data are too short to be an hnswlib index")
    (_, _, count, per_element, label_offset, offset_data, _, _, max_m, max_m0, m, _,
     _) = _HNSW_HEADER.unpack(head)
    links = max_m0 * 4 + 4
    vector_bytes = graph_dim * 4
    consistent = (count == header["count"] and m == header["M"] and max_m == m and offset_data == links
                  and label_offset == links + vector_bytes and per_element == links + vector_bytes + 8
                  and header.get("hnsw_bytes", header["payload_bytes"]) >= _HNSW_HEADER.size + count * per_element)
    if not consistent:
        raise ValueError(f"{path!r}: the header (dim {header['dim']}, count {header['count']}, M {header['M']}) "
                         f"does not match the index data (count {count}, M {m}, "
                         f"{per_element - links - 8} bytes per vector)")


def _check_reduced_header(header: dict[str, Any], path: str) -> None:
    """A version-2 header's own fields, and the size of what follows hnswlib's bytes."""
    fields = [header.get("reduce_dim"), header.get("hnsw_bytes")]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in fields):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid reduce_dim / hnsw_bytes)")
    r, d, n = header["reduce_dim"], header["dim"], header["count"]
    if r > d:
        raise ValueError(f"{path!r}: corrupt header (reduce_dim {r} > dim {d})")
    extras = (4 * r * d + 4 * d if n else 0) + 8 * n + 4 * n * d
    if header["payload_bytes"] != header["hnsw_bytes"] + extras:
        raise ValueError(f"{path!r}: corrupt header (payload of {header['payload_bytes']} bytes, expected "
                         f"{header['hnsw_bytes']} of graph + {extras} of projection and vectors)")


def _read_header(f: Any, path: str) -> dict[str, Any]:
    """Reads and validates the prefix and JSON header; leaves ``f`` at the payload."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        raise ValueError(f"{path!r} is not a latentatlas NeighborIndex file (bad magic bytes)")
    _, version, length = _PREFIX.unpack(prefix)
    if version not in (FORMAT_VERSION, REDUCED_FORMAT_VERSION):
        raise ValueError(f"{path!r}: index file format version {version} is not supported (this build reads "
                         f"versions {FORMAT_VERSION} and {REDUCED_FORMAT_VERSION})")
    if length > _MAX_HEADER:
        raise ValueError(f"{path!r}: corrupt header (length {length})")
    raw = f.read(length)
    if len(raw) < length:
        raise ValueError(f"{path!r} is truncated: the header is cut short")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r}: corrupt header ({exc})") from exc
    ints = ("dim", "count", "M", "ef_construction", "ef", "seed", "next_id", "payload_bytes")
    if not isinstance(header, dict) or any(not isinstance(header.get(key), int) or isinstance(header.get(key), bool)
                                           or header[key] < 0 for key in ints):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid fields)")
    if header.get("space") not in SPACES or not isinstance(header.get("sha256"), str) or header["dim"] < 1:
        raise ValueError(f"{path!r}: corrupt header (bad space, dim or checksum field)")
    if version == REDUCED_FORMAT_VERSION:
        _check_reduced_header(header, path)
    elif "reduce_dim" in header or "hnsw_bytes" in header:
        raise ValueError(f"{path!r}: corrupt header (reduced-dimension fields in a version {version} file)")
    start = f.tell()
    size = os.fstat(f.fileno()).st_size
    have = size - start
    if have < header["payload_bytes"]:
        raise ValueError(f"{path!r} is truncated: {have} of {header['payload_bytes']} bytes of index data")
    if have > header["payload_bytes"]:
        raise ValueError(f"{path!r} has {have - header['payload_bytes']} unexpected trailing bytes")
    return header
