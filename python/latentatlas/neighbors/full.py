"""The full-dimension variant of :class:`~latentatlas.neighbors.NeighborIndex`: the HNSW
graph is built on the vectors themselves and hnswlib holds them (unit rows for
``"cosine"``), under the caller's ids as its labels. It implements
:class:`~.variant.GraphVariant`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .exact import exact_distances, exact_search, top_k
from .variant import Candidates

__all__ = ["FullGraph"]


class FullGraph:
    """The graph's labels are the ids, its vectors the vectors (hnswlib's ``space``)."""

    reduce_dim = None

    def __init__(self, dim: int, space: str) -> None:
        self.space = space
        self.graph_space, self.graph_dim = space, dim

    def params(self) -> dict[str, Any]:
        """No constructor arguments beyond the common ones."""
        return {}

    def check_add(self, n: int) -> None:
        """Any batch size is fine."""

    def add(self, hnsw: Any, data: np.ndarray, labels: np.ndarray, count: int, num_threads: int) -> None:
        """Adds the rows to the graph under their ids."""
        hnsw.add_items(data, labels.astype(np.uint64), num_threads=num_threads)

    def exact(self, hnsw: Any, q: np.ndarray, k: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the vectors read back from hnswlib."""
        labels = np.array(hnsw.get_ids_list(), dtype=np.uint64)
        stored = np.asarray(hnsw.get_items(labels, return_type="numpy"), dtype=np.float32)
        return exact_search(stored, q, k, self.space, ids=labels.astype(np.int64))

    def search(self, hnsw: Any, candidates: Candidates, q: np.ndarray, k: int, ef: int, count: int,
               rerank: bool) -> tuple[np.ndarray, np.ndarray]:
        """hnswlib's k nearest; with ``rerank``, its ``2k`` nearest re-ranked by exact
        distances to the vectors read back from hnswlib."""
        fetch = min(count, 2 * k) if rerank else k
        labels, dist = candidates(q, fetch, ef)
        if not rerank:
            return labels, dist
        stored = np.asarray(hnsw.get_items(labels.reshape(-1).astype(np.uint64), return_type="numpy"),
                            dtype=np.float32)
        rows = np.arange(stored.shape[0], dtype=np.int64).reshape(labels.shape)
        return top_k(exact_distances(q, stored, self.space, rows=rows), labels, k)

    def extras(self, count: int) -> list[np.ndarray]:
        """Nothing beyond hnswlib's bytes (a version-1 file)."""
        return []

    def restore(self, extras: bytes, labels: list[int], path: str) -> set[int]:
        """The ids of a loaded graph: its labels."""
        return set(int(i) for i in labels)
