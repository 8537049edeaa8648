"""The ``latentatlas info`` subcommand: the version and how the native core was built."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import add_parser


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand to an argparse subparsers object."""
    p = add_parser(subparsers, "info", help="version and build: CUDA built, devices, threads, SIMD level",
                   description="Print the version and how the native core was built: the SIMD level "
                               "chosen at load time, CPU threads, whether the CUDA module was built "
                               "and which devices it sees.",
                   examples=["latentatlas info", "latentatlas info --json"])
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print :func:`latentatlas.backend_info` as a few lines, or as JSON with ``--json``."""
    from .. import backend_info

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
