"""The ``latentatlas encode`` subcommand: a data set through a model's encoder into a latent store."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from ._common import (add_data_arguments, add_device_argument, add_model_argument, add_parser,
                      add_progress_argument, check_images_fit, check_output, load_dataset, load_model,
                      positive_int, print_written, progress)


def register(subparsers: Any) -> None:
    """Add the ``encode`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "encode", help="encode a data set into a latent store (.npz)",
        description="Encode every image of a data set with a model's encoder (the posterior mean for a VAE) "
                    "and write a latent store: the latents with the data set's labels, label names, "
                    "train/valid/test split and classes, plus a provenance record. Other commands "
                    "(sample, atvec, classify, edit) read it with --store.",
        examples=["latentatlas encode --model digits-vae --data digits --output digits-vae.npz",
                  "latentatlas encode --model runs/celeba-vae --data celeba --data-root ~/data/celeba "
                  "--image-size 64 --output celeba.npz --json celeba-latents.json",
                  "latentatlas encode --model runs/celeba-vae --data celeba --data-root ~/data/celeba "
                  "--output celeba-shards --ray auto --shard-size 8192 --gpus-per-worker 1"])
    add_model_argument(p)
    add_data_arguments(p, required=True)
    p.add_argument("--output", "-o", required=True, type=Path,
                   help="latent store to write (.npz); with --ray, the sharded store's folder")
    p.add_argument("--json", type=Path, help="also write the latents as the paper library's JSON (a list of lists)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per encoder call (default 256)")
    g = p.add_argument_group("on a Ray cluster (pip install 'latentatlas[ray]')")
    g.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="encode on Ray Data actors into a sharded store folder (--output), resuming one "
                        "already there; ADDRESS of the cluster (e.g. auto or ray://host:10001), "
                        "omitted: a local cluster")
    g.add_argument("--shard-size", type=positive_int, default=4096, help="rows per shard file (default 4096)")
    g.add_argument("--workers", type=positive_int, help="encoder actors (default: one per CPU, or per GPU)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs each actor reserves (default 0)")
    add_device_argument(p)
    add_progress_argument(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Encode and save; prints the store's size, its splits and the paths written."""
    from ..data import encode_dataset

    if args.ray is not None:
        return run_ray(args)
    check_output(args.output, (".npz",))
    if args.json is not None:
        check_output(args.json, (".json",), "--json")
    model = load_model(args)
    if not getattr(model, "has_encoder", True):
        raise ValueError(f"the model {args.model!r} ({type(model).__name__}) has no encoder")
    dataset = load_dataset(args)
    check_images_fit(model, dataset)
    store = encode_dataset(model, dataset, batch_size=args.batch_size, progress=progress(args))
    store.provenance["model_name"] = str(args.model)
    store.provenance["command"] = "latentatlas " + shlex.join(getattr(args, "argv", []) or [])
    written = [store.save(args.output)]
    if args.json is not None:
        written.append(store.to_json(args.json))
    splits = ", ".join(f"{s} {int((store.split == s).sum())}" for s in ("train", "valid", "test"))
    print(f"encoded {len(store)} {dataset.name} images with {args.model}: latents {tuple(store.latents.shape)}, "
          f"{len(store.label_names)} labels, splits: {splits}")
    print_written(written)
    return 0


def _source(args: argparse.Namespace) -> Any:
    """What the workers read: a lazy source for files on disk, else the loaded data set."""
    from .. import distributed

    if args.data in ("digits", "shapes"):
        return load_dataset(args)
    if args.data_root is None:
        raise ValueError(f"--data {args.data} needs --data-root")
    if args.data == "mnist":
        return distributed.mnist_source(args.data_root, seed=args.data_seed)
    if args.data == "celeba":
        return distributed.celeba_source(args.data_root, size=args.image_size or 64, limit=args.limit)
    if args.labels_csv is None:
        raise ValueError("--data folder needs --labels-csv")
    return distributed.folder_source(args.data_root, args.labels_csv, size=args.image_size, seed=args.data_seed)


def run_ray(args: argparse.Namespace) -> int:
    """``encode --ray``: Ray Data actors write a sharded store folder (resumable)."""
    from .. import distributed

    if args.json is not None:
        raise ValueError("--json is not available with --ray (export the sharded store instead)")
    if args.output.suffix.lower() == ".npz" or (args.output.exists() and not args.output.is_dir()):
        raise ValueError(f"--output {str(args.output)!r}: with --ray the output is a folder (the sharded store)")
    if not args.output.resolve().parent.is_dir():
        raise ValueError(f"--output {str(args.output)!r}: directory {str(args.output.resolve().parent)!r} does not exist")
    if args.gpus_per_worker < 0:
        raise ValueError(f"--gpus-per-worker must be >= 0, got {args.gpus_per_worker}")
    source = _source(args)
    device = None if args.device == "auto" else args.device
    shards = []
    store = distributed.encode(str(args.model), source, output_dir=args.output, batch_size=args.batch_size,
                               shard_size=args.shard_size, num_workers=args.workers,
                               num_gpus_per_worker=args.gpus_per_worker, device=device,
                               address=args.ray or None, on_shard=shards.append)
    print(f"encoded {len(store)} rows with {args.model} on Ray into {store.num_shards} shards "
          f"({len(shards)} written by this run, {store.num_shards - len(shards)} kept), latent_dim {store.latent_dim}")
    print_written([args.output / "manifest.json"])
    return 0
