"""The ``latentatlas atvec`` subcommand: attribute vectors (mean difference, balanced,
synthetic) and the blog's class-centroid vectors, to a vector file."""

from __future__ import annotations

import argparse
import shlex
import warnings
from pathlib import Path
from typing import Any

from ._common import (SPLIT_CHOICES, add_data_arguments, add_device_argument, add_model_argument, add_parser,
                      add_progress_argument, check_images_fit, check_latent_dim, check_output, load_dataset,
                      load_model, load_store, name_list, positive_int, print_written, split_rows)

AUGMENTS = ("blur", "brightness", "noise")


def register(subparsers: Any) -> None:
    """Add the ``atvec`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "atvec", help="attribute vectors: mean difference, balanced, synthetic, class centroids",
        description="Compute latent-space vectors from labelled latents and write them to a vector file "
                    "(.npz: vectors, names and how they were made; --json also writes the paper library's "
                    "JSON). Kinds, combinable in one file: mean difference per attribute (named after the "
                    "attribute; all attributes when no other kind is asked for), bias-corrected by "
                    "replication over --balance attributes ('balanced:NAME'), synthetic from data "
                    "augmentation through the model ('synthetic:blur'), and the blog's centroid vectors "
                    "mean(class a) - mean(class b) for every pair a < b ('centroid:a-b').",
        examples=["latentatlas atvec --store digits-vae.npz -o digit-vectors.npz --json digit-vectors.json",
                  "latentatlas atvec --store shapes.npz --attributes large --balance large,bright -o v.npz",
                  "latentatlas atvec --model shapes-vae --data shapes --n 2000 --augment blur -o blur.npz",
                  "latentatlas atvec --store digits-vae.npz --centroids -o centroids.npz"])
    g = p.add_argument_group("latents (a store, or a model and a data set to encode)")
    g.add_argument("--store", type=Path, help="latent store from 'latentatlas encode'")
    add_model_argument(g, required=False, help="model (shipped name or checkpoint folder): encodes --data when no "
                                               "--store is given; needed for --augment")
    g.add_argument("--split", choices=SPLIT_CHOICES, default="train",
                   help="rows the vectors are computed from (default train)")
    add_data_arguments(p, required=False)
    k = p.add_argument_group("vectors")
    k.add_argument("--attributes", type=name_list, metavar="A,B", help="mean-difference vectors of these attributes")
    k.add_argument("--balance", type=name_list, metavar="A,B",
                   help="vectors of these attributes balanced over all their combinations by replication")
    k.add_argument("--drop-empty", action="store_true",
                   help="with --balance, balance over the non-empty combinations instead of failing")
    k.add_argument("--augment", type=name_list, metavar="KIND",
                   help=f"synthetic vectors: encoded augmented images minus encoded images ({', '.join(AUGMENTS)})")
    k.add_argument("--centroids", action="store_true", help="class-centroid vectors for every pair of classes")
    p.add_argument("--output", "-o", required=True, type=Path, help="vector file to write (.npz)")
    p.add_argument("--json", type=Path, help="also write the vectors as the paper library's JSON (list of lists)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise augmentation (default 0)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per encoder call (default 256)")
    add_device_argument(p)
    add_progress_argument(p)
    p.set_defaults(handler=run)


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """``(store, model, dataset)``: the labelled latents (a store, or the data set encoded) and,
    where given, the model and the data set."""
    from .. import sampling
    from ..data import LatentStore

    if args.augment and (args.model is None or args.data is None):
        raise ValueError("--augment encodes augmented images: it needs --model and --data")
    model = load_model(args) if args.model is not None else None
    dataset = load_dataset(args) if args.data is not None else None
    if model is not None and dataset is not None:
        check_images_fit(model, dataset)
    if args.store is not None:
        store = load_store(args.store)
        if model is not None:
            check_latent_dim(store.latent_dim, model.latent_dim, "the store's latents", f"the model {args.model!r}")
    elif model is not None and dataset is not None:
        z = sampling.encode_batched(model, dataset.images, batch_size=args.batch_size)
        store = LatentStore(z, dataset.labels, list(dataset.label_names), dataset.split, dataset.classes)
    else:
        raise ValueError("give --store, or --model and --data")
    return store, model, dataset


def _attribute_columns(names: list[str], wanted: tuple[str, ...], option: str) -> list[int]:
    for a in wanted:
        if a not in names:
            raise ValueError(f"{option}: unknown attribute {a!r}; the label names are {', '.join(names)}")
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"{option}: attributes must be distinct")
    return [names.index(a) for a in wanted]


def _print_breakdowns(y: Any, names: list[str], balance: tuple[str, ...], *, empty: str) -> None:
    """The label table of every pair of the --balance attributes, before and after replication."""
    import itertools

    from .. import attributes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cell was reported above
        weights, _ = attributes.balance_weights(y, list(balance), label_names=names, empty=empty)
    for a, b in itertools.combinations(balance, 2):
        for when, w in (("before", None), ("after", weights)):
            print(f"{a} x {b}, {when} replication:")
            print(attributes.label_table(y, a, b, label_names=names, weights=w).format())


def run(args: argparse.Namespace) -> int:
    """Compute the requested vectors and write them; prints one line per vector."""
    import numpy as np

    from .. import attributes
    from ..data import VectorSet

    check_output(args.output, (".npz",))
    if args.json is not None:
        check_output(args.json, (".json",), "--json")
    for a in args.augment or ():
        if a not in AUGMENTS:
            raise ValueError(f"--augment: unknown augmentation {a!r}; choose from {', '.join(AUGMENTS)}")
    store, model, dataset = _inputs(args)
    rows = split_rows(store.split, args.split)
    z, y, names = store.latents[rows], store.labels[rows], list(store.label_names)
    wanted = args.attributes
    if wanted is None and not (args.balance or args.augment or args.centroids):
        wanted = tuple(names)
    vectors: list[Any] = []
    out_names: list[str] = []
    kinds: dict[str, dict[str, Any]] = {}

    def add(name: str, vector: Any, **kind: Any) -> None:
        vectors.append(np.asarray(vector, dtype=np.float64))
        out_names.append(name)
        kinds[name] = kind

    if wanted:
        cols = _attribute_columns(names, wanted, "--attributes")
        for name, col, v in zip(wanted, cols, attributes.mean_difference(z, y[:, cols], label_names=list(wanted))):
            add(name, v, kind="mean_difference", positives=int(y[:, col].sum()), negatives=int(len(y) - y[:, col].sum()))
    if args.balance:
        _attribute_columns(names, args.balance, "--balance")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                balanced = attributes.balanced(z, y, list(args.balance), label_names=names,
                                               empty="drop" if args.drop_empty else "error")
            except ValueError as exc:  # name the command-line option, not the keyword argument
                raise ValueError(str(exc).replace("pass empty='drop'", "pass --drop-empty")) from None
        for w in caught:
            print(f"note: {w.message}")
        _print_breakdowns(y, names, args.balance, empty="drop" if args.drop_empty else "error")
        for name, v in zip(args.balance, balanced):
            add(f"balanced:{name}", v, kind="balanced", attribute=name, over=list(args.balance))
    for aug in args.augment or ():
        images = dataset.images[split_rows(dataset.split, args.split)]
        extra = {"seed": args.seed} if aug == "noise" else {}
        add(f"synthetic:{aug}", attributes.synthetic(model, images, aug, batch_size=args.batch_size, **extra),
            kind="synthetic", augment=aug, images=int(len(images)), **extra)
    if args.centroids:
        if store.classes is None:
            raise ValueError("--centroids needs class ids; this data has none (digits and MNIST have them)")
        for (a, b), v in attributes.centroid_vectors(z, store.classes[rows]).items():
            add(f"centroid:{a}-{b}", v, kind="centroid", minuend=a, subtrahend=b)
    provenance = {
        "kinds": kinds,
        "source": {"store": str(args.store)} if args.store is not None else {"model": args.model, "data": args.data},
        "split": args.split,
        "rows": int(len(rows)),
        "command": "latentatlas " + shlex.join(getattr(args, "argv", []) or []),
    }
    vs = VectorSet(np.stack(vectors), out_names, provenance)
    written = [vs.save(args.output)]
    if args.json is not None:
        written.append(vs.to_json(args.json))
    print(f"{len(vs)} vector(s) of size {vs.latent_dim} from {len(rows)} {args.split} rows:")
    for name, v in zip(vs.names, vs.vectors):
        print(f"  {name:24s} {kinds[name]['kind']:16s} norm {np.linalg.norm(v):.4g}")
    print_written(written)
    return 0
