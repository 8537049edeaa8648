"""NeighborIndex: an HNSW index (hnswlib) over latent vectors, its thread rules, and its
front for adding, querying, saving and loading.

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
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from .._arrays import check_int
from .exact import Array, as_vectors, check_ids, check_space
from .fileformat import check_folder, read_index, write_index
from .full import FullGraph
from .reduced import ReducedGraph
from .variant import GraphVariant

__all__ = ["NeighborIndex"]


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:  # pragma: no cover - hnswlib is a dependency
        raise ImportError("NeighborIndex needs hnswlib: pip install hnswlib") from exc
    return hnswlib


class NeighborIndex:
    """An HNSW index over latent vectors (hnswlib), with exact re-ranking and brute force.

    Example::

        index = NeighborIndex(64, space="cosine")
        index.add(latents)                  # ids 0..N-1
        ids, distances = index.query(z, k=10)
        index.save("latents.laidx"); index = NeighborIndex.load("latents.laidx")

    Args:
        dim: vector size (>= 1).
        space: ``"cosine"`` (default), ``"l2"`` or ``"ip"``; see :mod:`latentatlas.neighbors`
            for the distances.
        M: HNSW graph degree (hnswlib's M; 16 is a good default, larger for high recall
            in high dimension).
        ef_construction: candidate list size while building (quality vs build time).
        ef: default candidate list size while searching (raised to k when smaller).
        seed: hnswlib's random seed for the level assignment (builds are reproducible
            single-threaded).
        num_threads: threads for add and query (-1: all cores).
        reduce_dim: build the graph on an ``r``-dimensional linear projection of the
            vectors (``1 <= r <= dim``; default None, a full-dimension graph): the top-``r``
            principal subspace of the first :meth:`add` batch (at least ``r`` rows). Every
            query then re-ranks the ``ef`` graph candidates by exact full-dimension
            distances, so results and distances are exact for the candidates found. For
            latents of low intrinsic dimension (encoder outputs) this searches a small
            graph at full-dimension accuracy; the index keeps a float32 copy of the
            vectors for the re-rank (details: :mod:`latentatlas.neighbors.reduced`).

    The thread rules are in :mod:`latentatlas.neighbors.index`, the file format in
    :mod:`latentatlas.neighbors.fileformat`.
    """

    def __init__(self, dim: int, space: str = "cosine", *, M: int = 16, ef_construction: int = 200,
                 ef: int = 64, seed: int = 100, num_threads: int = -1, reduce_dim: int | None = None) -> None:
        self._dim = check_int("dim", dim, 1)
        self._space = check_space(space)
        self._M = check_int("M", M, 2)
        self._ef_construction = check_int("ef_construction", ef_construction, 1)
        self._ef = check_int("ef", ef, 1)
        self._seed = check_int("seed", seed, 0)
        self.num_threads = num_threads
        # The one place where the two kinds of graph part ways.
        self._variant: GraphVariant = (FullGraph(self._dim, self._space) if reduce_dim is None
                                       else ReducedGraph(self._dim, self._space, reduce_dim, self._seed))
        self._index = self._new_graph()
        self._index.init_index(max_elements=1024, M=self._M, ef_construction=self._ef_construction,
                               random_seed=self._seed)
        self._index.set_ef(self._ef)
        self._ids: set[int] = set()
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
        return self._variant.reduce_dim

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
        params = "".join(f", {name}={value}" for name, value in self._variant.params().items())
        return (f"NeighborIndex(dim={self._dim}, space={self._space!r}, count={len(self)}, M={self._M}, "
                f"ef_construction={self._ef_construction}, ef={self._ef}{params})")

    def _new_graph(self) -> Any:
        """An empty hnswlib index of the variant's graph space and dimension."""
        return _hnswlib().Index(space=self._variant.graph_space, dim=self._variant.graph_dim)

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
        data = as_vectors("vectors", vectors, self._dim)
        n = data.shape[0]
        with self._writing_lock():
            if ids is None:
                labels = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
            else:
                labels = check_ids(ids, n)
                clash = self._ids.intersection(labels.tolist())
                if clash:
                    raise ValueError(f"ids already in the index: {sorted(clash)[:5]}"
                                     + (" ..." if len(clash) > 5 else ""))
            if n == 0:
                return labels
            count = len(self._ids)
            self._variant.check_add(n)
            needed = count + n
            capacity = self._index.get_max_elements()
            if needed > capacity:
                self._index.resize_index(max(needed, 2 * capacity))
            self._variant.add(self._index, data, labels, count, self._num_threads)
            self._ids.update(labels.tolist())
            self._next_id = max(self._next_id, int(labels.max()) + 1)
            return labels

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
                (:func:`~latentatlas.neighbors.exact_search`); the reference for recall.

        Returns:
            ``(ids, distances)``: ``(Q, k)`` int64 and float32, nearest first.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, bad k or ef, an empty index.
            RuntimeError: called while another thread adds.
        """
        data = as_vectors("q", q, self._dim, allow_1d=True)
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
                return self._variant.exact(self._index, data, k, count)
            return self._variant.search(self._index, self._graph_candidates, data, k, ef, count, rerank)

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

    # -------------------------------------------------------------- files

    def save(self, path: str | os.PathLike) -> str:
        """Writes the index to ``path`` atomically (header + hnswlib bytes; see
        :mod:`latentatlas.neighbors.fileformat`). Returns the path."""
        path = check_folder(path)
        with self._reading("save"):
            fields = {"dim": self._dim, "space": self._space, "count": len(self), "M": self._M,
                      "ef_construction": self._ef_construction, "ef": self._ef, "seed": self._seed,
                      "next_id": self._next_id, **self._variant.params()}
            return write_index(path, fields, self._index.save_index, self._variant.extras(len(self)))

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
        with read_index(path) as (header, raw, extras):
            index = cls(header["dim"], header["space"], M=header["M"], ef_construction=header["ef_construction"],
                        ef=header["ef"], seed=header["seed"], num_threads=num_threads,
                        reduce_dim=header.get("reduce_dim"))
            index._index = index._new_graph()
            try:
                index._index.load_index(raw, max_elements=max(header["count"], 1))
            except RuntimeError as exc:
                raise ValueError(f"{path!r}: hnswlib could not read the index data ({exc})") from exc
        index._index.set_ef(index._ef)
        labels = index._index.get_ids_list()
        if index._index.dim != index._variant.graph_dim or len(labels) != header["count"]:
            raise ValueError(f"{path!r}: the index data hold {len(labels)} vectors of dim {index._index.dim}, "
                             f"the header says {header['count']} of dim {header['dim']}")
        index._ids = index._variant.restore(extras, labels, path)
        index._next_id = header["next_id"]
        return index
