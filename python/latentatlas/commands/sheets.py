"""The ``latentatlas sheets`` subcommand: the paper's section-2 pictures for one model on
the bundled digits, into a folder (the work is :func:`latentatlas.sheets.render_paper_sheets`).
``latentatlas sample`` draws each of these pictures alone, with every option."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_model_argument, add_parser, print_written


def register(subparsers: Any) -> None:
    """Add the ``sheets`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "sheets", help="the paper's pictures for one model on the bundled digits, into a folder",
        description="Write the paper's section-2 pictures for a model on the bundled digits into DIR: "
                    "J-Diagrams of the first three validation digits (slerp and lerp), a MINE grid of the "
                    "held-out encodings, lerp-vs-slerp strips between prior samples and between encodings, "
                    "prior samples, the inverse-CDF prior grid and a slerp walk as a GIF.",
        examples=["latentatlas sheets --model digits-vae --out sheets",
                  "latentatlas sheets --model digits-gan --out gan-sheets --rows 9 --cols 9 --seed 1"])
    add_model_argument(p, help="a model of the digits: digits-vae, digits-gan or a checkpoint folder")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--rows", type=int, default=7, help="J-Diagram rows (default 7)")
    p.add_argument("--cols", type=int, default=7, help="J-Diagram columns (default 7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior samples (default 0)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the model and the digits, write the sheets, print each path written."""
    from .. import data, models
    from ..sheets import render_paper_sheets

    model = models.load(args.model)
    written = render_paper_sheets(model, data.load_digits(), args.out, rows=args.rows, cols=args.cols,
                                  seed=args.seed)
    print_written(written.values())
    return 0
