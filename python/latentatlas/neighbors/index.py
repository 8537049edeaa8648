"""NeighborIndex: an HNSW index (hnswlib) over latent vectors, its thread rules, and its
front for adding, removing, querying (with filters), calibrating, saving and loading.

Every vector lives in the index's :class:`~.rows.RowStore`. Below ``exact_below`` alive
vectors (:data:`EXACT_BELOW`, measured by ``latentatlas bench --only index``: under it the
native brute force answers faster than the graph) there is no graph and every query is
exact. From there on an HNSW graph over the rows finds candidates, searched with the
breadth that calibration (:mod:`.calibrate`) measured to reach the recall target, or with
exact search when that breadth would approach the number of rows.

What differs between a full-dimension graph and a reduced-dimension one (``reduce_dim=r``)
lives in a :class:`~.variant.GraphVariant` (:class:`~.full.FullGraph`,
:class:`~.reduced.ReducedGraph`), chosen once in the constructor; exact search and the
distances are in :mod:`.exact`, the file format in :mod:`.fileformat`.

Thread rules (enforced): any number of threads may call :meth:`NeighborIndex.query` and
:meth:`~NeighborIndex.save` at once (graph searches take turns inside, since hnswlib keeps
one search breadth per index; each batch is still searched in parallel by hnswlib's own
threads); :meth:`~NeighborIndex.add` needs the index to itself. A query or save that starts
while an add is running, or an add that starts while another add or any query or save is
running, raises ``RuntimeError`` instead of racing (hnswlib releases the GIL, so such calls
would otherwise overlap). Serialise adds and queries yourself, e.g. build first and then
serve queries.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from .._arrays import check_int
from .calibrate import STALE_FRACTION, check_calibration, choose_ef, held_out_queries
from .exact import Array, as_vectors, check_ids, check_space, exact_distances, top_k
from .fileformat import check_folder, read_index, unpack_reduced_v2, unpack_rows, write_index
from .full import FullGraph
from .reduced import ReducedGraph
from .rows import RowStore
from .variant import GraphVariant

__all__ = ["NeighborIndex", "EXACT_BELOW", "FILTER_EXACT_FRACTION"]

# Below this many alive vectors an index has no graph and searches exactly (measured:
# bench/bench_index.py's crossover).
EXACT_BELOW = 2048
# A filter that allows at most this fraction of the vectors (or fewer than EXACT_BELOW of
# them) is searched exactly on the allowed rows; larger ones through hnswlib's filter.
FILTER_EXACT_FRACTION = 0.1
# Search breadth for the calibration queries' nearest stored rows.
_REACH_EF = 64
# Score blocks of exact search hold at most this many (query, row) pairs.
_BLOCK_PAIRS = 1 << 24


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:  # pragma: no cover - hnswlib is a dependency
        raise ImportError("NeighborIndex needs hnswlib: pip install hnswlib") from exc
    return hnswlib


class NeighborIndex:
    """Nearest neighbours of latent vectors at a recall you choose: exact search for small
    sets, an HNSW graph (hnswlib) with a measured search breadth for large ones.

    Example::

        index = NeighborIndex(64, space="cosine")    # recall target 0.95
        index.add(latents)                           # ids 0..N-1
        ids, distances = index.query(z, k=10)        # calibrates on the first query
        index.estimated_recall(10)                   # what calibration measured
        ids, _ = index.query(z, 10, where=mask)      # only among allowed ids
        index.remove([3, 7]); index.save("latents.laidx")

    Args:
        dim: vector size (>= 1).
        space: ``"cosine"`` (default), ``"l2"`` or ``"ip"``; see :mod:`latentatlas.neighbors`
            for the distances.
        recall: the recall@k (against exact search) that queries should reach, in (0, 1]
            (default 0.95). The search breadth for each k is measured on the first query
            for that k after the index changed by more than
            :data:`~.calibrate.STALE_FRACTION` (or by :meth:`calibrate`); see
            :mod:`latentatlas.neighbors.calibrate`.
        M: HNSW graph degree (hnswlib's M).
        ef_construction: candidate list size while building (quality vs build time).
        ef: a fixed search breadth instead of calibrating (raised to k when smaller);
            default None: calibrated.
        seed: hnswlib's random seed for the level assignment, and the calibration's.
        num_threads: threads for add and query (-1: all cores).
        reduce_dim: build the graph on an ``r``-dimensional linear projection of the
            vectors (``1 <= r <= dim``; default None, a full-dimension graph), learned from
            the vectors the graph is first built from; every query re-ranks the ``ef``
            graph candidates by exact full-dimension distances (details:
            :mod:`latentatlas.neighbors.reduced`).
        exact_below: no graph while fewer vectors than this are in the index (default
            :data:`EXACT_BELOW`); 0 builds the graph from the first add.

    The thread rules are in :mod:`latentatlas.neighbors.index`, the file format in
    :mod:`latentatlas.neighbors.fileformat`.
    """

    def __init__(self, dim: int, space: str = "cosine", *, recall: float = 0.95, M: int = 16,
                 ef_construction: int = 200, ef: int | None = None, seed: int = 100, num_threads: int = -1,
                 reduce_dim: int | None = None, exact_below: int = EXACT_BELOW) -> None:
        self._dim = check_int("dim", dim, 1)
        self._space = check_space(space)
        if isinstance(recall, bool) or not isinstance(recall, (int, float, np.floating)) or not 0.0 < recall <= 1.0:
            raise ValueError(f"recall must be a number in (0, 1], got {recall!r}")
        self._recall = float(recall)
        self._M = check_int("M", M, 2)
        self._ef_construction = check_int("ef_construction", ef_construction, 1)
        self._ef = None if ef is None else check_int("ef", ef, 1)
        self._seed = check_int("seed", seed, 0)
        self._exact_below = check_int("exact_below", exact_below, 0)
        self.num_threads = num_threads
        # The one place where the two kinds of graph part ways.
        self._variant: GraphVariant = (FullGraph(self._dim, self._space) if reduce_dim is None
                                       else ReducedGraph(self._dim, self._space, reduce_dim, self._seed))
        self._rows = RowStore(self._dim, self._space)
        self._index: Any = None  # the hnswlib graph over row numbers, once built
        self._next_id = 0
        self._calibration: dict[str, Any] = {"count": 0, "changes": 0, "per_k": {}}
        self._state = threading.Lock()
        self._search = threading.Lock()  # set_ef + knn_query must not interleave
        self._calibrating = threading.Lock()
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
        return self._variant.reduce_dim

    @property
    def recall(self) -> float:
        """The recall target."""
        return self._recall

    @property
    def exact_below(self) -> int:
        """The number of vectors below which the index has no graph and searches exactly."""
        return self._exact_below

    @property
    def has_graph(self) -> bool:
        """Whether the HNSW graph has been built."""
        return self._index is not None

    @property
    def ef(self) -> int | None:
        """The fixed search breadth, or None when it is calibrated."""
        return self._ef

    @ef.setter
    def ef(self, value: int | None) -> None:
        self._ef = None if value is None else check_int("ef", value, 1)
        with self._calibrating:
            self._calibration["per_k"] = {}

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
        return len(self._rows)

    def __contains__(self, id_: object) -> bool:
        return isinstance(id_, (int, np.integer)) and int(id_) in self._rows.row_of

    def __repr__(self) -> str:
        params = "".join(f", {name}={value}" for name, value in self._variant.params().items())
        if self._exact_now():
            search = "search=exact (recall 1.0)"
        else:
            per_k = self._calibration["per_k"]
            measured = ", ".join(f"k={k}: " + ("exact" if e["ef"] is None else f"ef={e['ef']} recall={e['recall']:.3f}")
                                 for k, e in sorted(per_k.items()))
            search = (f"search=graph ({'ef=' + str(self._ef) if self._ef is not None else 'ef calibrated'}"
                      f"{'; ' + measured if measured else '; not yet calibrated'})")
        return (f"NeighborIndex(dim={self._dim}, space={self._space!r}, count={len(self)}, recall={self._recall}, "
                f"M={self._M}, ef_construction={self._ef_construction}{params}, {search})")

    def _new_graph(self) -> Any:
        """An empty hnswlib index of the variant's graph space and dimension."""
        return _hnswlib().Index(space=self._variant.graph_space, dim=self._variant.graph_dim)

    # -------------------------------------------------------------- thread rules

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        with self._state:
            if self._writing:
                raise RuntimeError(f"NeighborIndex.{what}() called while add() or remove() is running in another "
                                   "thread; they need the index to themselves (see the thread rules)")
            self._readers += 1
        try:
            yield
        finally:
            with self._state:
                self._readers -= 1

    @contextmanager
    def _writing_lock(self, what: str = "add") -> Iterator[None]:
        with self._state:
            if self._writing or self._readers:
                busy = "another add() or remove()" if self._writing else f"{self._readers} query/save call(s)"
                raise RuntimeError(f"NeighborIndex.{what}() called while {busy} is running in another thread; "
                                   "adds and removals need the index to themselves (see the thread rules)")
            self._writing = True
        try:
            yield
        finally:
            with self._state:
                self._writing = False

    # -------------------------------------------------------------- building

    def add(self, vectors: Array, ids: Array | None = None) -> np.ndarray:
        """Adds a batch of vectors; a vector whose id is already in the index replaces it.

        Args:
            vectors: ``(N, dim)`` float32/float64 array or tensor (stored as float32).
            ids: ``(N,)`` non-negative unique integer labels; default: consecutive numbers
                after the largest id so far.

        Returns:
            The ids given to the vectors, ``(N,)`` int64.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, duplicate or negative ids.
            TypeError: non-float vectors or non-integer ids.
            RuntimeError: called while another thread adds, removes or queries.
        """
        data = as_vectors("vectors", vectors, self._dim)
        n = data.shape[0]
        with self._writing_lock():
            labels = (np.arange(self._next_id, self._next_id + n, dtype=np.int64) if ids is None
                      else check_ids(ids, n))
            if n == 0:
                return labels
            replaced = sum(1 for i in labels.tolist() if i in self._rows.row_of)
            if self._index is None and len(self) + n - replaced >= self._exact_below:
                self._variant.check_build(self._rows.count + n)
            dead = self._rows.kill(labels)
            rows = self._rows.append(data, labels)
            if self._index is not None:
                self._graph_add(rows, dead)
            elif len(self) >= self._exact_below:
                self._build_graph()
            self._next_id = max(self._next_id, int(labels.max()) + 1)
            self._calibration["changes"] += n + replaced
            return labels

    def remove(self, ids: Array) -> None:
        """Removes vectors by id (hnswlib's mark-deleted in the graph): they are never
        returned again, also by exact and filtered search and after save/load.

        Raises:
            ValueError: an id that is not in the index (nothing is removed then).
            TypeError: non-integer ids.
            RuntimeError: called while another thread adds, removes or queries.
        """
        labels = np.unique(check_ids(ids, len(ids) if hasattr(ids, "__len__") else -1))
        with self._writing_lock("remove"):
            unknown = [i for i in labels.tolist() if i not in self._rows.row_of]
            if unknown:
                raise ValueError(f"ids not in the index: {unknown[:5]}" + (" ..." if len(unknown) > 5 else ""))
            rows = self._rows.kill(labels)
            if self._index is not None:
                for row in rows.tolist():
                    self._index.mark_deleted(row)
            self._calibration["changes"] += len(rows)

    def _graph_add(self, rows: np.ndarray, dead: np.ndarray) -> None:
        """Adds stored ``rows`` to the graph and marks the ``dead`` ones deleted there."""
        for row in dead.tolist():
            self._index.mark_deleted(row)
        needed = self._rows.count
        capacity = self._index.get_max_elements()
        if needed > capacity:
            self._index.resize_index(max(needed, 2 * capacity))
        vectors = self._variant.to_graph(self._rows.vectors[rows])
        self._index.add_items(vectors, rows.astype(np.uint64), num_threads=self._num_threads)

    def _build_graph(self) -> None:
        """Builds the graph over every stored row (dead ones marked deleted), so its labels
        are the row numbers ``0..rows-1``."""
        graph = self._new_graph()
        graph.init_index(max_elements=max(self._rows.count, 1024), M=self._M,
                         ef_construction=self._ef_construction, random_seed=self._seed)
        self._index = graph
        self._graph_add(np.arange(self._rows.count, dtype=np.int64), np.flatnonzero(~self._rows.alive))

    # -------------------------------------------------------------- search

    def query(self, q: Array, k: int = 10, *, ef: int | None = None, rerank: bool = False,
              exact: bool = False, where: Array | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest neighbours of each query.

        Args:
            q: ``(Q, dim)`` or ``(dim,)`` queries.
            k: neighbours per query, ``1 <= k <=`` the vectors searched.
            ef: search breadth for this call (default: :attr:`ef` if fixed, else the
                calibrated one for ``k``); with it the graph is searched even where the
                calibration chose exact search.
            rerank: fetch ``2k`` graph candidates and re-rank them by exact distances
                (a reduced-dimension index always re-ranks its ``ef`` candidates).
            exact: brute-force search over every vector instead of the graph.
            where: only these vectors: a boolean mask over ids (``mask[id]``) or an array
                of ids. Few allowed vectors are searched exactly, many through hnswlib's
                filter.

        Returns:
            ``(ids, distances)``: ``(Q, k)`` int64 and float32, nearest first.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, bad k or ef, an empty index, a filter
                that allows nothing, names ids not in the index or fewer than k vectors.
            RuntimeError: called while another thread adds or removes.
        """
        data = as_vectors("q", q, self._dim, allow_1d=True)
        k = check_int("k", k, 1)
        ef = None if ef is None else check_int("ef", ef, 1)
        if not isinstance(rerank, (bool, np.bool_)) or not isinstance(exact, (bool, np.bool_)):
            raise TypeError("rerank and exact must be bools")
        with self._reading("query"):
            count = len(self)
            if count == 0:
                raise ValueError("the index is empty: add vectors before querying")
            allowed = None if where is None else self._allowed_rows(where)
            searched = count if allowed is None else len(allowed)
            if k > searched:
                raise ValueError(f"k = {k} is larger than the number of vectors in the index ({count})"
                                 if allowed is None else
                                 f"k = {k} is larger than the {searched} vectors that where allows")
            if data.shape[0] == 0:
                return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
            if allowed is not None and (allowed.size <= max(self._exact_below, FILTER_EXACT_FRACTION * count)):
                exact = True
            if not exact and self._index is not None and ef is None and not self._exact_now():
                ef = self._ef if self._ef is not None else self._calibrated(k)["ef"]
            if exact or self._index is None or ef is None or self._exact_now():
                rows, dist = self._exact_rows(data, k, allowed)
            else:
                rows, dist = self._graph_search(data, k, ef, rerank, allowed)
            return self._rows.ids[rows], dist

    def _exact_now(self) -> bool:
        """Whether the whole index is searched exactly (no graph, or too few vectors)."""
        return self._index is None or len(self) < self._exact_below

    def _allowed_rows(self, where: Array) -> np.ndarray:
        """The rows a ``where`` filter allows, checked."""
        mask = np.asarray(where)
        if mask.ndim != 1:
            raise ValueError(f"where must be a 1-D boolean mask over ids or an array of ids, got shape {mask.shape}")
        if mask.dtype == np.bool_:
            ids = np.flatnonzero(mask)
        elif np.issubdtype(mask.dtype, np.integer) or mask.size == 0:
            ids = np.unique(mask.astype(np.int64))
        else:
            raise TypeError(f"where must be a boolean mask or integer ids, got dtype {mask.dtype}")
        if ids.size == 0:
            raise ValueError("where allows no vectors")
        row_of = self._rows.row_of
        rows = [row_of.get(i, -1) for i in ids.tolist()]
        if min(rows) < 0:
            unknown = [i for i, r in zip(ids.tolist(), rows) if r < 0]
            raise ValueError(f"where names ids not in the index: {unknown[:5]}" + (" ..." if len(unknown) > 5 else ""))
        return np.sort(np.array(rows, dtype=np.int64))

    def _exact_rows(self, q: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the alive rows (or the given ``rows``): ``(rows, distances)``.

        A float32 BLAS product ranks every row and keeps ``2k + 8`` candidates per query;
        those are re-ranked by exact distances (the native gathered dot products, summed in
        double), so the order and distances are those of :func:`~.exact.exact_search`
        unless float32 rounding moves a true neighbour past all of the ``k + 8`` spare
        candidates."""
        store = self._rows
        full = store.vectors
        excluded = None
        if rows is None:
            if len(store) < store.count:
                excluded = ~store.alive
        elif 2 * len(rows) >= store.count:
            excluded = np.ones(store.count, dtype=bool)
            excluded[rows] = False
            rows = None
        subset = full if rows is None else full[rows]
        sq = store.sq if rows is None else store.sq[rows]
        n = len(subset)
        fetch = min(n, 2 * k + 8)
        block = max(1, _BLOCK_PAIRS // n)
        out_rows = np.empty((len(q), k), np.int64)
        out_dist = np.empty((len(q), k), np.float32)
        for start in range(0, len(q), block):
            qb = q[start:start + block]
            rank = qb @ subset.T  # float32 BLAS: higher is nearer, up to the exact re-rank
            rank = (2.0 * rank - sq.astype(np.float32)) if self._space == "l2" else rank
            if excluded is not None:
                rank[:, excluded] = -np.inf
            cand = (np.argpartition(-rank, fetch - 1, axis=1)[:, :fetch] if fetch < n
                    else np.broadcast_to(np.arange(n), rank.shape).copy())
            dist = exact_distances(qb, subset, self._space, rows=cand, data_sq=sq)
            if excluded is not None:
                dist[excluded[cand]] = np.inf
            found, out_dist[start:start + block] = top_k(dist, cand, k)
            out_rows[start:start + block] = found if rows is None else rows[found]
        return out_rows, out_dist

    def _graph_search(self, q: np.ndarray, k: int, ef: int, rerank: bool,
                      allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The graph's ``(rows, distances)``; re-ranked by exact distances when the variant
        says so; exact search if hnswlib cannot return enough neighbours."""
        fetch, rerank = self._variant.fetch(k, ef, rerank, len(self) if allowed is None else len(allowed))
        accept = None
        if allowed is not None:
            flags = np.zeros(self._rows.count, dtype=bool)
            flags[allowed] = True
            accept = flags.tolist().__getitem__
        try:
            with self._search:  # set_ef + knn_query must not interleave
                self._index.set_ef(max(ef, fetch))
                labels, dist = self._index.knn_query(self._variant.query_to_graph(q), k=fetch,
                                                     num_threads=1 if accept else self._num_threads, filter=accept)
        except RuntimeError:  # fewer than fetch reachable (deletions, a tight filter)
            return self._exact_rows(q, k, allowed)
        rows = labels.astype(np.int64)
        if not rerank:
            return rows, dist.astype(np.float32)
        store = self._rows
        exact = exact_distances(q, store.vectors, self._space, rows=rows, data_sq=store.sq)
        return top_k(exact, rows, k)

    # -------------------------------------------------------------- calibration

    def _calibrated(self, k: int, queries: np.ndarray | None = None) -> dict[str, Any]:
        """The calibration entry for ``k``, measured now if missing or stale."""
        with self._calibrating:
            cal = self._calibration
            stale = cal["changes"] > STALE_FRACTION * max(cal["count"], 1)
            if stale or queries is not None:
                cal.update(count=len(self), changes=0, per_k={})
            if k not in cal["per_k"]:
                cal["per_k"][k] = self._measure(k, queries)
            return cal["per_k"][k]

    def _measure(self, k: int, queries: np.ndarray | None) -> dict[str, Any]:
        """Measures the breadth for ``k`` (see :mod:`.calibrate`)."""
        alive = self._rows.alive_rows() if len(self) < self._rows.count else None
        if queries is None:
            vectors = self._rows.vectors if alive is None else self._rows.vectors[alive]

            def nn_l2(x: np.ndarray, n: int) -> np.ndarray:
                # Found by the graph (a broad search): only the queries' scale depends on it.
                rows, _ = self._graph_search(x, n, _REACH_EF, False)
                near = self._rows.vectors[rows].astype(np.float64) - x.astype(np.float64)[:, None, :]
                return np.sort(np.einsum("qnd,qnd->qn", near, near), axis=1)

            queries = held_out_queries(vectors, nn_l2, self._seed)
        began = time.perf_counter()
        truth, _ = self._exact_rows(queries, k, alive)
        exact_seconds = time.perf_counter() - began
        return choose_ef(queries, truth, lambda x, kk, ef: self._graph_search(x, kk, ef, False)[0],
                         target=self._recall, count=len(self), fixed_ef=self._ef, exact_seconds=exact_seconds)

    def calibrate(self, queries: Array | None = None, ks: tuple[int, ...] = (10,)) -> dict[int, float]:
        """Measures the search breadth for each k in ``ks`` now (queries calibrate by
        themselves when needed; this is for choosing the moment, or the queries).

        Args:
            queries: ``(Q, dim)`` queries like the ones to come (default: held-out stored
                vectors moved to out-of-sample distance; see :mod:`.calibrate`).
            ks: the k values to calibrate.

        Returns:
            ``{k: estimated recall}``.

        Raises:
            ValueError: an empty index, bad queries or ks.
        """
        data = None if queries is None else as_vectors("queries", queries, self._dim)
        if data is not None and len(data) == 0:
            raise ValueError("queries is empty")
        ks = tuple(check_int("k", k, 1) for k in ks)
        if not ks:
            raise ValueError("ks is empty")
        with self._reading("calibrate"):
            if len(self) == 0:
                raise ValueError("the index is empty: add vectors before calibrating")
            for k in ks:
                if k > len(self):
                    raise ValueError(f"k = {k} is larger than the number of vectors in the index ({len(self)})")
            if self._exact_now():
                return {k: 1.0 for k in ks}
            with self._calibrating:
                self._calibration.update(count=len(self), changes=0, per_k={})
                for k in ks:
                    self._calibration["per_k"][k] = self._measure(k, data)
            return {k: self._calibration["per_k"][k]["recall"] for k in ks}

    def estimated_recall(self, k: int = 10) -> float:
        """The recall@k that queries for ``k`` reach: 1.0 where they are exact, else what
        calibration measured (calibrating first if needed).

        Raises:
            ValueError: an empty index, or k larger than it.
        """
        k = check_int("k", k, 1)
        with self._reading("estimated_recall"):
            if len(self) == 0:
                raise ValueError("the index is empty: add vectors before querying")
            if k > len(self):
                raise ValueError(f"k = {k} is larger than the number of vectors in the index ({len(self)})")
            if self._exact_now():
                return 1.0
            return self._calibrated(k)["recall"]

    def calibration(self) -> dict[int, dict[str, Any]]:
        """A copy of the current calibration per k: ``ef`` (None: exact), ``recall``,
        ``queries``, ``seconds``."""
        with self._calibrating:
            return {k: dict(v) for k, v in self._calibration["per_k"].items()}

    # -------------------------------------------------------------- files

    def save(self, path: str | os.PathLike) -> str:
        """Writes the index to ``path`` atomically (format version 3, see
        :mod:`latentatlas.neighbors.fileformat`). Returns the path."""
        path = check_folder(path)
        with self._reading("save"):
            store = self._rows
            with self._calibrating:
                cal = self._calibration
                calibration = {"count": cal["count"], "changes": cal["changes"],
                               "per_k": {str(k): v for k, v in cal["per_k"].items()}}
            fields = {"dim": self._dim, "space": self._space, "count": len(self), "rows": store.count,
                      "graph_count": 0 if self._index is None else self._index.get_current_count(),
                      "M": self._M, "ef_construction": self._ef_construction, "ef": self._ef, "seed": self._seed,
                      "next_id": self._next_id, "recall": self._recall, "exact_below": self._exact_below,
                      "reduce_dim": self._variant.reduce_dim, "calibration": calibration}
            extras = [*self._variant.extras(), store.ids.astype("<i8"), store.alive.astype(np.uint8),
                      store.vectors.astype("<f4")]
            save_graph = None if self._index is None else self._index.save_index
            return write_index(path, fields, save_graph, [np.ascontiguousarray(a) for a in extras])

    @classmethod
    def load(cls, path: str | os.PathLike, *, num_threads: int = -1) -> "NeighborIndex":
        """Reads an index written by :meth:`save` (format versions 1, 2 and 3), checking
        magic, version, header fields, size and checksum before hnswlib reads it.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not an index file, unsupported version, corrupt header, truncated
                or trailing data, checksum mismatch, or contents that contradict the header.
        """
        path = os.fspath(path)
        with read_index(path) as (header, raw, extras):
            version = header["version"]
            v3 = version == 3
            index = cls(header["dim"], header["space"], M=header["M"], ef_construction=header["ef_construction"],
                        ef=header["ef"] if v3 else None, seed=header["seed"], num_threads=num_threads,
                        reduce_dim=header.get("reduce_dim"),
                        recall=header["recall"] if v3 else 0.95, exact_below=header["exact_below"] if v3 else 0)
            graph = None
            if raw is not None:
                graph = index._new_graph()
                try:  # the one place hnswlib reads the payload
                    graph.load_index(raw, max_elements=max(header["graph_count"] if v3 else header["count"], 1))
                except RuntimeError as exc:
                    raise ValueError(f"{path!r}: hnswlib could not read the index data ({exc})") from exc
        if v3:
            projection, ids, alive, vectors = unpack_rows(extras, header)
            index._variant.restore(projection)
            index._calibration = check_calibration(header["calibration"], path)
        elif version == 2:
            projection, ids, vectors = unpack_reduced_v2(extras, header["count"], header["dim"], header["reduce_dim"])
            index._variant.restore(projection)
            alive = np.ones(len(ids), dtype=bool)
        else:
            ids, vectors, alive = cls._v1_rows(graph, path), None, None
        if graph is not None and (graph.dim != index._variant.graph_dim or graph.get_current_count()
                                  != (header["graph_count"] if v3 else header["count"])):
            raise ValueError(f"{path!r}: the index data hold {graph.get_current_count()} vectors of dim "
                             f"{graph.dim}, the header says {header['count']} of dim {header['dim']}")
        if version == 1:
            # Labels were ids: rebuild the graph over row numbers from the vectors it holds.
            index._exact_below = EXACT_BELOW
            vectors = np.asarray(graph.get_items(ids.astype(np.uint64), return_type="numpy"), dtype=np.float32)
            index.add(vectors, ids)
        else:
            if int(alive.sum()) != header["count"]:
                raise ValueError(f"{path!r}: the header says {header['count']} vectors, the file holds "
                                 f"{int(alive.sum())}")
            index._restore_rows(ids, vectors, alive, graph, path)
            if version == 2:
                index._exact_below = EXACT_BELOW if graph is None else 0
        index._next_id = max(header["next_id"], index._next_id)
        return index

    @staticmethod
    def _v1_rows(graph: Any, path: str) -> np.ndarray:
        """The ids (labels) of a version-1 file's graph."""
        if graph is None:
            return np.empty(0, dtype=np.int64)
        return np.array(sorted(graph.get_ids_list()), dtype=np.int64)

    def _restore_rows(self, ids: np.ndarray, vectors: np.ndarray, alive: np.ndarray, graph: Any, path: str) -> None:
        """Installs loaded rows and graph after cross-checking them."""
        live = ids[alive]
        if (len(np.unique(live)) != len(live) or (len(ids) and ids.min() < 0)
                or not np.isfinite(vectors).all()):
            raise ValueError(f"{path!r}: the stored rows (ids, vectors) do not match the index data")
        if graph is not None:
            labels = np.sort(np.array(graph.get_ids_list(), dtype=np.int64))
            if not np.array_equal(labels, np.arange(len(labels))) or len(labels) != len(ids):
                raise ValueError(f"{path!r}: the stored rows (ids, vectors) do not match the index data")
            graph.set_ef(max(self._ef or 10, 10))
        self._rows.restore(ids, vectors, alive)
        self._index = graph
