"""The ``latentatlas classify`` subcommand: the AtDot table (attribute vectors as
classifiers, beside logistic regression and a linear SVM) with ROC and histogram plots."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from ._common import (SPLIT_CHOICES, add_parser, load_store, make_output_dir, name_list, positive_int,
                      print_written, split_rows)

COLUMNS = ("attribute", "atdot", "auc", "logistic", "linear_svm", "majority")


def register(subparsers: Any) -> None:
    """Add the ``classify`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "classify", help="AtDot: attribute vectors as classifiers, with ROC and histograms",
        description="Fit AtDot classifiers (each attribute's vector, a dot product and the threshold that "
                    "is most accurate on the training rows) and compare their test accuracy with a "
                    "logistic regression and a linear SVM on the same latents (the paper's Table 3). "
                    "Prints the table and writes it as CSV and JSON, with a ROC curve and the "
                    "positive/negative score histograms of each attribute on the test rows.",
        examples=["latentatlas classify --store digits-vae.npz --out atdot/",
                  "latentatlas classify --store shapes.npz --attributes large,bright --balance large,bright "
                  "--test-split valid --out atdot/"])
    p.add_argument("--store", required=True, type=Path, help="latent store from 'latentatlas encode'")
    p.add_argument("--out", required=True, type=Path, help="folder for atdot.csv, atdot.json and the plots")
    p.add_argument("--attributes", type=name_list, metavar="A,B", help="attributes to classify (default all)")
    p.add_argument("--balance", type=name_list, metavar="A,B",
                   help="use vectors balanced over these attributes by replication (see atvec)")
    p.add_argument("--train-split", choices=SPLIT_CHOICES, default="train", help="rows to fit on (default train)")
    p.add_argument("--test-split", choices=SPLIT_CHOICES, default="test", help="rows to evaluate on (default test)")
    p.add_argument("--bins", type=positive_int, default=40, help="histogram bins (default 40)")
    p.add_argument("--no-plots", action="store_true", help="write only the table")
    p.add_argument("--seed", type=int, default=0, help="seed of the logistic regression and SVM (default 0)")
    p.set_defaults(handler=run)


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "attribute"


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(["" if r[c] is None else (r[c] if c == "attribute" else f"{r[c]:.6g}") for c in COLUMNS])
    return buf.getvalue()


def run(args: argparse.Namespace) -> int:
    """Fit, evaluate, print the table, write the files."""
    import numpy as np

    from .. import atdot, plots
    from .._files import atomic_open

    store = load_store(args.store)
    names = list(store.label_names)
    wanted = list(args.attributes or names)
    for a in wanted + list(args.balance or ()):
        if a not in names:
            raise ValueError(f"unknown attribute {a!r}; the label names are {', '.join(names)}")
    if args.balance and not set(args.balance) <= set(wanted):
        raise ValueError("--balance attributes must be among --attributes")
    train, test = split_rows(store.split, args.train_split), split_rows(store.split, args.test_split)
    cols = [names.index(a) for a in wanted]
    zt, yt = store.latents[train].astype(np.float64), store.labels[train][:, cols]
    zs, ys = store.latents[test].astype(np.float64), store.labels[test][:, cols]
    out = make_output_dir(args.out)
    table = atdot.accuracy_table(zt, yt, zs, ys, label_names=wanted, balance=args.balance, seed=args.seed)
    model = atdot.AtDot().fit(zt, yt, label_names=wanted, balance=args.balance)
    scores = model.scores(zs)
    written: list[Any] = []
    with atomic_open(out / "atdot.csv", "w") as fh:
        fh.write(_csv(table))
    written.append(out / "atdot.csv")
    record = {"table": table, "store": str(args.store), "train_split": args.train_split, "train_rows": int(len(train)),
              "test_split": args.test_split, "test_rows": int(len(test)), "balance": list(args.balance or []),
              "thresholds": dict(zip(wanted, model.thresholds.tolist())), "seed": args.seed}
    with atomic_open(out / "atdot.json", "w") as fh:
        json.dump(record, fh, indent=2)
    written.append(out / "atdot.json")
    skipped = []
    for k, name in enumerate(wanted if not args.no_plots else []):
        labels = ys[:, k]
        if labels.min() == labels.max():
            skipped.append(name)
            continue
        fpr, tpr, _ = atdot.roc_curve(scores[:, k], labels)
        auc = table[k]["auc"]
        written.append(plots.roc_plot({f"{name} (AUC {auc:.3f})": (fpr, tpr)}, out / f"roc_{_file_name(name)}.png",
                                      title=f"AtDot ROC: {name}"))
        edges, pos, neg = atdot.score_histogram(scores[:, k], labels, bins=args.bins)
        written.append(plots.histogram_plot(edges, {f"{name}": pos, f"not {name}": neg},
                                            out / f"hist_{_file_name(name)}.png", threshold=float(model.thresholds[k]),
                                            title=f"AtDot scores: {name}"))
    print(f"AtDot on {args.store}: fitted on {len(train)} {args.train_split} rows, tested on {len(test)} "
          f"{args.test_split} rows (accuracy and majority in %)")
    print(atdot.format_table(table))
    if skipped:
        print(f"no ROC or histogram for {', '.join(skipped)}: the {args.test_split} rows hold one class only")
    print_written(written)
    return 0
