"""The full-dimension variant of :class:`~latentatlas.neighbors.NeighborIndex`: the HNSW
graph is built on the stored rows themselves (hnswlib's ``space``). It implements
:class:`~.variant.GraphVariant`."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FullGraph"]


class FullGraph:
    """The graph's vectors are the rows; ``rerank`` re-ranks ``2k`` candidates."""

    reduce_dim = None

    def __init__(self, dim: int, space: str) -> None:
        self.space = space
        self.graph_space, self.graph_dim = space, dim

    def params(self) -> dict[str, Any]:
        """No constructor arguments beyond the common ones."""
        return {}

    def check_build(self, n: int) -> None:
        """Any number of rows is fine."""

    def to_graph(self, rows: np.ndarray) -> np.ndarray:
        """The rows themselves."""
        return rows

    def query_to_graph(self, q: np.ndarray) -> np.ndarray:
        """The queries themselves."""
        return q

    def fetch(self, k: int, ef: int, rerank: bool, count: int) -> tuple[int, bool]:
        """``k`` candidates as hnswlib ranks them, or ``2k`` re-ranked exactly."""
        return (min(count, 2 * k), True) if rerank else (k, False)

    def extras(self) -> list[np.ndarray]:
        """Nothing beyond the rows."""
        return []

    def restore(self, extras: bytes) -> None:
        """Nothing to read back."""
