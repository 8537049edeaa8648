"""Past one machine, on Ray: sharded encode into a resumable sharded latent store, exact
reductions (attribute, balanced and centroid vectors, AtDot) from per-shard sums, a
sharded neighbour index, and export to a vector database's import format.

- :func:`encode` (Ray Data actors) writes a :class:`ShardedStore` folder;
  :func:`folder_source`, :func:`celeba_source`, :func:`mnist_source` read images lazily
  in the workers.
- :mod:`.reductions`: :func:`mean_difference`, :func:`balanced`, :func:`centroid_vectors`,
  :func:`fit_atdot`, each equal to the single-machine function on the whole store.
- :class:`ShardedNeighborIndex`: one NeighborIndex per shard, fan-out query, merged top-k.
- :mod:`.export`: :func:`to_jsonl` (Qdrant points), :func:`to_parquet` (LanceDB, Milvus).

Ray is imported only when a function needs the cluster; :class:`ShardedStore` and the
exports work without it.
"""

from __future__ import annotations

from .encode import encode, ensure_ray, plan_shards
from .export import to_jsonl, to_parquet
from .index import ShardedNeighborIndex
from .reductions import balanced, centroid_vectors, fit_atdot, mean_difference
from .sources import celeba_source, folder_source, mnist_source
from .store import ShardedStore, open_store, shard_store

__all__ = ["ShardedNeighborIndex", "ShardedStore", "balanced", "celeba_source", "centroid_vectors", "encode",
           "ensure_ray", "fit_atdot", "folder_source", "mean_difference", "mnist_source", "open_store",
           "plan_shards", "shard_store", "to_jsonl", "to_parquet"]
