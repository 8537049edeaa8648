"""GPU kernel benchmark: slerp, offset and score on a CUDA device, at working sets larger
than its L2 cache, against torch eager and a device-to-device copy measured in the same run.

Run it with ``python -m latentatlas.bench.gpu`` (or ``latentatlas bench --only gpu``);
``bench/gpu_check.sh`` in a checkout builds the package for the local GPU, runs the CUDA
tests and this benchmark, and prints one summary table through :func:`report`.

How it measures, and why:

* The ops are memory-bound, so the device's limit is its memory bandwidth. The reference
  is ``dst.copy_(src)`` of a buffer as large as the op's dominant array (slerp's and
  offset's output, score's input), timed in the same interleaved rounds as the ops; a
  copy moves its bytes twice (read + write), and the ops count the bytes they read and
  write, so "of copy" compares like with like.
* The working set defaults to 512 MiB: far beyond any current L2 (H200: 50 MB), so the
  numbers are HBM numbers, not cache numbers.
* Times come from CUDA events around ``inner`` back-to-back calls (so the GPU never
  waits for Python to launch the next one), divided by ``inner``; medians over rounds.
* Each op's output is compared once with the torch eager expression of the same op
  (``max_rel_diff``, relative to the largest magnitude), so the times compare the same work.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any, Callable, Sequence

from .._files import jsonable
from ._cases import DTYPES, TORCH_BASELINES, traffic
from ._common import (Repeats, build_info, cuda_event_timer, cuda_unavailable_reason, default_output, error_text,
                      fmt_time, format_table, measure_interleaved, module_versions, positive_int,
                      summarise_times, utc_iso, write_json)

__all__ = ["OPS", "DEFAULT_JSON", "NoCudaDevice", "plan_cases", "run", "results_table",
           "read_junit", "report", "build_parser", "main"]

#: The ops measured, in order.
OPS = ("slerp", "offset", "score")
DEFAULT_JSON = default_output("gpu.json")
_D = 512  # latent width of every case: the paper's and the CPU benchmark's
_FULL = Repeats(warmup=3, min_repeats=10, max_repeats=30, budget_s=1.0)
_QUICK = Repeats(warmup=2, min_repeats=5, max_repeats=10, budget_s=0.3)
_CANDIDATES = ("latentatlas", "torch", "copy")
_LABELS = {"latentatlas": "latentatlas", "torch": "torch eager", "copy": "d2d copy"}


class NoCudaDevice(RuntimeError):
    """Raised by :func:`run` where there is nothing to benchmark: no CUDA device, or no
    CUDA build of latentatlas or torch."""


def plan_cases(working_set_mb: int, dtype: str = "float32", ops: Sequence[str] = OPS) -> list[dict[str, Any]]:
    """The cases of one run: for each op in ``ops``, sizes whose dominant array (slerp's
    and offset's output, score's ``z``) holds at least ``working_set_mb`` MiB, with the
    bytes the op reads and writes and the size of the copy it is compared with."""
    if isinstance(working_set_mb, bool) or not isinstance(working_set_mb, int) or working_set_mb < 1:
        raise ValueError(f"working_set_mb must be a positive int, got {working_set_mb!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    unknown = [op for op in ops if op not in OPS]
    if unknown or not ops:
        raise ValueError(f"ops must be a non-empty selection of {', '.join(OPS)}, got {list(ops)}")
    item = 4 if dtype == "float32" else 8
    target = working_set_mb * 2**20
    sizes = {  # the op's bounding array (see _cases.traffic) holds at least `target` bytes
        "slerp": {"B": math.ceil(target / (16 * _D * item)), "T": 16, "D": _D},
        "offset": {"N": math.ceil(target / (16 * _D * item)), "A": 16, "K": 3, "D": _D},
        "score": {"N": math.ceil(target / (_D * item)), "K": 4, "D": _D},
    }
    cases = []
    for op in OPS:
        if op in ops:
            moved = traffic(op, sizes[op], item)
            cases.append({"op": op, "dtype": dtype, "params": sizes[op], "bytes_read": moved.bytes_read,
                          "bytes_written": moved.bytes_written, "copy_bytes": moved.bound_elems * item})
    return cases


def _inputs(case: dict[str, Any], torch: Any, device: Any) -> tuple[Any, ...]:
    dtype = getattr(torch, case["dtype"])
    gen = torch.Generator(device=device).manual_seed(0)
    p = case["params"]

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, generator=gen, device=device, dtype=dtype)

    if case["op"] == "slerp":
        return randn(p["B"], p["D"]), randn(p["B"], p["D"]), torch.linspace(0, 1, p["T"], device=device, dtype=dtype)
    if case["op"] == "offset":
        alphas = torch.linspace(-2, 2, p["A"] * p["K"], device=device, dtype=dtype).reshape(p["A"], p["K"])
        return randn(p["N"], p["D"]), randn(p["K"], p["D"]), alphas
    return randn(p["N"], p["D"]), randn(p["K"], p["D"])


def _run_case(case: dict[str, Any], cfg: Repeats, inner: int, torch: Any) -> dict[str, Any]:
    from .. import ops

    device = torch.device("cuda")
    tin = _inputs(case, torch, device)
    la_fn = getattr(ops, case["op"])
    torch_fn = TORCH_BASELINES[case["op"]]
    src = torch.empty(case["copy_bytes"], dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    src.fill_(1)

    def repeat(fn: Callable[[], Any]) -> Callable[[], None]:
        def call() -> None:
            for _ in range(inner):
                fn()
        return call

    cands = {"latentatlas": repeat(lambda: la_fn(*tin)), "torch": repeat(lambda: torch_fn(*tin)),
             "copy": repeat(lambda: dst.copy_(src))}
    for _ in range(cfg.warmup):
        for fn in cands.values():
            fn()
    torch.cuda.synchronize()
    mine, theirs = la_fn(*tin), torch_fn(*tin)
    scale = max(1.0, float(theirs.abs().max()))
    max_rel_diff = float((mine.double() - theirs.double()).abs().max()) / scale
    del mine, theirs

    samples = measure_interleaved(cands, cuda_event_timer(torch, inner), cfg)
    op_bytes = case["bytes_read"] + case["bytes_written"]
    timings = {name: summarise_times(samples[name], 2 * case["copy_bytes"] if name == "copy" else op_bytes)
               for name in _CANDIDATES}
    copy_gbps = timings["copy"]["gbps"]
    for t in timings.values():
        t["fraction_of_copy"] = t["gbps"] / copy_gbps if t["gbps"] and copy_gbps else None
    del tin, src, dst
    torch.cuda.empty_cache()
    return {**case, "timings": timings, "max_rel_diff": max_rel_diff,
            "speedup_vs_torch": timings["torch"]["median_s"] / timings["latentatlas"]["median_s"]}


def _device_facts(torch: Any) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return {"name": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "memory_gb": props.total_memory / 1e9, "l2_bytes": getattr(props, "L2_cache_size", None),
            "multiprocessors": props.multi_processor_count, "torch_cuda": torch.version.cuda}


def run(*, working_set_mb: int = 512, dtype: str = "float32", ops: Sequence[str] = OPS, quick: bool = False,
        inner: int = 10, json_path: str | None = None, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Runs the GPU benchmark and returns its results as a JSON-ready dict.

    Args:
        working_set_mb: MiB of each op's dominant array (see :func:`plan_cases`); keep it
            well above the device's L2 so the numbers are memory numbers.
        dtype: ``"float32"`` or ``"float64"``.
        ops: which of :data:`OPS` to run.
        quick: fewer repeats.
        inner: calls per timed sample (back to back, so launches overlap the GPU's work).
        json_path: where to write the results (atomically); None writes nothing.
        echo: where the readable table goes, line by line (None: silent).

    Returns:
        ``device``, ``build``, ``versions``, ``settings`` and ``cases`` (each with its
        sizes, per-candidate ``timings`` (median/min in seconds, GB/s, fraction of the
        copy's bandwidth), ``max_rel_diff`` against torch eager and ``speedup_vs_torch``,
        or ``error``); plus ``json_path`` when a file was written.

    Raises:
        NoCudaDevice: no CUDA device, or latentatlas or torch was built without CUDA.
        ValueError: bad sizes, dtype, ops or ``inner``.
    """
    cases = plan_cases(working_set_mb, dtype, ops)
    if isinstance(inner, bool) or not isinstance(inner, int) or inner < 1:
        raise ValueError(f"inner must be a positive int, got {inner!r}")
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise NoCudaDevice(reason)
    import torch

    say: Callable[[str], None] = echo if echo is not None else (lambda _line: None)
    cfg = _QUICK if quick else _FULL
    started = time.time()
    res: dict[str, Any] = {
        "benchmark": "latentatlas.bench.gpu",
        "schema": 1,
        "started_utc": utc_iso(started),
        "device": _device_facts(torch),
        "build": build_info(),
        "versions": module_versions("torch", "numpy", "latentatlas"),
        "settings": {"working_set_mb": working_set_mb, "dtype": dtype, "inner": inner, "warmup": cfg.warmup,
                     "min_repeats": cfg.min_repeats, "max_repeats": cfg.max_repeats,
                     "budget_s_per_candidate": cfg.budget_s},
        "cases": [],
    }
    dev = res["device"]
    l2 = dev["l2_bytes"]
    say(f"latentatlas GPU benchmark: {dev['name']} (sm {dev['compute_capability']}, "
        f"L2 {'?' if not l2 else f'{l2 / 2**20:.0f} MiB'}), "
        f"torch {res['versions']['torch']} (CUDA {dev['torch_cuda']}), "
        f"working set {working_set_mb} MiB, {dtype}")
    for case in cases:
        try:
            res["cases"].append(_run_case(case, cfg, inner, torch))
        except Exception as exc:  # one failing op is recorded; the others still run
            res["cases"].append({**case, "error": error_text(exc)})
            torch.cuda.empty_cache()
    res["elapsed_s"] = time.time() - started
    res = jsonable(res)
    say(results_table(res))
    if json_path is not None:
        res["json_path"] = write_json(json_path, res)
    return res


def _size_text(case: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in case["params"].items())


def _bench_rows(result: dict[str, Any]) -> list[list[Any]]:
    """Rows of (item, status, median, GB/s, of copy, vs torch, detail) for each case."""
    rows: list[list[Any]] = []
    for case in result.get("cases", []):
        size = f"{case['dtype']} {_size_text(case)}"
        if "error" in case:
            rows.append([case["op"], "ERROR", None, None, None, None, f"{size}: {case['error'].splitlines()[0][:100]}"])
            continue
        for name in _CANDIDATES:
            t = case["timings"][name]
            frac = t.get("fraction_of_copy")
            if name == "latentatlas":
                vs, detail = f"{case['speedup_vs_torch']:.2f}x", f"{size}; max rel diff {case['max_rel_diff']:.1e}"
            elif name == "torch":
                vs, detail = None, "the same op as torch expressions"
            else:
                vs, detail = None, f"{case['copy_bytes'] / 2**20:.0f} MiB read + written"
            rows.append([f"{case['op']} {_LABELS[name]}", "ok", fmt_time(t["median_s"]).strip(),
                         None if t["gbps"] is None else f"{t['gbps']:.0f}",
                         None if frac is None else f"{frac:.0%}", vs, detail])
    return rows


_HEADERS = ("item", "status", "median", "GB/s", "of copy", "vs torch", "detail")
_RIGHT = (2, 3, 4, 5)


def results_table(result: dict[str, Any]) -> str:
    """The benchmark's results as a plain-text table: for each op, latentatlas, torch
    eager and the device-to-device copy (median time, GB/s, fraction of the copy's
    bandwidth, latentatlas' speedup over torch eager, and the largest relative difference)."""
    return format_table(_HEADERS, _bench_rows(result), right=_RIGHT)


def read_junit(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts of a pytest ``--junitxml`` report: ``tests``, ``passed``, ``failed``,
    ``errors``, ``skipped``, and the names of the failed or erroring tests."""
    root = ET.parse(path).getroot()
    counts = {"tests": 0, "failed": 0, "errors": 0, "skipped": 0}
    failed: list[str] = []
    for case in root.iter("testcase"):
        counts["tests"] += 1
        kinds = {child.tag for child in case}
        if "failure" in kinds:
            counts["failed"] += 1
        elif "error" in kinds:
            counts["errors"] += 1
        elif "skipped" in kinds:
            counts["skipped"] += 1
            continue
        else:
            continue
        failed.append(f"{case.get('classname', '')}::{case.get('name', '')}")
    counts["passed"] = counts["tests"] - counts["failed"] - counts["errors"] - counts["skipped"]
    return {**counts, "failed_names": failed}


def _parse_phase(text: str) -> tuple[str, str, str]:
    """``NAME=STATUS`` or ``NAME=STATUS:DETAIL`` as (name, status, detail)."""
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=STATUS[:DETAIL], got {text!r}")
    status, _, detail = rest.partition(":")
    return name, status, detail.strip()


def report(*, phases: Sequence[tuple[str, str, str]] = (), junit: Sequence[str] = (), json_path: str | None = None,
           max_failures: int = 20) -> tuple[str, bool]:
    """One summary table of a GPU check: a row per phase (``(name, status, detail)``, e.g.
    the build), the test counts of each pytest junit report (and the failed tests by name),
    and the benchmark's rows from its JSON. Returns the table and whether everything passed
    (every phase ``ok``, no failed or erroring test, a benchmark without errors)."""
    import json

    rows: list[list[Any]] = []
    ok = True
    for name, status, detail in phases:
        ok &= status == "ok"
        rows.append([name, status, None, None, None, None, detail or None])
    for path in junit:
        try:
            counts = read_junit(path)
        except (OSError, ET.ParseError) as exc:
            ok = False
            rows.append([f"tests ({os.path.basename(path)})", "NO REPORT", None, None, None, None, str(exc)])
            continue
        bad = counts["failed"] + counts["errors"]
        ok &= bad == 0 and counts["tests"] > 0
        rows.append([f"tests ({os.path.basename(path)})", "ok" if bad == 0 and counts["tests"] else "FAIL",
                     None, None, None, None,
                     f"{counts['passed']} passed, {counts['failed']} failed, {counts['errors']} errors, "
                     f"{counts['skipped']} skipped"])
        for name in counts["failed_names"][:max_failures]:
            rows.append(["  failed", "FAIL", None, None, None, None, name])
        if len(counts["failed_names"]) > max_failures:
            rows.append(["  failed", "FAIL", None, None, None, None,
                         f"... and {len(counts['failed_names']) - max_failures} more (see the report)"])
    if json_path is not None:
        try:
            with open(json_path, encoding="utf-8") as fh:
                result = json.load(fh)
        except (OSError, ValueError) as exc:
            ok = False
            rows.append(["bench results", "NO RESULTS", None, None, None, None, str(exc)])
        else:
            bench = _bench_rows(result)
            ok &= bool(bench) and all(r[1] == "ok" for r in bench)
            rows.extend(bench)
    return format_table(_HEADERS, rows, right=_RIGHT), ok


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of the GPU benchmark (also used by ``latentatlas bench --only gpu``)."""
    p = argparse.ArgumentParser(
        prog="bench_gpu",
        description="Benchmark slerp, offset and score on a CUDA device against torch eager, as a fraction of "
                    "a device-to-device copy's bandwidth measured in the same run. With --report, print the "
                    "summary table of a GPU check instead (no GPU needed).")
    p.add_argument("--working-set-mb", type=positive_int, default=512,
                   help="MiB of each op's largest array; keep it far above the GPU's L2 (default: 512)")
    p.add_argument("--dtype", choices=DTYPES, default="float32")
    p.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS), help="which ops (default: all)")
    p.add_argument("--inner", type=positive_int, default=10, help="back-to-back calls per timed sample")
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--json", dest="json_path", default=None, metavar="PATH",
                   help=f"where the results go (default: {DEFAULT_JSON}); with --report, where they are read "
                        "(default: no benchmark rows)")
    report_group = p.add_argument_group("summary of a GPU check")
    report_group.add_argument("--report", action="store_true",
                              help="print one table of the phases, test reports and benchmark results; "
                                   "exit 1 unless all passed")
    report_group.add_argument("--phase", type=_parse_phase, action="append", default=[],
                              metavar="NAME=STATUS[:DETAIL]",
                              help="a phase's outcome, e.g. build=ok:sm_90 (repeatable)")
    report_group.add_argument("--junit", action="append", default=[], metavar="XML",
                              help="a pytest --junitxml report (repeatable)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status: 0 done, 1 no CUDA device (or, with
    ``--report``, something failed); argparse exits 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    if args.report:
        table, ok = report(phases=args.phase, junit=args.junit, json_path=args.json_path)
        print(table)
        return 0 if ok else 1
    try:
        res = run(working_set_mb=args.working_set_mb, dtype=args.dtype, ops=args.ops, quick=args.quick,
                  inner=args.inner, json_path=args.json_path or DEFAULT_JSON)
    except NoCudaDevice as exc:
        print(f"bench_gpu: no CUDA device to benchmark: {exc}", file=sys.stderr)
        return 1
    print(f"\nwrote {res['json_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
