"""Nearest neighbours of latents: an HNSW index (hnswlib) with exact re-ranking, and exact
brute-force search on the native ``score`` kernel.

Distances follow hnswlib's conventions in every path (approximate, re-ranked, exact):

- ``"cosine"``: ``1 − cos(q, x)`` (a zero vector has cosine 0 with everything);
- ``"ip"``: ``1 − q·x``;
- ``"l2"``: the squared Euclidean distance ``|q − x|²``.

The package, one concern per module, each importing only the ones listed before it:

- :mod:`.exact`: exact search, gathered scores, the one score-to-distance conversion, recall@k;
- :mod:`.fileformat`: the index file (header, checksum, versions 1 to 3, atomic writes);
- :mod:`.calibrate`: choosing the search breadth from the recall target, by measurement;
- :mod:`.variant`: what a kind of graph contributes to the index (a protocol);
- :mod:`.full`, :mod:`.reduced`: the full-dimension graph and the reduced-dimension one
  (projection graph + exact full-dimension re-rank);
- :mod:`.rows`: every stored vector with its id and alive flag (exact search, filters,
  calibration and re-ranking read them);
- :mod:`.index`: :class:`NeighborIndex`, its thread rules, and its add/remove/query/save/load
  front.
"""

from __future__ import annotations

from .exact import SPACES, exact_search, gather_scores, recall_at_k
from .index import NeighborIndex

__all__ = ["SPACES", "NeighborIndex", "exact_search", "gather_scores", "recall_at_k"]
