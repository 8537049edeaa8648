"""The ``latentatlas quality`` subcommand: the quality bars of the shipped checkpoints
(the work is :func:`latentatlas.models.quality.evaluate_shipped`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import add_parser, positive_int


def register(subparsers: Any) -> None:
    """Add the ``quality`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "quality", help="check the shipped checkpoints against their quality bars",
        description="Score the shipped checkpoints and print the report as JSON: a logistic regression trained "
                    "on the real training digits classifies digits-vae's and digits-gan's reconstructions of the "
                    "test digits (and its confidence on prior samples); factors measured back from shapes-vae's "
                    "reconstructions of fresh shapes correlate with the truth. Exits 1 when a bar is missed.",
        examples=["latentatlas quality", "latentatlas quality --sheets /tmp/quality"])
    p.add_argument("--sheets", type=Path, metavar="DIR",
                   help="also write sample and reconstruction sheets (PNG) into this folder")
    p.add_argument("--n-shapes", type=positive_int, default=2000,
                   help="fresh shapes images to score (default 2000)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the quality report as JSON; 1 when a model misses its bar."""
    from ..models.quality import evaluate_shipped

    if args.sheets is not None:
        args.sheets.mkdir(parents=True, exist_ok=True)
    report = evaluate_shipped(sheet_dir=args.sheets, n_shapes=args.n_shapes)
    print(json.dumps(report, indent=2))
    return 0 if all(v.get("passes", True) for v in report.values() if isinstance(v, dict)) else 1
