"""The part a kind of graph plays in :class:`~latentatlas.neighbors.NeighborIndex`: the
protocol that :class:`~.full.FullGraph` and :class:`~.reduced.ReducedGraph` implement."""

from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

__all__ = ["Candidates", "GraphVariant"]

# The index's locked graph search: (graph-space queries, fetch, ef) -> (int64 labels, distances).
Candidates = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


class GraphVariant(Protocol):
    """What differs between a full-dimension and a reduced-dimension index: the hnswlib
    graph's space and dimension, where the vectors are kept, how a query and an exact
    search run, and the file's section after hnswlib's bytes. The index owns the locks, the
    ids and hnswlib's object (``hnsw``) and passes them in; every call runs under the
    index's thread rules (``add`` alone, the others alongside each other)."""

    space: str
    reduce_dim: int | None
    graph_space: str
    graph_dim: int

    def params(self) -> dict[str, Any]:
        """The constructor arguments that select the variant (for repr and the file header)."""

    def check_add(self, n: int) -> None:
        """Refuses a batch of ``n`` rows before anything changes."""

    def add(self, hnsw: Any, data: np.ndarray, labels: np.ndarray, count: int, num_threads: int) -> None:
        """Adds checked float32 rows with their ids; ``count`` rows are already in."""

    def exact(self, hnsw: Any, q: np.ndarray, k: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force ``(ids, distances)`` over all ``count`` rows."""

    def search(self, hnsw: Any, candidates: Candidates, q: np.ndarray, k: int, ef: int, count: int,
               rerank: bool) -> tuple[np.ndarray, np.ndarray]:
        """Graph ``(ids, distances)``, nearest first."""

    def extras(self, count: int) -> list[np.ndarray]:
        """The arrays the file holds after hnswlib's bytes."""

    def restore(self, extras: bytes, labels: list[int], path: str) -> set[int]:
        """Reads back :meth:`extras` for a loaded graph with ``labels``; returns the ids."""
