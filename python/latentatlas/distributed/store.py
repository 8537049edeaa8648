"""The sharded latent store: a folder of shard files (each a :class:`~latentatlas.data.LatentStore`
``.npz`` of consecutive rows) and ``manifest.json`` naming them with their row ranges,
row counts and SHA-256 checksums, the model and the provenance of the run.

:class:`ShardedStore` opens such a folder as one store, lazily: the manifest is read at
once, each shard only when asked for (and its checksum checked then). Nothing here needs
Ray; :mod:`latentatlas.distributed.encode` writes these folders.

Manifest (``manifest.json``, written atomically after every finished shard)::

    {"format": 1, "kind": "latentatlas-sharded-store", "complete": true,
     "n": N, "latent_dim": D, "label_names": [...], "shard_size": S, "plan": "<sha256>",
     "model": {...}, "source": {...}, "provenance": {...},
     "shards": [{"index": 0, "name": "shard-00000.npz", "start": 0, "rows": S,
                 "sha256": "..."}, ...]}

``plan`` fingerprints what the shards were cut from (source, model, shard size); a
resumed run only keeps shards whose own provenance carries the same plan and range.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_open, parse_json
from ..data import LatentStore

__all__ = ["MANIFEST", "ShardedStore", "open_store", "shard_store", "sha256_file", "shard_name", "write_manifest", "read_manifest"]

MANIFEST = "manifest.json"
_FORMAT = 1
_KIND = "latentatlas-sharded-store"


def shard_name(index: int) -> str:
    """The file name of shard ``index`` (``shard-00007.npz``)."""
    return f"shard-{index:05d}.npz"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` into ``folder`` atomically (shards sorted by index)."""
    manifest = dict(manifest, format=_FORMAT, kind=_KIND)
    manifest["shards"] = sorted(manifest.get("shards", []), key=lambda s: s["index"])
    path = Path(folder) / MANIFEST
    with atomic_open(path, "w") as fh:
        json.dump(manifest, fh, indent=1)
    return path


def load_manifest_json(path: Path) -> Any:
    """A manifest file (a sharded store's or a sharded index's) parsed by the library's one
    JSON reader (:func:`~latentatlas._files.parse_json`: nesting depth limited); any problem
    is a ValueError naming the file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON: {exc}") from None
    return parse_json(text, path)


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed manifest of a sharded store folder, checked for shape; ValueError naming
    the folder when it is missing, not JSON or not a latentatlas sharded store manifest."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ValueError(f"sharded store {str(folder)!r} is not a folder")
    if not path.is_file():
        raise ValueError(f"{str(folder)!r} has no {MANIFEST}: not a sharded latent store")
    manifest = load_manifest_json(path)
    if not isinstance(manifest, dict) or manifest.get("kind") != _KIND:
        raise ValueError(f"{str(path)!r} is not a latentatlas sharded store manifest")
    if manifest.get("format") != _FORMAT:
        raise ValueError(f"{str(path)!r}: unsupported manifest format {manifest.get('format')!r}")
    shards = manifest.get("shards")
    needed = {"index", "name", "start", "rows", "sha256"}
    if not isinstance(shards, list) or not all(isinstance(s, dict) and needed <= set(s) for s in shards):
        raise ValueError(f"{str(path)!r}: 'shards' must be a list of entries with {sorted(needed)}")
    for s in shards:
        name = s["name"]
        if not isinstance(name, str) or os.path.basename(name) != name or not name.endswith(".npz"):
            raise ValueError(f"{str(path)!r}: shard name {name!r} must be a plain .npz file name in the folder")
    return manifest


class ShardedStore:
    """A sharded latent store opened as one store, lazily.

    ``len(store)``, :attr:`latent_dim`, :attr:`label_names` and the per-shard row ranges
    come from the manifest; :meth:`shard` loads one shard (checking its SHA-256 against
    the manifest first), :meth:`chunks` streams ``(latents, labels)`` pairs shard by shard
    (what :func:`latentatlas.attributes.mean_difference` takes for data larger than
    memory), and :meth:`load` concatenates everything into one
    :class:`~latentatlas.data.LatentStore`.

    Raises:
        ValueError: no manifest, an incomplete run (unless ``allow_incomplete``), shards
            that do not tile ``0..N`` exactly once, or missing shard files.
    """

    def __init__(self, folder: str | os.PathLike[str], *, allow_incomplete: bool = False) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        if not self.manifest.get("complete") and not allow_incomplete:
            raise ValueError(f"sharded store {str(self.folder)!r} is incomplete ({len(self.manifest['shards'])} "
                             "shards written); re-run the encode with the same arguments to resume it")
        self.entries = sorted(self.manifest["shards"], key=lambda s: s["start"])
        self._check_tiling()
        for e in self.entries:
            if not (self.folder / e["name"]).is_file():
                raise ValueError(f"sharded store {str(self.folder)!r}: shard file {e['name']!r} is missing")

    def _check_tiling(self) -> None:
        at = 0
        for e in self.entries:
            if e["start"] != at or e["rows"] < 1:
                if self.manifest.get("complete"):
                    raise ValueError(f"sharded store {str(self.folder)!r}: shard {e['name']!r} covers rows "
                                     f"{e['start']}:{e['start'] + e['rows']} but the previous shards end at row {at}")
                return
            at += e["rows"]
        if self.manifest.get("complete") and at != self.manifest.get("n"):
            raise ValueError(f"sharded store {str(self.folder)!r}: the shards hold {at} rows, "
                             f"the manifest says {self.manifest.get('n')}")

    def __len__(self) -> int:
        return int(sum(e["rows"] for e in self.entries))

    def __repr__(self) -> str:
        return (f"ShardedStore({str(self.folder)!r}, n={len(self)}, shards={self.num_shards}, "
                f"latent_dim={self.latent_dim})")

    @property
    def num_shards(self) -> int:
        """How many shard files the store has."""
        return len(self.entries)

    @property
    def latent_dim(self) -> int | None:
        """D, the length of each latent (None for a store with no shard yet)."""
        dim = self.manifest.get("latent_dim")
        return None if dim is None else int(dim)

    @property
    def label_names(self) -> list[str]:
        """The names of the label columns."""
        return [str(n) for n in self.manifest.get("label_names", [])]

    @property
    def provenance(self) -> dict[str, Any]:
        """The run's provenance record (model, source, plan, library version)."""
        return dict(self.manifest.get("provenance", {}))

    def shard_path(self, i: int) -> Path:
        """The file of shard ``i`` (in row order)."""
        return self.folder / self.entries[self._check_shard(i)]["name"]

    def shard_start(self, i: int) -> int:
        """The global row number of shard ``i``'s first row."""
        return int(self.entries[self._check_shard(i)]["start"])

    def _check_shard(self, i: int) -> int:
        if not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_shards:
            raise ValueError(f"shard index must be in [0, {self.num_shards}), got {i!r}")
        return int(i)

    def shard(self, i: int, *, verify: bool = True) -> LatentStore:
        """Shard ``i`` (in row order) as a LatentStore; ``verify`` checks its SHA-256 and
        row count against the manifest first (a ValueError naming the file on mismatch)."""
        entry = self.entries[self._check_shard(i)]
        path = self.folder / entry["name"]
        if verify and sha256_file(path) != entry["sha256"]:
            raise ValueError(f"shard {str(path)!r} does not match its SHA-256 in the manifest (corrupt or replaced)")
        store = LatentStore.load(path)
        if len(store) != entry["rows"]:
            raise ValueError(f"shard {str(path)!r} holds {len(store)} rows, the manifest says {entry['rows']}")
        return store

    def iter_shards(self, *, verify: bool = True) -> Iterator[LatentStore]:
        """Every shard in row order, one loaded at a time."""
        for i in range(self.num_shards):
            yield self.shard(i, verify=verify)

    def chunks(self, *, verify: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(latents, labels)`` per shard, in row order."""
        for s in self.iter_shards(verify=verify):
            yield s.latents, s.labels

    def load(self, *, verify: bool = True) -> LatentStore:
        """Every shard concatenated in row order into one LatentStore (in memory)."""
        parts = list(self.iter_shards(verify=verify))
        if not parts:
            raise ValueError(f"sharded store {str(self.folder)!r} has no shards")
        classes = None if any(p.classes is None for p in parts) else np.concatenate([p.classes for p in parts])
        return LatentStore(
            latents=np.concatenate([p.latents for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            label_names=list(parts[0].label_names),
            split=np.concatenate([p.split for p in parts]),
            classes=classes,
            provenance=dict(self.provenance, sharded_store=str(self.folder)),
        )


def open_store(path: str | os.PathLike[str]) -> LatentStore | ShardedStore:
    """A latent store from a ``.npz`` file (loaded) or a sharded store folder (opened lazily)."""
    path = Path(path)
    if path.is_dir():
        return ShardedStore(path)
    return LatentStore.load(path)


def shard_store(store: LatentStore, output_dir: str | os.PathLike[str], shard_size: int) -> ShardedStore:
    """Cut an in-memory LatentStore into a sharded store folder of ``shard_size``-row
    shards (no Ray needed), e.g. to run the distributed reductions or the sharded index
    on a store that was encoded on one machine. Returns the store opened."""
    from .._arrays import check_int

    if not isinstance(store, LatentStore):
        raise TypeError(f"store must be a LatentStore, got {type(store).__name__}")
    shard_size = check_int("shard_size", shard_size, 1)
    folder = Path(output_dir)
    if (folder / MANIFEST).exists():
        raise ValueError(f"output_dir {str(folder)!r} already holds a sharded store")
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, start in enumerate(range(0, len(store), shard_size)):
        stop = min(start + shard_size, len(store))
        part = LatentStore(store.latents[start:stop], store.labels[start:stop], list(store.label_names),
                           store.split[start:stop], None if store.classes is None else store.classes[start:stop],
                           dict(store.provenance, shard=i, start=start, stop=stop))
        path = part.save(folder / shard_name(i))
        entries.append({"index": i, "name": path.name, "start": start, "rows": stop - start,
                        "sha256": sha256_file(path), "dim": store.latent_dim})
    write_manifest(folder, {"complete": True, "n": len(store), "latent_dim": store.latent_dim,
                            "label_names": list(store.label_names), "shard_size": shard_size, "plan": None,
                            "model": store.provenance.get("model"), "source": {"store": "in memory"},
                            "provenance": dict(store.provenance), "shards": entries})
    return ShardedStore(folder)
