"""Distributed encode on Ray Data: a pool of actors, each holding the model once, encodes
shards of consecutive rows and writes each shard as a LatentStore ``.npz``; the driver
records every finished shard in the folder's manifest.

Resume: the rows are cut into shards by a fixed plan (source, model, shard size). A
re-run with the same plan keeps every shard file whose checksum-verified contents carry
the same plan and row range, redoes the others, and so after a failed worker or a killed
driver every row ends up in exactly one shard. Shard files appear only by atomic rename,
so a killed worker leaves either a whole shard or none.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._arrays import check_int, run_batched
from .._files import jsonable
from ..data import LatentStore
from .sources import RowSource, as_source
from .store import MANIFEST, ShardedStore, read_manifest, sha256_file, shard_name, write_manifest

__all__ = ["encode", "plan_shards", "ShardEncoder"]


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("latentatlas.distributed needs Ray: pip install 'latentatlas[ray]'") from exc
    return ray


def ensure_ray(address: str | None = None) -> Any:
    """The ray module, connected: to ``address`` when given, to the running cluster when
    already initialised, else to a new local one."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray


def plan_shards(n: int, shard_size: int) -> list[tuple[int, int, int]]:
    """``(index, start, stop)`` of each shard of ``n`` rows cut every ``shard_size`` rows."""
    n = check_int("n", n, 1)
    shard_size = check_int("shard_size", shard_size, 1)
    return [(i, s, min(s + shard_size, n)) for i, s in enumerate(range(0, n, shard_size))]


def _model_record(model: Any) -> dict[str, Any]:
    """What the manifest says about the model: its name or path, or its class and config."""
    if isinstance(model, (str, os.PathLike)):
        return {"name": os.fspath(model)}
    record: dict[str, Any] = {"class": type(model).__name__}
    config = getattr(model, "config", None)
    if callable(config):
        try:
            record["config"] = jsonable(config(), default=str)
        except NotImplementedError:
            pass
    return record


def _plan_hash(source: RowSource, model: dict[str, Any], shard_size: int) -> str:
    text = json.dumps({"source": jsonable(source.describe(), default=str), "model": model,
                       "shard_size": shard_size}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class ShardEncoder:
    """The Ray Data callable class: loads the model once per actor, then for each batch of
    shard descriptions reads the shards' images from the source, encodes them
    ``batch_size`` at a time and writes each shard file atomically.

    Returns, per shard, its index, row range, file name and SHA-256.
    """

    def __init__(self, model: Any, source: RowSource, folder: str, plan: str, batch_size: int,
                 device: str | None = None, fail_rows: tuple[int, ...] = ()) -> None:
        if isinstance(model, (str, os.PathLike)):
            from ..models import load, resolve_device

            model = load(model, device=resolve_device(device or "auto"))
        self.model = model
        self.source = source
        self.folder = Path(folder)
        self.plan = plan
        self.batch_size = batch_size
        self.fail_rows = fail_rows

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Encode and write the shards described by ``batch`` (columns shard, start, stop)."""
        out: dict[str, list[Any]] = {"shard": [], "start": [], "rows": [], "name": [], "sha256": [], "dim": []}
        for index, start, stop in zip(batch["shard"], batch["start"], batch["stop"]):
            index, start, stop = int(index), int(start), int(stop)
            if any(start <= r < stop for r in self.fail_rows):  # test hook: a worker that fails on these rows
                raise RuntimeError(f"injected failure in shard {index} (rows {start}:{stop})")
            store = encode_rows(self.model, self.source, start, stop, self.batch_size,
                                {"shard": index, "start": start, "stop": stop, "plan": self.plan})
            path = self.folder / shard_name(index)
            store.save(path)
            for key, value in (("shard", index), ("start", start), ("rows", stop - start), ("name", path.name),
                               ("sha256", sha256_file(path)), ("dim", store.latent_dim)):
                out[key].append(value)
        return {k: np.array(v) for k, v in out.items()}


def encode_rows(model: Any, source: RowSource, start: int, stop: int, batch_size: int,
                provenance: dict[str, Any]) -> LatentStore:
    """Rows ``start:stop`` of ``source`` encoded by ``model.encode`` (``batch_size`` images
    per call, the same batching as :func:`~latentatlas.data.encode_dataset`) as a LatentStore."""
    images = source.read(start, stop)
    latents = run_batched(model.encode, images, batch_size, device=getattr(model, "device", None),
                          what="model.encode")
    if latents.ndim != 2 or latents.shape[0] != stop - start:
        raise ValueError(f"model.encode must return (N, D) latents, got shape {latents.shape}")
    return LatentStore(latents=latents, labels=source.labels[start:stop], label_names=list(source.label_names),
                       split=source.split[start:stop],
                       classes=None if source.classes is None else source.classes[start:stop],
                       provenance=provenance)


def _verified(folder: Path, index: int, start: int, stop: int, plan: str) -> dict[str, Any] | None:
    """The manifest entry of an existing shard file that holds exactly this plan's rows
    ``start:stop``, or None (after deleting the file) when it is unreadable or different."""
    path = folder / shard_name(index)
    if not path.is_file():
        return None
    try:
        store = LatentStore.load(path)
        p = store.provenance
        ok = (p.get("plan") == plan and p.get("shard") == index and p.get("start") == start
              and p.get("stop") == stop and len(store) == stop - start)
    except (ValueError, TypeError, OSError):
        ok = False
    if not ok:
        path.unlink()
        return None
    return {"index": index, "name": path.name, "start": start, "rows": stop - start,
            "sha256": sha256_file(path), "dim": store.latent_dim}


def encode(
    model: Any,
    data: Any,
    *,
    output_dir: str | os.PathLike[str],
    batch_size: int = 256,
    shard_size: int = 4096,
    num_workers: int | None = None,
    num_gpus_per_worker: float = 0,
    device: str | None = None,
    address: str | None = None,
    on_shard: Callable[[dict[str, Any]], None] | None = None,
    _fail_rows: tuple[int, ...] = (),
) -> ShardedStore:
    """Encode a data set on a Ray cluster into a sharded latent store (resumable).

    Args:
        model: a shipped model name or checkpoint folder (each actor loads it), or a model
            object (sent to each actor once).
        data: a :class:`~latentatlas.data.Dataset`, or a row source that reads images in
            the workers: :func:`~latentatlas.distributed.sources.folder_source`,
            :func:`~.sources.celeba_source`, :func:`~.sources.mnist_source`.
        output_dir: the store's folder (created; an existing one of the same plan is resumed).
        batch_size: images per ``encode`` call inside a worker.
        shard_size: rows per shard file.
        num_workers: actors in the pool (default: the cluster's CPUs, or GPUs when
            ``num_gpus_per_worker > 0``).
        num_gpus_per_worker: GPUs each actor reserves (0 runs on CPU; 1 puts one model
            per GPU; fractions share a GPU).
        device: where a named model runs in each actor (default auto: CUDA when the actor
            has a GPU).
        address: the Ray cluster to connect to when Ray is not initialised yet (None
            starts a local one).
        on_shard: called on the driver with each finished shard's manifest entry.

    Returns:
        The finished store, opened as a :class:`~latentatlas.distributed.ShardedStore`.

    Raises:
        ValueError: bad sizes, an output folder holding a different run, a model without
            an encoder; errors from the workers (unreadable images) propagate.
    """
    source = as_source(data)
    batch_size = check_int("batch_size", batch_size, 1)
    shard_size = check_int("shard_size", shard_size, 1)
    if not (isinstance(num_gpus_per_worker, (int, float)) and num_gpus_per_worker >= 0):
        raise ValueError(f"num_gpus_per_worker must be a non-negative number, got {num_gpus_per_worker!r}")
    if num_workers is not None:
        num_workers = check_int("num_workers", num_workers, 1)
    if not isinstance(model, (str, os.PathLike)) and not callable(getattr(model, "encode", None)):
        raise TypeError(f"{type(model).__name__} has no encode(); only models with an encoder can encode a data set")
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output_dir {str(folder)!r} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    model_record = _model_record(model)
    plan = _plan_hash(source, model_record, shard_size)
    shards = plan_shards(len(source), shard_size)
    from .. import __version__

    manifest: dict[str, Any] = {
        "complete": False, "n": len(source), "latent_dim": None, "label_names": list(source.label_names),
        "shard_size": shard_size, "plan": plan, "model": model_record,
        "source": jsonable(source.describe(), default=str),
        "provenance": {"dataset": source.name, "n": len(source), "model": model_record, "batch_size": batch_size,
                       "plan": plan, "latentatlas_version": __version__},
        "shards": [],
    }
    if (folder / MANIFEST).is_file():
        old = read_manifest(folder)
        if old.get("plan") != plan:
            raise ValueError(f"output_dir {str(folder)!r} holds a sharded store of a different run "
                             "(other data, model or shard size); use a new folder")
    for leftover in folder.glob(".shard-*.tmp"):  # a killed writer's temporary files
        leftover.unlink()
    done = {}
    for index, start, stop in shards:
        entry = _verified(folder, index, start, stop, plan)
        if entry is not None:
            done[index] = entry
    manifest["shards"] = list(done.values())
    if done:
        manifest["latent_dim"] = next(iter(done.values()))["dim"]
    write_manifest(folder, manifest)
    todo = [{"shard": i, "start": s, "stop": e} for i, s, e in shards if i not in done]
    if todo:
        ray = ensure_ray(address)
        resources = ray.cluster_resources()
        if num_workers is None:
            pool = resources.get("GPU", 0) / num_gpus_per_worker if num_gpus_per_worker else resources.get("CPU", 1)
            num_workers = max(1, min(int(pool), len(todo)))
        ds = ray.data.from_items(todo, override_num_blocks=len(todo))
        encoded = ds.map_batches(
            ShardEncoder,
            fn_constructor_kwargs={"model": model, "source": source, "folder": str(folder.resolve()),
                                   "plan": plan, "batch_size": batch_size, "device": device,
                                   "fail_rows": tuple(_fail_rows)},
            batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=num_workers),
            num_cpus=0 if num_gpus_per_worker else 1, num_gpus=num_gpus_per_worker or None,
        )
        for row in encoded.iter_rows():
            entry = {"index": int(row["shard"]), "name": str(row["name"]), "start": int(row["start"]),
                     "rows": int(row["rows"]), "sha256": str(row["sha256"]), "dim": int(row["dim"])}
            done[entry["index"]] = entry
            manifest["shards"] = list(done.values())
            manifest["latent_dim"] = entry["dim"]
            write_manifest(folder, manifest)
            if on_shard is not None:
                on_shard(entry)
    if len(done) != len(shards):
        raise RuntimeError(f"{len(shards) - len(done)} shards were not written; re-run to resume")
    manifest["complete"] = True
    write_manifest(folder, manifest)
    return ShardedStore(folder)
