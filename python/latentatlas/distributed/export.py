"""Export a latent store to a vector database's import format, with no server needed.

- :func:`to_jsonl`: one JSON object per row in Qdrant's point layout,
  ``{"id": row, "vector": [...], "payload": {"split": ..., "class": ..., "<label>": 0/1}}``
  (upload with ``qdrant_client.QdrantClient.upload_points`` or the REST ``PUT
  /collections/NAME/points`` in batches).
- :func:`to_parquet`: one Parquet file (columns ``id``, ``vector`` as a fixed-size list of
  float32, ``split``, ``class``, one uint8 column per label) that LanceDB
  (``lancedb.connect(dir).create_table(name, pyarrow.parquet.read_table(path))``),
  Milvus' bulk insert and most other engines import directly.

Both take a LatentStore or a sharded store (streamed shard by shard) and write atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_open, atomic_write
from ..data import LatentStore
from .store import ShardedStore

__all__ = ["to_jsonl", "to_parquet"]


def _parts(store: Any) -> Iterator[tuple[int, LatentStore]]:
    """``(first global row, LatentStore)`` for the store or each of its shards."""
    if isinstance(store, LatentStore):
        yield 0, store
    elif isinstance(store, ShardedStore):
        for i in range(store.num_shards):
            yield store.shard_start(i), store.shard(i)
    else:
        raise TypeError(f"store must be a LatentStore or a ShardedStore, got {type(store).__name__}")


def to_jsonl(store: LatentStore | ShardedStore, path: str | os.PathLike[str]) -> Path:
    """Write every row as a Qdrant-style point (id, vector, payload) per line; returns the path."""
    path = Path(path)
    with atomic_open(path, "w") as fh:
        for start, part in _parts(store):
            for r in range(len(part)):
                payload: dict[str, Any] = {"split": str(part.split[r])}
                if part.classes is not None:
                    payload["class"] = int(part.classes[r])
                payload.update({name: int(v) for name, v in zip(part.label_names, part.labels[r])})
                fh.write(json.dumps({"id": start + r, "vector": part.latents[r].tolist(), "payload": payload}))
                fh.write("\n")
    return path


def to_parquet(store: LatentStore | ShardedStore, path: str | os.PathLike[str]) -> Path:
    """Write every row to one Parquet file (one row group per shard); returns the path.

    Needs pyarrow (installed with the ``[ray]`` extra).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_parquet needs pyarrow: pip install 'latentatlas[ray]'") from exc
    path = Path(path)

    def table(start: int, part: LatentStore) -> Any:
        d = part.latent_dim
        columns: dict[str, Any] = {
            "id": pa.array(np.arange(start, start + len(part), dtype=np.int64)),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(part.latents.reshape(-1)), d),
            "split": pa.array(part.split.astype(str)),
        }
        if part.classes is not None:
            columns["class"] = pa.array(part.classes)
        for k, name in enumerate(part.label_names):
            columns[name] = pa.array(part.labels[:, k])
        return pa.table(columns)

    def write(tmp: str) -> None:
        writer = None
        try:
            for start, part in _parts(store):
                t = table(start, part)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema)
                writer.write_table(t)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ValueError("the store has no rows to export")

    atomic_write(path, write)
    return path
