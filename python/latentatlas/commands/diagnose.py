"""The ``latentatlas diagnose`` subcommand: how far a model's encodings sit from its prior
(the paper's section 4), printed, written as JSON and drawn."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import (SPLIT_CHOICES, add_data_arguments, add_device_argument, add_model_argument, add_parser,
                      check_images_fit, check_latent_dim, load_dataset, load_model, load_store, make_output_dir,
                      positive_int, print_written, split_rows)


def _fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``diagnose`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "diagnose", help="how far the encodings sit from the prior: KS, active units, norms, MMD, "
                                     "off-manifold probability",
        description="Measure how far a model's encodings of a data set deviate from its prior: per-dimension "
                    "KS statistics against the prior's marginal, active units (dimensions whose encoded "
                    "means vary by more than --active-threshold of the prior's variance), the norm "
                    "distribution against the prior's (chi for a Gaussian prior), MMD² against prior samples "
                    "with a permutation p-value, and the off-manifold probability: the fraction of prior "
                    "samples farther from every encoding than the --q quantile of the encodings' "
                    "nearest-neighbour distances (1 - q when there is no gap). Prints the report and writes "
                    "report.json, dims.png, norms.png and off_manifold.png into --out.",
        examples=["latentatlas diagnose --model digits-vae --data digits --out gap-vae",
                  "latentatlas diagnose --model digits-gan --data digits --out gap-gan --compare gap-vae/report.json",
                  "latentatlas diagnose --store shapes.npz --prior gaussian --split test --q 0.95 --out gap"])
    g = p.add_argument_group("encodings (a store, or a model and a data set to encode)")
    g.add_argument("--store", type=Path, help="latent store from 'latentatlas encode'")
    add_model_argument(g, required=False, help="model (shipped name or checkpoint folder): its prior, and the "
                                               "encoder for --data")
    g.add_argument("--prior", choices=("gaussian", "uniform"), help="the prior when no --model is given")
    g.add_argument("--split", choices=SPLIT_CHOICES, default="all", help="rows to measure (default all)")
    add_data_arguments(p, required=False)
    s = p.add_argument_group("statistics")
    s.add_argument("--q", type=_fraction, default=0.99, help="off-manifold quantile (default 0.99)")
    s.add_argument("--permutations", type=positive_int, default=200, help="MMD permutations (default 200)")
    s.add_argument("--mmd-points", type=positive_int, default=1000,
                   help="encodings (and prior samples) in the MMD test (default 1000)")
    s.add_argument("--active-threshold", type=float, default=0.01,
                   help="active unit: variance of the encoded means above this fraction of the prior's "
                        "(default 0.01, Burda et al. 2016)")
    p.add_argument("--out", required=True, type=Path, help="folder for report.json and the plots")
    p.add_argument("--no-plots", action="store_true", help="write only report.json")
    p.add_argument("--compare", type=Path, metavar="REPORT_JSON",
                   help="another run's report.json: print both side by side and write comparison.json")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior samples and permutations (default 0)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="images per encoder call (default 256)")
    add_device_argument(p)
    p.set_defaults(handler=run)


def _encodings(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """``(latents, prior name or model, label)``."""
    from .. import sampling

    model = load_model(args) if args.model is not None else None
    if model is None and args.prior is None:
        raise ValueError("give --model (its prior is used) or --prior")
    if model is not None and args.prior is not None and args.prior != model.prior:
        raise ValueError(f"--prior {args.prior} contradicts the model's prior ({model.prior})")
    if args.store is not None:
        if args.data is not None:
            raise ValueError("give --store or --data, not both")
        store = load_store(args.store)
        if model is not None:
            check_latent_dim(store.latent_dim, model.latent_dim, "the store's latents", f"the model {args.model!r}")
        z, split, source = store.latents, store.split, str(args.store)
    elif args.data is not None:
        if model is None:
            raise ValueError("--data is encoded with --model: give --model")
        if not callable(getattr(model, "encode", None)):
            raise ValueError(f"the model {args.model!r} has no encoder")
        dataset = load_dataset(args)
        check_images_fit(model, dataset)
        z = sampling.encode_batched(model, dataset.images, batch_size=args.batch_size)
        split, source = dataset.split, dataset.name
    else:
        raise ValueError("give --store, or --model and --data")
    rows = split_rows(split, args.split)
    label = f"{args.model or 'encodings'} on {source}" + ("" if args.split == "all" else f" ({args.split})")
    return z[rows], (model if model is not None else args.prior), label


def run(args: argparse.Namespace) -> int:
    """Measure, print, write report.json and the plots."""
    from .. import diagnostics

    if not (args.active_threshold >= 0 and args.active_threshold < float("inf")):
        raise ValueError(f"--active-threshold must be a non-negative number, got {args.active_threshold}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    other = diagnostics.PriorGapReport.load(args.compare) if args.compare is not None else None
    out = make_output_dir(args.out)
    z, prior, label = _encodings(args)
    if len(z) < 10:
        raise ValueError(f"the prior gap needs at least 10 encodings, got {len(z)}")
    report = diagnostics.prior_gap(z, prior, seed=args.seed, q=args.q, n_permutations=args.permutations,
                                   mmd_points=max(2, args.mmd_points), active_threshold=args.active_threshold,
                                   label=label)
    print(report.summary())
    written = [report.save(out / "report.json")]
    if not args.no_plots:
        written += list(diagnostics.draw_report(report, z, out).values())
    if other is not None:
        names = [report.label, other.label if other.label and other.label != report.label else str(args.compare)]
        comparison = diagnostics.compare(report, other, names=names)
        print()
        print(diagnostics.format_comparison(comparison))
        from .._files import atomic_open

        with atomic_open(out / "comparison.json", "w") as fh:
            fh.write(json.dumps(comparison, indent=2, allow_nan=False))
        written.append(out / "comparison.json")
    print_written(written)
    return 0
