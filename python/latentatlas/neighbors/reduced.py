"""The reduced-dimension variant of :class:`~latentatlas.neighbors.NeighborIndex`
(``reduce_dim=r``): the HNSW graph is built on an ``r``-dimensional linear projection of the
vectors, and every query re-ranks the graph's candidates by exact full-dimension distances.

The projection is the top-``r`` principal subspace learned from the first add (at least
``r`` rows; a seeded sample of at most ``_PROJECTION_SAMPLE`` of them), uncentred for
``"cosine"``/``"ip"`` (so projected inner products approximate the full ones; the graph
uses hnswlib's ``"ip"``) and centred for ``"l2"``. The graph's labels are row numbers; the
variant keeps per row the caller's id and the full float32 vector (unit rows for
``"cosine"``) with its squared norm, in buffers that grow geometrically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import check_int
from .exact import exact_distances, exact_search, sq_norms, top_k, unit_rows
from .fileformat import pack_reduced, unpack_reduced
from .variant import Candidates

__all__ = ["ReducedGraph"]

# The projection of a reduced-dimension index is learned from at most this many rows.
_PROJECTION_SAMPLE = 20_000


def _reserve(buffer: np.ndarray, used: int, needed: int) -> np.ndarray:
    """``buffer`` with room for ``needed`` rows, its first ``used`` rows kept: itself when
    large enough, else a copy into at least twice the capacity."""
    if len(buffer) >= needed:
        return buffer
    grown = np.empty((max(needed, 2 * len(buffer)),) + buffer.shape[1:], dtype=buffer.dtype)
    grown[:used] = buffer[:used]
    return grown


class ReducedGraph:
    """A projection graph over row numbers plus the full vectors for the exact re-rank.

    Args:
        dim: the vectors' size.
        space: ``"cosine"``, ``"l2"`` or ``"ip"``.
        reduce_dim: the graph's dimension, ``1 <= reduce_dim <= dim``.
        seed: picks the sample the projection is learned from.
    """

    def __init__(self, dim: int, space: str, reduce_dim: int, seed: int) -> None:
        reduce_dim = check_int("reduce_dim", reduce_dim, 1)
        if reduce_dim > dim:
            raise ValueError(f"reduce_dim must be at most dim = {dim}, got {reduce_dim}")
        self.space, self.dim, self.reduce_dim, self._seed = space, dim, reduce_dim, seed
        self.graph_space, self.graph_dim = ("l2" if space == "l2" else "ip"), reduce_dim
        self.basis: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        # Per row (the graph's labels are row numbers): the caller's id, the full vector,
        # its squared norm. Rows past the index's count are spare capacity.
        self.row_ids = np.empty(0, dtype=np.int64)
        self.vectors = np.empty((0, dim), dtype=np.float32)
        self._vector_sq = np.empty(0, dtype=np.float64)

    def params(self) -> dict[str, Any]:
        """The constructor argument that selects this variant."""
        return {"reduce_dim": self.reduce_dim}

    def check_add(self, n: int) -> None:
        """The first add learns the projection and needs at least ``reduce_dim`` rows."""
        if self.basis is None and n < self.reduce_dim:
            raise ValueError(f"the first add() learns the projection to reduce_dim = {self.reduce_dim} and needs "
                             f"at least that many vectors, got {n}")

    def add(self, hnsw: Any, data: np.ndarray, labels: np.ndarray, count: int, num_threads: int) -> None:
        """Adds the projected rows to the graph as rows ``count..``, and keeps their ids and
        full vectors."""
        full = unit_rows(data) if self.space == "cosine" else data
        if self.basis is None:
            self._learn_projection(full)
        end = count + len(full)
        hnsw.add_items(self._project(full), np.arange(count, end, dtype=np.uint64), num_threads=num_threads)
        # Buffers grow geometrically, so adding in many small batches costs amortised
        # O(rows), not a full copy per batch.
        self.row_ids = _reserve(self.row_ids, count, end)
        self.vectors = _reserve(self.vectors, count, end)
        self._vector_sq = _reserve(self._vector_sq, count, end)
        self.row_ids[count:end] = labels
        self.vectors[count:end] = full
        self._vector_sq[count:end] = sq_norms(full)

    def _learn_projection(self, full: np.ndarray) -> None:
        """The top-``reduce_dim`` eigenvectors of the (centred for l2) second-moment matrix
        of a seeded sample of ``full``."""
        sample = full
        if len(full) > _PROJECTION_SAMPLE:
            pick = np.random.default_rng(self._seed).choice(len(full), _PROJECTION_SAMPLE, replace=False)
            sample = full[np.sort(pick)]
        x = sample.astype(np.float64)
        mean = x.mean(axis=0) if self.space == "l2" else np.zeros(self.dim)
        x -= mean
        _, vecs = np.linalg.eigh(x.T @ x)
        self.basis = np.ascontiguousarray(vecs[:, ::-1][:, :self.reduce_dim].T, dtype=np.float32)
        self.mean = mean.astype(np.float32)

    def _project(self, full: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((full - self.mean) @ self.basis.T, dtype=np.float32)

    def exact(self, hnsw: Any, q: np.ndarray, k: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the kept full vectors."""
        return exact_search(self.vectors[:count], q, k, self.space, ids=self.row_ids[:count])

    def search(self, hnsw: Any, candidates: Candidates, q: np.ndarray, k: int, ef: int, count: int,
               rerank: bool) -> tuple[np.ndarray, np.ndarray]:
        """Graph search on the projected queries for ``max(ef, k)`` candidates, then the
        exact full-dimension re-rank (always: ``rerank`` changes nothing here)."""
        ef = max(ef, k)
        full = unit_rows(q) if self.space == "cosine" else q
        rows, _ = candidates(self._project(full), min(count, ef), ef)
        dist = exact_distances(q, self.vectors, self.space, rows=rows, data_sq=self._vector_sq)
        labels, dist = top_k(dist, rows, k)
        return self.row_ids[labels], dist

    def extras(self, count: int) -> list[np.ndarray]:
        """The projection, ids and vectors of the first ``count`` rows, as the file holds them."""
        return pack_reduced(self.basis, self.mean, self.row_ids[:count], self.vectors[:count])

    def restore(self, extras: bytes, labels: list[int], path: str) -> set[int]:
        """Reads back what :meth:`extras` saved, cross-checks it against the graph's labels,
        and returns the ids."""
        count = len(labels)
        self.basis, self.mean, self.row_ids, self.vectors = unpack_reduced(extras, count, self.dim,
                                                                           self.reduce_dim)
        self._vector_sq = sq_norms(self.vectors)
        if (sorted(int(i) for i in labels) != list(range(count)) or len(np.unique(self.row_ids)) != count
                or (count and self.row_ids.min() < 0) or not np.isfinite(self.vectors).all()):
            raise ValueError(f"{path!r}: the stored rows (ids, vectors) do not match the index data")
        return set(self.row_ids.tolist())
