"""The ``latentatlas`` command.

Each subcommand is a ``(register, run)`` pair: ``register(subparsers)`` adds its parser,
``run(args)`` does the work and returns the exit code. Errors a user can fix (bad
arguments, unreadable files, bad values) end as one ``latentatlas: error: ...`` line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

Handler = Callable[[argparse.Namespace], int]


def _register_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="version and build: CUDA built, devices, threads, SIMD level")
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


def _register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark the kernels against numpy, torch eager and torch.compile")
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats (about half a minute)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the kernels (default: all)")
    p.add_argument("--json", dest="json_path", default=None, help="where to write the JSON results")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile baselines")
    p.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from . import bench_kernels

    argv = []
    if args.quick:
        argv.append("--quick")
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.json_path is not None:
        argv += ["--json", args.json_path]
    if args.no_compile:
        argv.append("--no-compile")
    return bench_kernels.main(argv)


# Subcommands in the order --help lists them.
REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = [_register_info, _register_bench]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``latentatlas`` command, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="latentatlas",
        description="Sample, visualise and edit the latent spaces of generative models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in REGISTRY:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, TypeError, OSError) as exc:
        print(f"latentatlas: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("latentatlas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
