"""The rows of a :class:`~latentatlas.neighbors.NeighborIndex`: every vector it was given,
as float32 (unit rows for ``"cosine"``), with its id, its squared norm and whether it is
still alive (removed and replaced vectors stay as dead rows, so the graph's labels, which
are row numbers, never move).

Exact search, filters, calibration and the reduced graph's re-rank all read these rows;
the graph only finds candidates among them.
"""

from __future__ import annotations

import numpy as np

from .exact import sq_norms, unit_rows

__all__ = ["RowStore"]


def _reserve(buffer: np.ndarray, used: int, needed: int) -> np.ndarray:
    """``buffer`` with room for ``needed`` rows, its first ``used`` rows kept: itself when
    large enough, else a copy into at least twice the capacity."""
    if len(buffer) >= needed:
        return buffer
    grown = np.zeros((max(needed, 2 * len(buffer)),) + buffer.shape[1:], dtype=buffer.dtype)
    grown[:used] = buffer[:used]
    return grown


class RowStore:
    """Growable per-row arrays and the id → row map.

    Args:
        dim: vector size.
        space: ``"cosine"`` keeps unit rows (a zero row stays zero), the others the vectors.
    """

    def __init__(self, dim: int, space: str) -> None:
        self.dim, self.space = dim, space
        self.count = 0  # rows used, dead ones included
        self._ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._sq = np.empty(0, dtype=np.float64)
        self._alive = np.empty(0, dtype=bool)
        self.row_of: dict[int, int] = {}  # alive ids only

    # Views of the used rows.
    @property
    def ids(self) -> np.ndarray:
        """``(count,)`` int64 id of each row (dead rows keep the id they had)."""
        return self._ids[:self.count]

    @property
    def vectors(self) -> np.ndarray:
        """``(count, dim)`` float32 rows (unit rows for cosine)."""
        return self._vectors[:self.count]

    @property
    def sq(self) -> np.ndarray:
        """``(count,)`` float64 squared norms of the rows."""
        return self._sq[:self.count]

    @property
    def alive(self) -> np.ndarray:
        """``(count,)`` bool: the row's vector is in the index (not removed or replaced)."""
        return self._alive[:self.count]

    def __len__(self) -> int:
        return len(self.row_of)

    def append(self, data: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Appends checked float32 rows under ``ids`` (ids already present are killed
        first: replacement); returns the new row numbers."""
        self.kill(ids)
        start, end = self.count, self.count + len(data)
        self._ids = _reserve(self._ids, start, end)
        self._vectors = _reserve(self._vectors, start, end)
        self._sq = _reserve(self._sq, start, end)
        self._alive = _reserve(self._alive, start, end)
        rows = unit_rows(data) if self.space == "cosine" else data
        self._ids[start:end] = ids
        self._vectors[start:end] = rows
        self._sq[start:end] = sq_norms(rows)
        self._alive[start:end] = True
        self.count = end
        self.row_of.update(zip(ids.tolist(), range(start, end)))
        return np.arange(start, end, dtype=np.int64)

    def kill(self, ids: np.ndarray) -> np.ndarray:
        """Marks the rows of the alive ``ids`` among ``ids`` dead; returns those rows."""
        rows = [self.row_of.pop(i) for i in ids.tolist() if i in self.row_of]
        rows = np.array(rows, dtype=np.int64)
        self._alive[rows] = False
        return rows

    def alive_rows(self) -> np.ndarray:
        """The row numbers of the alive rows, ascending."""
        return np.flatnonzero(self.alive)

    def restore(self, ids: np.ndarray, vectors: np.ndarray, alive: np.ndarray) -> None:
        """Replaces the contents with loaded rows (``vectors`` already as stored)."""
        self._ids, self._vectors, self._alive = ids.copy(), vectors.copy(), alive.copy()
        self._sq = sq_norms(self._vectors)
        self.count = len(ids)
        live = np.flatnonzero(alive)
        self.row_of = dict(zip(self._ids[live].tolist(), live.tolist()))
