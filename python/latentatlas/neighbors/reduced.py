"""The reduced-dimension variant of :class:`~latentatlas.neighbors.NeighborIndex`
(``reduce_dim=r``): the HNSW graph is built on an ``r``-dimensional linear projection of the
rows, and every query re-ranks the graph's ``ef`` candidates by exact full-dimension
distances to the stored rows.

The projection is the top-``r`` principal subspace learned from the rows the graph is
first built from (at least ``r`` of them; a seeded sample of at most ``_PROJECTION_SAMPLE``),
uncentred for ``"cosine"``/``"ip"`` (so projected inner products approximate the full ones;
the graph uses hnswlib's ``"ip"``) and centred for ``"l2"``. It implements
:class:`~.variant.GraphVariant`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import check_int
from .exact import unit_rows
from .fileformat import pack_projection, unpack_projection

__all__ = ["ReducedGraph"]

# The projection of a reduced-dimension index is learned from at most this many rows.
_PROJECTION_SAMPLE = 20_000


class ReducedGraph:
    """A graph over projected rows; candidates re-ranked in full dimension.

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

    def params(self) -> dict[str, Any]:
        """The constructor argument that selects this variant."""
        return {"reduce_dim": self.reduce_dim}

    def check_build(self, n: int) -> None:
        """Learning the projection needs at least ``reduce_dim`` rows."""
        if self.basis is None and n < self.reduce_dim:
            raise ValueError(f"the graph's projection to reduce_dim = {self.reduce_dim} is learned from the "
                             f"vectors it is first built from and needs at least that many, got {n}")

    def to_graph(self, rows: np.ndarray) -> np.ndarray:
        """The projected rows (learning the projection from them the first time)."""
        if self.basis is None:
            self._learn_projection(rows)
        return self._project(rows)

    def query_to_graph(self, q: np.ndarray) -> np.ndarray:
        """The projected queries (unit rows first for cosine, like the stored rows)."""
        return self._project(unit_rows(q) if self.space == "cosine" else q)

    def fetch(self, k: int, ef: int, rerank: bool, count: int) -> tuple[int, bool]:
        """All ``max(ef, k)`` candidates, always re-ranked (``rerank`` changes nothing)."""
        return min(count, max(ef, k)), True

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

    def extras(self) -> list[np.ndarray]:
        """The projection (nothing before the graph is built)."""
        return pack_projection(self.basis, self.mean)

    def restore(self, extras: bytes) -> None:
        """Reads back the projection :meth:`extras` saved."""
        self.basis, self.mean = unpack_projection(extras, self.dim, self.reduce_dim)
