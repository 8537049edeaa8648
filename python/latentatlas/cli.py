"""The ``latentatlas`` command line.

Each subcommand is a module of :mod:`latentatlas.commands` with a ``register(subparsers)``
function that adds its parser and sets ``handler`` (a function ``args -> int``); this
module only lists the registrars, parses and dispatches. Expected failures (bad
arguments, missing or malformed files, a diverged training run) print one line on stderr
and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from .commands import _common
from .commands import atvec as _atvec_command
from .commands import classify as _classify_command
from .commands import demo as _demo_command
from .commands import edit as _edit_command
from .commands import encode as _encode_command
from .commands import info as _info_command
from .commands import quality as _quality_command
from .commands import sample as _sample_command
from .commands import sheets as _sheets_command
from .commands import train as _train_commands


def _register_bench(sub: Any) -> None:
    p = _common.add_parser(
        sub, "bench", help="benchmark the kernels (vs numpy, torch eager, torch.compile) and the neighbour index "
                           "(vs exact search and faiss)",
        description="Run the kernel benchmark (slerp/lerp/offset/score against numpy, torch eager and "
                    "torch.compile, with the memory-fill bandwidth of this machine) and the NeighborIndex "
                    "benchmark (queries/s at recall@10 >= 0.95 against exact search and faiss's HNSW when "
                    "faiss-cpu is installed). Both print ratios measured in the same run and write JSON.",
        examples=["latentatlas bench --quick", "latentatlas bench --only kernels --threads 2 --json kernels.json",
                  "latentatlas bench --only index --quick"])
    p.add_argument("--only", choices=("kernels", "index"), default=None, help="run one of the two benchmarks")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few repeats (about half a minute for each benchmark)")
    p.add_argument("--threads", type=_common.positive_int, default=None,
                   help="CPU threads (default: all)")
    p.add_argument("--json", dest="json_path", default=None,
                   help="where to write the kernel results (the index results go beside it as *_index.json)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile baselines")
    p.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    import os

    shared = (["--quick"] if args.quick else []) + ([] if args.threads is None else ["--threads", str(args.threads)])
    status = 0
    if args.only in (None, "kernels"):
        from . import bench_kernels

        argv = shared + ([] if args.json_path is None else ["--json", args.json_path])
        status = bench_kernels.main(argv + (["--no-compile"] if args.no_compile else []))
    if args.only in (None, "index") and status == 0:
        from . import bench_index

        argv = list(shared)
        if args.json_path is not None:
            root, _ = os.path.splitext(args.json_path)
            argv += ["--out", (root + "_index.json") if args.only is None else args.json_path]
        status = bench_index.main(argv)
    return status


#: Functions that each add one subcommand; extend this list to add commands.
REGISTRARS: list[Callable[[Any], None]] = [
    _info_command.register,
    _train_commands.register,
    _encode_command.register,
    _sample_command.register,
    _sheets_command.register,
    _atvec_command.register,
    _classify_command.register,
    _edit_command.register,
    _demo_command.register,
    _quality_command.register,
    _register_bench,
]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``latentatlas: error: ...``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print one usage-error line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = _Parser(prog="latentatlas", description="Sample, visualise and edit latent spaces of generative models.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for register in REGISTRARS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    args.argv = argv
    try:
        return int(args.handler(args))
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        print(f"latentatlas {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"latentatlas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
