"""The ``latentatlas demo`` subcommand: the paper's and the blog's figures on the shipped
models into an HTML report (the work is :func:`latentatlas.report.run_demo`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_parser, print_written


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "demo", help="reproduce the paper's and the blog's figures on the shipped models into an HTML report",
        description="Reproduce every figure and table of 'Sampling Generative Networks' and the class-centroid "
                    "blog post that the bundled data allows, on the shipped checkpoints, into DIR/index.html "
                    "(with DIR/results.json). No network needed; under a minute on two cores (--fast: ~20 s).",
        examples=["latentatlas demo --out demo", "latentatlas demo --out /tmp/quick --fast --seed 1"])
    p.add_argument("--out", required=True, metavar="DIR", help="report folder (created if needed)")
    p.add_argument("--fast", action="store_true", help="smaller samples and grids, every section kept (for CI)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random draw (default 0)")
    p.add_argument("--device", default="cpu", help="torch device for the models: cpu, cuda, auto (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; prints every file written and the page to open."""
    from ..report import run_demo

    report = run_demo(args.out, fast=args.fast, seed=args.seed, device=args.device,
                      stream=None if args.quiet else sys.stderr)
    print_written(report["files"])
    print(f"open {report['index']}")
    return 0
