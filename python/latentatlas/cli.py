"""The ``latentatlas`` command line.

Each subcommand is a module of :mod:`latentatlas.commands` with a ``register(subparsers)``
function that adds its parser and sets ``handler`` (a function ``args -> int``); this
module only lists the registrars, parses and dispatches. Expected failures (bad
arguments, missing or malformed files, a diverged training run, a request too large for
memory) print one line on stderr and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from .commands import atvec as _atvec_command
from .commands import bench as _bench_command
from .commands import classify as _classify_command
from .commands import demo as _demo_command
from .commands import diagnose as _diagnose_command
from .commands import edit as _edit_command
from .commands import encode as _encode_command
from .commands import info as _info_command
from .commands import labels as _labels_command
from .commands import quality as _quality_command
from .commands import sample as _sample_command
from .commands import serve as _serve_command
from .commands import sheets as _sheets_command
from .commands import train as _train_commands


#: Functions that each add one subcommand; extend this list to add commands.
REGISTRARS: list[Callable[[Any], None]] = [
    _info_command.register,
    _train_commands.register,
    _encode_command.register,
    _sample_command.register,
    _sheets_command.register,
    _atvec_command.register,
    _labels_command.register,
    _classify_command.register,
    _diagnose_command.register,
    _edit_command.register,
    _demo_command.register,
    _quality_command.register,
    _bench_command.register,
    _serve_command.register,
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
    except MemoryError as exc:  # a size no check caught: one line naming it, not a traceback
        detail = str(exc).splitlines()[0] if str(exc) else "an allocation failed"
        print(f"latentatlas {args.command}: error: out of memory ({detail}); ask for less", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"latentatlas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
