"""The ``latentatlas`` command line.

Each subcommand lives with the code it drives and contributes a ``register(subparsers)``
function that adds its parser and sets ``handler`` (a function ``args -> int``); this
module only lists the registrars, parses and dispatches. Expected failures (bad
arguments, missing or malformed files, a diverged training run) print one line on stderr
and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from . import demo as _demo
from .commands import _common
from .commands import atvec as _atvec_command
from .commands import bench as _bench_command
from .commands import classify as _classify_command
from .commands import edit as _edit_command
from .commands import encode as _encode_command
from .commands import sample as _sample_command
from .commands import train as _train_commands


def _register_info(sub: Any) -> None:
    p = _common.add_parser(sub, "info", help="version and build: CUDA built, devices, threads, SIMD level",
                           description="Print the version and how the native core was built: the SIMD level "
                                       "chosen at load time, CPU threads, whether the CUDA module was built "
                                       "and which devices it sees.",
                           examples=["latentatlas info", "latentatlas info --json"])
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.set_defaults(handler=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from . import backend_info

    info = backend_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cpu = info["cpu"]
    print(f"latentatlas {info['version']}")
    print(f"  CPU      : {cpu['simd_selected']} (dispatch: {cpu['simd_dispatch']}), {cpu['compiler']}")
    print(f"  threads  : {cpu['threads']} of {cpu['hardware_threads']} hardware threads")
    print(f"  CUDA     : {'built' if info['cuda_built'] else 'not built'} (LATENTATLAS_CUDA={info['cuda_option']}), "
          f"{info['cuda_devices']} device(s)")
    for dev in info.get("cuda", {}).get("devices", []):
        print(f"             {dev}")
    return 0


#: Functions that each add one subcommand; extend this list to add commands.
REGISTRARS: list[Callable[[Any], None]] = [
    _register_info,
    _train_commands.register,
    _encode_command.register,
    _sample_command.register,
    _atvec_command.register,
    _classify_command.register,
    _edit_command.register,
    _demo.register,
    _bench_command.register,
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
