"""ShardedNeighborIndex: one :class:`~latentatlas.NeighborIndex` per shard of a sharded
store, built in parallel as Ray tasks, queried by fan-out with the top-k merged.

Each shard's index holds that shard's latents under their global row numbers as ids, so
merged results name rows of the whole store. A query asks every shard for its own
``min(k, rows)`` nearest and keeps the ``k`` nearest of the union (ties by id): for exact
search that is exactly the single-index answer; for graph search the recall of the union
is at least that of the worst shard at the same ``ef`` (each shard searches a smaller
graph). Saved as a folder: one index file per shard (the NeighborIndex file format) and
``manifest.json`` with names, row ranges, SHA-256 checksums and the build parameters.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import check_int
from .._files import atomic_open
from ..neighbors import NeighborIndex
from ..neighbors.exact import as_vectors
from .encode import ensure_ray
from .store import ShardedStore, load_manifest_json, sha256_file

__all__ = ["ShardedNeighborIndex"]

_MANIFEST = "manifest.json"
_KIND = "latentatlas-sharded-index"
_FORMAT = 1


def _build_shard(store_folder: str, i: int, out_folder: str, params: dict[str, Any]) -> dict[str, Any]:
    """Build and save the index of shard ``i`` (a Ray task's body); returns its manifest entry."""
    store = ShardedStore(store_folder)
    shard = store.shard(i)
    start = store.shard_start(i)
    index = NeighborIndex(shard.latent_dim, num_threads=1, **params)
    index.add(shard.latents, ids=np.arange(start, start + len(shard), dtype=np.int64))
    name = f"index-{i:05d}.laidx"
    path = Path(out_folder) / name
    index.save(path)
    return {"index": i, "name": name, "start": start, "rows": len(shard), "sha256": sha256_file(path)}


class ShardedNeighborIndex:
    """Nearest neighbours over a sharded store: one NeighborIndex per shard, fan-out query,
    merged top-k. Build with :meth:`build`, reopen with :meth:`load`.

    Raises (constructor): ValueError for no indexes or indexes that disagree on dim or space.
    """

    def __init__(self, indexes: list[NeighborIndex], *, num_threads: int | None = None) -> None:
        if not indexes:
            raise ValueError("a ShardedNeighborIndex needs at least one shard index")
        kinds = {(ix.dim, ix.space) for ix in indexes}
        if len(kinds) != 1:
            raise ValueError(f"the shard indexes disagree on (dim, space): {sorted(kinds)}")
        self.indexes = list(indexes)
        self.dim, self.space = next(iter(kinds))
        self.num_threads = num_threads or min(len(indexes), os.cpu_count() or 1)

    def __len__(self) -> int:
        return int(sum(len(ix) for ix in self.indexes))

    def __repr__(self) -> str:
        return f"ShardedNeighborIndex(dim={self.dim}, space={self.space!r}, count={len(self)}, shards={len(self.indexes)})"

    @property
    def num_shards(self) -> int:
        """How many shard indexes are searched per query."""
        return len(self.indexes)

    @classmethod
    def build(cls, store: ShardedStore | str | os.PathLike[str], output_dir: str | os.PathLike[str], *,
              space: str = "cosine", M: int = 16, ef_construction: int = 200, ef: int = 64, seed: int = 100,
              reduce_dim: int | None = None) -> ShardedNeighborIndex:
        """Build one index per shard of ``store`` as parallel Ray tasks, save them into
        ``output_dir`` (created) with a manifest, and open the result.

        The parameters are :class:`~latentatlas.NeighborIndex`'s, the same for every shard.
        """
        store = store if isinstance(store, ShardedStore) else ShardedStore(store)
        params = {"space": space, "M": M, "ef_construction": ef_construction, "ef": ef, "seed": seed,
                  "reduce_dim": reduce_dim}
        NeighborIndex(store.latent_dim or 1, **params)  # checks the parameters before any task starts
        out = Path(output_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"output_dir {str(out)!r} exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        ray = ensure_ray()
        task = ray.remote(num_cpus=1)(_build_shard)
        entries = ray.get([task.remote(str(store.folder.resolve()), i, str(out.resolve()), params)
                           for i in range(store.num_shards)])
        manifest = {"format": _FORMAT, "kind": _KIND, "dim": store.latent_dim, "n": len(store),
                    "store": str(store.folder), "params": params, "shards": entries}
        with atomic_open(out / _MANIFEST, "w") as fh:
            json.dump(manifest, fh, indent=1)
        return cls.load(out)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, verify: bool = True) -> ShardedNeighborIndex:
        """Open a folder written by :meth:`build`, checking each file's SHA-256 (``verify``)
        and row count against the manifest.

        Raises:
            ValueError: no manifest, a corrupt manifest, missing or altered index files.
        """
        folder = Path(folder)
        path = folder / _MANIFEST
        if not path.is_file():
            raise ValueError(f"{str(folder)!r} has no {_MANIFEST}: not a sharded neighbour index")
        manifest = load_manifest_json(path)
        if not isinstance(manifest, dict) or manifest.get("kind") != _KIND or manifest.get("format") != _FORMAT:
            raise ValueError(f"{str(path)!r} is not a latentatlas sharded index manifest (format {_FORMAT})")
        indexes = []
        for e in manifest.get("shards", []):
            name = e.get("name") if isinstance(e, dict) else None
            if not isinstance(name, str) or os.path.basename(name) != name:
                raise ValueError(f"{str(path)!r}: bad shard entry {e!r}")
            file = folder / name
            if not file.is_file():
                raise ValueError(f"sharded index {str(folder)!r}: index file {name!r} is missing")
            if verify and sha256_file(file) != e.get("sha256"):
                raise ValueError(f"index file {str(file)!r} does not match its SHA-256 in the manifest")
            ix = NeighborIndex.load(file)
            if len(ix) != e.get("rows"):
                raise ValueError(f"index file {str(file)!r} holds {len(ix)} vectors, the manifest says {e.get('rows')}")
            indexes.append(ix)
        return cls(indexes)

    def query(self, q: Any, k: int = 10, *, ef: int | None = None, rerank: bool = False,
              exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows of the whole store for each query: every shard's nearest
        (in parallel threads), merged by distance (ties by id).

        Arguments and returns are :meth:`latentatlas.NeighborIndex.query`'s; ids are global
        row numbers of the store.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, ``k`` larger than the store.
        """
        data = as_vectors("q", q, self.dim, allow_1d=True)
        k = check_int("k", k, 1)
        if k > len(self):
            raise ValueError(f"k = {k} is larger than the number of vectors in the index ({len(self)})")

        def one(ix: NeighborIndex) -> tuple[np.ndarray, np.ndarray]:
            return ix.query(data, min(k, len(ix)), ef=ef, rerank=rerank, exact=exact)

        with ThreadPoolExecutor(max_workers=self.num_threads) as pool:
            parts = list(pool.map(one, self.indexes))
        ids = np.concatenate([p[0] for p in parts], axis=1)
        dist = np.concatenate([p[1] for p in parts], axis=1)
        order = np.lexsort((ids, dist), axis=1)[:, :k]
        return np.take_along_axis(ids, order, axis=1), np.take_along_axis(dist, order, axis=1)
