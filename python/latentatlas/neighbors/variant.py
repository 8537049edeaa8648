"""The part a kind of graph plays in :class:`~latentatlas.neighbors.NeighborIndex`: the
protocol that :class:`~.full.FullGraph` and :class:`~.reduced.ReducedGraph` implement.

The index keeps every vector in its :class:`~.rows.RowStore`; the graph's labels are row
numbers. A variant says what the graph holds for a row and for a query, and how many
graph candidates a query fetches and whether they are re-ranked by exact distances to the
stored rows (the index does the re-rank).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["GraphVariant"]


class GraphVariant(Protocol):
    """What differs between a full-dimension and a reduced-dimension graph."""

    space: str
    reduce_dim: int | None
    graph_space: str
    graph_dim: int

    def params(self) -> dict[str, Any]:
        """The constructor arguments that select the variant (for repr and the file header)."""

    def check_build(self, n: int) -> None:
        """Refuses to build a graph from ``n`` rows (before anything changes)."""

    def to_graph(self, rows: np.ndarray) -> np.ndarray:
        """The graph's vectors for stored rows (float32, as the row store keeps them)."""

    def query_to_graph(self, q: np.ndarray) -> np.ndarray:
        """The graph's vectors for checked float32 queries."""

    def fetch(self, k: int, ef: int, rerank: bool, count: int) -> tuple[int, bool]:
        """How many graph candidates a query for ``k`` fetches, and whether they are
        re-ranked by exact distances (``count``: rows in the graph)."""

    def extras(self) -> list[np.ndarray]:
        """The arrays the file holds for the variant (on-disk dtypes)."""

    def restore(self, extras: bytes) -> None:
        """Reads back :meth:`extras`."""
