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
                  "--image-size 64 --output celeba.npz --json celeba-latents.json"])
    add_model_argument(p)
    add_data_arguments(p, required=True)
    p.add_argument("--output", "-o", required=True, type=Path, help="latent store to write (.npz)")
    p.add_argument("--json", type=Path, help="also write the latents as the paper library's JSON (a list of lists)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per encoder call (default 256)")
    add_device_argument(p)
    add_progress_argument(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Encode and save; prints the store's size, its splits and the paths written."""
    from ..data import encode_dataset

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
