"""The ``latentatlas edit`` subcommand: move latents along vectors at given strengths, and
decode them into a sheet or save them as a new latent store."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from ._common import (IMAGE_SUFFIXES, SPLIT_CHOICES, add_data_arguments, add_device_argument, add_model_argument,
                      add_parser, add_progress_argument, check_images_fit, check_indices, check_latent_dim,
                      check_output, float_list, int_list, load_dataset, load_model, load_store, name_list,
                      positive_int, print_written, split_rows)


def strength_spec(text: str) -> tuple[str | None, tuple[float, ...]]:
    """argparse type: ``-1,0,1`` (for every vector) or ``NAME=-1,0,1`` (for one vector)."""
    name, sep, values = text.rpartition("=")
    if sep and not name:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBERS or NUMBERS, got {text!r}")
    return (name if sep else None), float_list(values)


def register(subparsers: Any) -> None:
    """Add the ``edit`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "edit", help="apply vectors to images or latents at given strengths",
        description="Move latents z to z + sum_k s_k v_k along vectors from a vector file ('latentatlas "
                    "atvec', or the paper library's JSON). The latents are data-set images encoded by "
                    "--model, or rows of a --store. --strength LIST traverses each vector on its own at "
                    "each strength (one sheet row per image and vector); --strength NAME=LIST, given for "
                    "each vector, combines them (column a applies every vector at its a-th strength). "
                    "The output is an image sheet (.png, needs --model to decode; the first column shows "
                    "the input image when it comes from --data) or a new latent store (.npz, one "
                    "strength per vector, labels and split carried over).",
        examples=["latentatlas edit -m digits-vae --data digits --indices 0,1,2 --vectors v.npz --use centroid:3-8 "
                  "--strength -1,0,1,2 -o edit.png",
                  "latentatlas edit --store shapes.npz --vectors v.npz --strength large=1.5 --strength bright=-1 "
                  "-o edited.npz",
                  "latentatlas edit -m shapes-vae --data shapes --vectors v.npz --strength large=0,1,1 "
                  "--strength bright=0,0,1 -o combos.png"])
    p.add_argument("--vectors", required=True, type=Path, help="vector file (.npz from atvec, or JSON vectors)")
    p.add_argument("--use", type=name_list, metavar="NAME,NAME",
                   help="vectors to apply (default: those named in --strength, else all)")
    p.add_argument("--strength", type=strength_spec, action="append", required=True, metavar="[NAME=]S1,S2",
                   help="strengths: a list for every vector, or NAME=LIST per vector (repeat the option)")
    p.add_argument("--output", "-o", required=True, type=Path,
                   help=f"image sheet ({', '.join(IMAGE_SUFFIXES)}) or latent store (.npz)")
    g = p.add_argument_group("latents (images of --data encoded by --model, or rows of --store)")
    g.add_argument("--store", type=Path, help="latent store to edit")
    add_model_argument(g, required=False, help="model (shipped name or checkpoint folder): encodes --data, decodes sheets")
    g.add_argument("--indices", type=int_list, help="rows to edit (default: a sheet takes the first --count rows "
                                                   "of --split, a store every row of --split)")
    g.add_argument("--split", choices=SPLIT_CHOICES, help="split the default rows come from "
                                                          "(default valid for sheets, all for stores)")
    g.add_argument("--count", type=positive_int, default=4, help="rows in a sheet without --indices (default 4)")
    add_data_arguments(p, required=False)
    p.add_argument("--no-input", action="store_true", help="leave out the input-image column of a sheet")
    p.add_argument("--scale", type=positive_int, help="pixel upscaling of each image (default: at least 64 px)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per model call (default 256)")
    add_device_argument(p)
    add_progress_argument(p)
    p.set_defaults(handler=run)


def strength_groups(names: list[str], specs: list[tuple[str | None, tuple[float, ...]]]) -> list[tuple[str, Any]]:
    """The edits as ``(label, alphas (A, K))`` groups over the K vectors ``names``.

    One unnamed list: one group per vector, that vector alone at each strength. Named
    lists (one per vector; length 1 broadcasts): one group combining all vectors.
    """
    import numpy as np

    plain = [s for n, s in specs if n is None]
    named = {n: s for n, s in specs if n is not None}
    if plain and named:
        raise ValueError("--strength: give one list for every vector, or NAME=LIST for each vector, not both")
    if plain:
        if len(plain) > 1:
            raise ValueError("--strength: give one list for every vector (or NAME=LIST per vector)")
        groups = []
        for k, name in enumerate(names):
            alphas = np.zeros((len(plain[0]), len(names)))
            alphas[:, k] = plain[0]
            groups.append((name, alphas))
        return groups
    if len(named) != len([n for n, _ in specs]):
        raise ValueError("--strength: a vector is named twice")
    missing = [n for n in names if n not in named]
    extra = [n for n in named if n not in names]
    if missing or extra:
        raise ValueError(f"--strength: name every vector in use once; missing {missing}, not in use {extra}")
    length = max(len(s) for s in named.values())
    for n, s in named.items():
        if len(s) not in (1, length):
            raise ValueError(f"--strength {n}: {len(s)} strengths, but others have {length} (lists must match or be one value)")
    alphas = np.stack([np.broadcast_to(np.asarray(named[n], dtype=np.float64), (length,)) for n in names], axis=1)
    return [(" + ".join(names), alphas)]


def run(args: argparse.Namespace) -> int:
    """Apply the vectors and write the sheet or the store."""
    import numpy as np

    from .. import attributes, render, sampling
    from ..data import LatentStore, VectorSet

    to_store = args.output.suffix.lower() == ".npz"
    check_output(args.output, IMAGE_SUFFIXES + (".npz",))
    if not to_store and args.model is None:
        raise ValueError("an image sheet needs --model to decode the edited latents")
    if (args.store is None) == (args.data is None):
        raise ValueError("give --store or --data (with --model) as the latents to edit, one of them")
    if args.data is not None and args.model is None:
        raise ValueError("--data images are encoded by --model: give --model")
    try:
        vectors = VectorSet.load(args.vectors)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--vectors: {exc}") from None
    use = list(args.use) if args.use else [n for n, _ in args.strength if n is not None] or list(vectors.names)
    vectors = vectors.select(use)
    groups = strength_groups(vectors.names, args.strength)
    if to_store and (len(groups) != 1 or len(groups[0][1]) != 1):
        raise ValueError("a store edit applies one strength per vector: use one value, e.g. --strength 1.5, "
                         "for a single vector, or NAME=VALUE for each vector")
    model = load_model(args) if args.model is not None else None

    images = None
    if args.store is not None:
        source = load_store(args.store)
        split = source.split
    else:
        source = load_dataset(args)
        check_images_fit(model, source)
        split = source.split
    if args.indices is not None:
        rows = check_indices(args.indices, len(split), "the store" if args.store is not None else "the data set")
    else:
        rows = split_rows(split, args.split or ("all" if to_store else "valid"))
        rows = [int(r) for r in (rows if to_store else rows[:args.count])]
    if args.store is not None:
        z = source.latents[rows]
    else:
        images = source.images[rows]
        z = sampling.encode_batched(model, images, batch_size=args.batch_size)
    where = "the store" if args.store is not None else "the encoded data"
    if model is not None:
        check_latent_dim(z.shape[1], model.latent_dim, f"the latents of {where}", f"the model {args.model!r}")
    check_latent_dim(vectors.latent_dim, z.shape[1], "the vectors", where)

    edited = [attributes.traverse(z, vectors.vectors, alphas) for _, alphas in groups]  # each (N, A, D)
    if to_store:
        moved = edited[0][:, 0]
        labels = source.labels[rows]
        classes = None if source.classes is None else source.classes[rows]
        provenance = dict(getattr(source, "provenance", {}) or {})
        provenance["edit"] = {"vectors": str(args.vectors), "names": vectors.names,
                              "strengths": groups[0][1][0].tolist(), "rows": len(rows),
                              "command": "latentatlas " + shlex.join(getattr(args, "argv", []) or [])}
        store = LatentStore(moved, labels, list(source.label_names), np.asarray(split)[rows], classes, provenance)
        written = [store.save(args.output)]
        print(f"moved {len(rows)} latents by " + " + ".join(f"{a:g}·{n}" for n, a in zip(vectors.names, groups[0][1][0])))
    else:
        n, a = len(rows), groups[0][1].shape[0]
        cells = np.stack(edited, axis=1)  # (N, G, A, D): one sheet row per image and group
        decoded = sampling.decode_batched(model, cells, batch_size=args.batch_size)  # (N, G, A, C, H, W)
        show_input = images is not None and not args.no_input
        if show_input:
            if decoded.shape[3:] != images.shape[1:]:
                raise ValueError(f"the model decodes {decoded.shape[3:]} images but the inputs are {images.shape[1:]}")
            inputs = np.broadcast_to(images[:, None, None], (n, len(groups), 1) + images.shape[1:])
            decoded = np.concatenate([inputs, decoded], axis=2)
        cols = decoded.shape[2]
        plain = any(name is None for name, _ in args.strength)
        col_labels = (["input"] if show_input else []) + [
            ", ".join(f"{v:+g}" for v in (groups[0][1][j] if not plain else groups[0][1][j, :1])) for j in range(a)]
        row_labels = [f"{r}: {label}" for r in rows for label, _ in groups]
        sheet = render.image_sheet(decoded.reshape((-1,) + decoded.shape[3:]), n * len(groups), cols,
                                   scale=args.scale, row_labels=row_labels, col_labels=col_labels)
        written = [render.save_image(sheet, args.output)]
        print(f"edited {n} row(s) with {len(vectors)} vector(s) at {a} strength(s): "
              f"{'each vector on its own' if plain else 'vectors combined'}")
    print_written(written)
    return 0
