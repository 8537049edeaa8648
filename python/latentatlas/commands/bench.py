"""The ``latentatlas bench`` subcommand: runs the benchmarks of :mod:`latentatlas.bench`
with the options they share passed on."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._common import add_parser, positive_int


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "bench",
        help="benchmark the kernels (vs numpy, torch eager, torch.compile) and the neighbour index "
             "(vs exact search and faiss)",
        description="Run the kernel benchmark (slerp/lerp/offset/score against numpy, torch eager and "
                    "torch.compile, with the memory-fill bandwidth of this machine) and the NeighborIndex "
                    "benchmark (queries/s at recall@10 >= 0.95 against exact search and faiss's HNSW when "
                    "faiss-cpu is installed). Both print ratios measured in the same run and write JSON. "
                    "--only gpu runs the GPU benchmark instead (slerp/offset/score on a CUDA device against "
                    "torch eager and a device-to-device copy); --only serve drives 'latentatlas serve' with "
                    "concurrent /v1/edit requests, batching on and off, then overloads it.",
        examples=["latentatlas bench --quick", "latentatlas bench --only kernels --threads 2 --json kernels.json",
                  "latentatlas bench --only index --quick", "latentatlas bench --only gpu --json gpu.json",
                  "latentatlas bench --only serve --json serve.json"])
    p.add_argument("--only", choices=("kernels", "index", "gpu", "serve"), default=None,
                   help="run one benchmark (default: kernels, then index; gpu and serve only when asked for)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few repeats (about half a minute for each benchmark)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads (default: all)")
    p.add_argument("--json", dest="json_path", default=None,
                   help="where to write the kernel results (the index results go beside it as *_index.json; "
                        "default: latentatlas-bench/ in the current directory)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile baselines")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs the benchmarks ``--only`` names (default: kernels, then index, stopping at a
    failure); returns the exit status of the last one run."""
    from ..bench import gpu, index, kernels, serve

    shared = (["--quick"] if args.quick else []) + ([] if args.threads is None else ["--threads", str(args.threads)])
    if args.only == "gpu":
        return gpu.main((["--quick"] if args.quick else []) + ([] if args.json_path is None
                                                                else ["--json", args.json_path]))
    if args.only == "serve":
        return serve.main((["--seconds", "1", "--concurrency", "1", "8", "32"] if args.quick else [])
                          + ([] if args.json_path is None else ["--out", args.json_path]))
    status = 0
    if args.only in (None, "kernels"):
        argv = shared + ([] if args.json_path is None else ["--json", args.json_path])
        status = kernels.main(argv + (["--no-compile"] if args.no_compile else []))
    if args.only in (None, "index") and status == 0:
        argv = list(shared)
        if args.json_path is not None:
            root, _ = os.path.splitext(args.json_path)
            argv += ["--out", (root + "_index.json") if args.only is None else args.json_path]
        status = index.main(argv)
    return status
