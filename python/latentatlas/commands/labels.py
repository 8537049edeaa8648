"""The ``latentatlas labels`` subcommand: the 2×2 breakdown of pairs of binary labels (the
paper's Tables 1 and 2) and the ranking of every pair by |phi|, from a data set's labels
(CelebA's attribute file alone, without its images) or a latent store's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import (SPLIT_CHOICES, add_data_arguments, add_parser, check_output, load_dataset, load_store,
                      name_list, positive_int, print_written, split_rows)


def register(subparsers: Any) -> None:
    """Add the ``labels`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "labels", help="label tables: 2x2 breakdowns of attribute pairs and the most correlated pairs",
        description="Print the breakdown of two binary labels as percentages of the whole with row and "
                    "column totals, phi and the odds ratio (the layout of the paper's Tables 1 and 2), "
                    "for each --pair, and with --top N the N most correlated pairs ranked by |phi| with "
                    "their tables. The labels come from a latent store (--store) or a data set (--data; "
                    "for celeba only list_attr_celeba.txt and, for --split, list_eval_partition.txt are "
                    "read, not the images).",
        examples=["latentatlas labels --data celeba --data-root ~/data/celeba --pair Smiling,Male",
                  "latentatlas labels --data celeba --data-root ~/data/celeba --top 10 --json pairs.json",
                  "latentatlas labels --data shapes --n 4000 --pair large,bright --top 5",
                  "latentatlas labels --store shapes.npz --split train --top 3"])
    p.add_argument("--store", type=Path, help="latent store from 'latentatlas encode' (its labels)")
    add_data_arguments(p, required=False)
    p.add_argument("--pair", type=name_list, action="append", metavar="A,B",
                   help="two attributes to tabulate (repeatable)")
    p.add_argument("--top", type=positive_int, metavar="N", help="rank every pair by |phi| and show the first N")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="all", help="rows to count (default all)")
    p.add_argument("--json", type=Path, help="also write the tables as JSON")
    p.set_defaults(handler=run)


def _celeba_labels(args: argparse.Namespace) -> tuple[Any, list[str], Any]:
    """CelebA's labels (and split, when asked for) from its text files, without images."""
    import numpy as np

    from ..data.celeba import parse_attr_file, parse_partition_file

    if args.data_root is None:
        raise ValueError("--data celeba needs --data-root")
    root = Path(args.data_root)
    if not root.is_dir():
        raise ValueError(f"CelebA folder {str(root)!r} does not exist")
    filenames, names, labels = parse_attr_file(root / "list_attr_celeba.txt")
    if args.limit is not None:
        filenames, labels = filenames[:args.limit], labels[:args.limit]
    split = None
    if args.split != "all":
        partition = parse_partition_file(root / "list_eval_partition.txt")
        missing = [f for f in filenames if f not in partition]
        if missing:
            raise ValueError(f"list_eval_partition.txt has no entry for {len(missing)} images, e.g. {missing[0]!r}")
        split = np.array([partition[f] for f in filenames])
    return labels, names, split


def _labels(args: argparse.Namespace) -> tuple[Any, list[str], str]:
    """``(labels of the chosen split, names, source description)``."""
    if (args.store is None) == (args.data is None):
        raise ValueError("give either --store or --data")
    if args.store is not None:
        store = load_store(args.store)
        labels, names, split, source = store.labels, list(store.label_names), store.split, str(args.store)
    elif args.data == "celeba":
        labels, names, split = _celeba_labels(args)
        source = f"celeba at {args.data_root}"
    else:
        ds = load_dataset(args)
        labels, names, split, source = ds.labels, list(ds.label_names), ds.split, ds.name
    if args.split != "all":
        labels = labels[split_rows(split, args.split)]
    if not names:
        raise ValueError(f"{source} has no labels")
    return labels, names, source


def run(args: argparse.Namespace) -> int:
    """Print the tables; write them as JSON with --json."""
    from .. import attributes

    if not args.pair and args.top is None:
        raise ValueError("give --pair A,B (repeatable) and/or --top N")
    for pair in args.pair or ():
        if len(pair) != 2:
            raise ValueError(f"--pair takes two attributes, got {','.join(pair)!r}")
    if args.json is not None:
        check_output(args.json, (".json",), "--json")
    labels, names, source = _labels(args)
    for pair in args.pair or ():
        for a in pair:
            if a not in names:
                raise ValueError(f"--pair: unknown attribute {a!r}; the label names are {', '.join(names)}")
    print(f"labels of {source}: {len(labels)} rows ({args.split}), {len(names)} attributes")
    record: dict[str, Any] = {"source": source, "split": args.split, "rows": int(len(labels)), "pairs": [],
                              "ranking": []}
    for a, b in args.pair or ():
        table = attributes.label_table(labels, a, b, label_names=names)
        print()
        print(table.format())
        record["pairs"].append(table.to_dict())
    if args.top is not None:
        if len(names) < 2:
            raise ValueError("--top needs at least two attributes")
        ranked = attributes.correlated_pairs(labels, names, top=args.top)
        total = len(names) * (len(names) - 1) // 2
        print(f"\nthe {len(ranked)} most correlated of {total} pairs, by |phi|:")
        width = max(len(f"{t.a} x {t.b}") for t in ranked)
        for i, t in enumerate(ranked, 1):
            odds = f"{t.odds_ratio:.3g}" if t.odds_ratio == t.odds_ratio else "undefined"
            print(f"  {i:3d}. {f'{t.a} x {t.b}':{width}s}  phi {t.phi:+.3f}  odds ratio {odds:>9s}  "
                  f"both {100 * t.fractions[0][0]:5.1f}%  only {t.a} {100 * t.fractions[0][1]:5.1f}%  "
                  f"only {t.b} {100 * t.fractions[1][0]:5.1f}%  neither {100 * t.fractions[1][1]:5.1f}%")
        record["ranking"] = [t.to_dict() for t in ranked]
    if args.json is not None:
        from .._files import atomic_open

        with atomic_open(args.json, "w") as fh:
            fh.write(json.dumps(record, indent=2, allow_nan=False))
        print_written([args.json])
    return 0
