"""Benchmark of the core kernels against numpy, torch eager and ``torch.compile``.

Run it with ``python -m latentatlas.bench.kernels`` (or ``latentatlas bench --only kernels``,
or ``bench/bench_kernels.py`` in a checkout). It prints the machine, the build and the thread
counts first, then, for every op and size, the median time of latentatlas and of the
obvious numpy, torch-eager and ``torch.compile`` expressions of the same op, the ratios
(baseline time / latentatlas time) and the fraction of the memory-fill bandwidth that
latentatlas reaches. Everything is written to a JSON file as well.

How it measures, and why:

* The ops are memory-bound, so their physical limit is the memory bandwidth. The fill
  bandwidth is measured in the same run, right next to each op, on a buffer of the same
  size as the op's output (the best of the kernels' own thread-pool fill, numpy's
  ``fill`` and torch's ``fill_``). ``score`` writes almost nothing and streams its input,
  so its buffer is the size of ``z`` and its fraction counts bytes read + written.
* The candidates of one case (latentatlas, the baselines and the fills) are timed in
  interleaved rounds, so load from other processes on a shared machine hits all of them
  alike; medians are reported. Each candidate runs at least ``min_repeats`` times and
  more while it has time budget left.
* latentatlas writes into a preallocated ``out`` (its intended use in a render loop);
  the baselines are the expressions a user would write and allocate their results.
* ``torch.compile`` is warmed up first; compile time is recorded apart and never part of
  the medians. A compile that fails is recorded as its error string.
* Each baseline's output is compared with latentatlas' output once (``max_rel_diff``),
  so the numbers compare computations of the same thing.

Targets of the project (issue 2, item 4) are printed as PASS/MISS next to the numbers and
recorded in the JSON; they are never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._files import jsonable
from ._cases import NUMPY_BASELINES, OPS, PARAMS, TORCH_BASELINES, check_sizes, traffic
from ._common import (Repeats, cpu_timer, cuda_event_timer, cuda_unavailable_reason, default_output, error_text,
                      fmt_time, load_average, machine, measure_interleaved, module_versions, positive_int,
                      prefer_passive_omp, summarise_times, thread_counts, utc_iso, write_json)

__all__ = ["run", "main", "build_parser", "DEFAULT_JSON", "FULL_SIZES", "QUICK_SIZES"]

DEFAULT_JSON = default_output("kernels.json")


# The sizes of issue 2's targets; cases of exactly these sizes are marked "reference".
_REFERENCE = {
    "slerp": [{"B": 4096, "T": 16, "D": 512, "dtype": "float32"}],
    "lerp": [{"B": 4096, "T": 16, "D": 512, "dtype": "float32"}],
    "offset": [{"N": 4096, "A": 16, "K": 3, "D": 512, "dtype": "float32"}],
    "score": [{"N": 200_000, "K": k, "D": 512, "dtype": "float32"} for k in (1, 4, 40)],
}

FULL_SIZES: dict[str, list[dict[str, Any]]] = {
    "slerp": [
        {"B": 4096, "T": 16, "D": 512, "dtype": "float32"},
        {"B": 1024, "T": 16, "D": 512, "dtype": "float32"},
        {"B": 4096, "T": 16, "D": 512, "dtype": "float64"},
    ],
    "lerp": [
        {"B": 4096, "T": 16, "D": 512, "dtype": "float32"},
        {"B": 1024, "T": 16, "D": 512, "dtype": "float32"},
        {"B": 4096, "T": 16, "D": 512, "dtype": "float64"},
    ],
    "offset": [
        {"N": 4096, "A": 16, "K": 3, "D": 512, "dtype": "float32"},
        {"N": 1024, "A": 16, "K": 3, "D": 512, "dtype": "float32"},
        {"N": 4096, "A": 16, "K": 3, "D": 512, "dtype": "float64"},
    ],
    "score": [
        {"N": 200_000, "K": 1, "D": 512, "dtype": "float32"},
        {"N": 200_000, "K": 4, "D": 512, "dtype": "float32"},
        {"N": 200_000, "K": 40, "D": 512, "dtype": "float32"},
        {"N": 200_000, "K": 4, "D": 512, "dtype": "float64"},
    ],
}

QUICK_SIZES: dict[str, list[dict[str, Any]]] = {
    "slerp": [
        {"B": 1024, "T": 16, "D": 512, "dtype": "float32"},
        {"B": 1024, "T": 16, "D": 512, "dtype": "float64"},
    ],
    "lerp": [{"B": 1024, "T": 16, "D": 512, "dtype": "float32"}],
    "offset": [{"N": 1024, "A": 16, "K": 3, "D": 512, "dtype": "float32"}],
    "score": [{"N": 50_000, "K": k, "D": 512, "dtype": "float32"} for k in (1, 4, 40)],
}


_FULL = Repeats(warmup=1, min_repeats=5, max_repeats=25, budget_s=1.5)
_QUICK = Repeats(warmup=1, min_repeats=3, max_repeats=7, budget_s=0.15)

_LA = "latentatlas"
_BASELINES = ("numpy", "torch", "torch_compile")
_LABELS = {_LA: "latentatlas", "numpy": "numpy", "torch": "torch eager", "torch_compile": "torch.compile"}
_FILLS = ("core", "numpy", "torch")


# ----------------------------------------------------------------------------- cases


@dataclass
class _Case:
    """One op at one size and dtype: its inputs, and the numbers that turn times into rates."""

    op: str
    params: dict[str, int]
    dtype: str
    inputs: tuple[np.ndarray, ...]
    out_shape: tuple[int, ...]
    bytes_written: int
    bytes_read: int
    basis: str  # which bytes the bandwidth figures count: "written" or "read+written"
    fill_elems: int
    reference: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_basis(self) -> int:
        return self.bytes_written if self.basis == "written" else self.bytes_read + self.bytes_written

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params.items())


def _make_case(op: str, spec: dict[str, Any], rng: np.random.Generator) -> _Case:
    params = {k: int(spec[k]) for k in PARAMS[op]}
    dtype = spec.get("dtype", "float32")
    moved = traffic(op, params, np.dtype(dtype).itemsize)
    ref = any(params == {k: r[k] for k in PARAMS[op]} and dtype == r["dtype"] for r in _REFERENCE[op])
    if op in ("slerp", "lerp"):
        B, T, D = params["B"], params["T"], params["D"]
        inputs: tuple[np.ndarray, ...] = (rng.standard_normal((B, D)).astype(dtype),
                                          rng.standard_normal((B, D)).astype(dtype),
                                          np.linspace(0.0, 1.0, T).astype(dtype))
    elif op == "offset":
        N, A, K, D = params["N"], params["A"], params["K"], params["D"]
        inputs = (rng.standard_normal((N, D)).astype(dtype), rng.standard_normal((K, D)).astype(dtype),
                  np.linspace(-2.0, 2.0, A * K).reshape(A, K).astype(dtype))
    else:
        N, K, D = params["N"], params["K"], params["D"]
        inputs = (rng.standard_normal((N, D)).astype(dtype), rng.standard_normal((K, D)).astype(dtype))
    # The fill buffer is the size of the array that bounds the op (see _cases.traffic).
    return _Case(op, params, dtype, inputs, moved.out_shape, moved.bytes_written, moved.bytes_read, moved.basis,
                 moved.bound_elems, ref)


# ----------------------------------------------------------------------------- timing


def _rel_diff(x: Any, ref: np.ndarray) -> float:
    if not isinstance(x, np.ndarray):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64).reshape(ref.shape)
    r = ref.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
    return float(np.max(np.abs(x - r)) / scale) if r.size else 0.0


def _compile(torch: Any, fn: Callable[..., Any], args: tuple[Any, ...], warmup: int,
             sync: Callable[[], None]) -> tuple[Callable[..., Any] | None, dict[str, Any]]:
    """torch.compile of ``fn``, warmed up on ``args``; the compile time is returned apart.

    A failed compile is tried once more (inductor's on-disk cache is shared by every
    process of the user, and a concurrent writer can break a build), then recorded as its
    error text instead of stopping the benchmark.
    """
    errors: list[str] = []
    for _attempt in range(2):
        try:
            torch._dynamo.reset()  # each case compiles afresh: no recompile limits, no shared guards
            compiled = torch.compile(fn, dynamic=False)
            t0 = time.perf_counter()
            compiled(*args)
            sync()
            compile_s = time.perf_counter() - t0
            for _ in range(max(1, warmup)):
                compiled(*args)
            sync()
            info: dict[str, Any] = {"compile_s": compile_s}
            if errors:
                info["first_attempt_error"] = errors[0]
            return compiled, info
        except Exception as exc:  # recorded, never fatal: the benchmark goes on without it
            errors.append(error_text(exc))
    return None, {"error": errors[-1], "attempts": len(errors)}


# ----------------------------------------------------------------------------- targets


def _targets(op: str, params: dict[str, int], fraction: float | None,
             ratios: dict[str, float | None]) -> list[dict[str, Any]]:
    """Issue 2's speed targets for one case; ``passed`` is None when a number is missing."""

    def check(name: str, value: float | None, threshold: float, strict: bool = False) -> dict[str, Any]:
        if value is None:
            passed = None
        else:
            passed = bool(value > threshold) if strict else bool(value >= threshold)
        return {"name": name, "value": value, "threshold": threshold, "strict": strict, "passed": passed}

    if op in ("slerp", "offset"):
        return [
            check(">=70% of fill bandwidth", fraction, 0.70),
            check(">=10x numpy", ratios.get("numpy"), 10.0),
            check(">=10x torch eager", ratios.get("torch"), 10.0),
            check("faster than torch.compile", ratios.get("torch_compile"), 1.0, strict=True),
        ]
    if op == "score":
        if params["K"] <= 4:
            return [check("faster than numpy matmul (K<=4)", ratios.get("numpy"), 1.0, strict=True)]
        return [check("within 1.2x of numpy matmul", ratios.get("numpy"), 1.0 / 1.2)]
    return []  # lerp: no target in the issue; its numbers are reported as they are


def _verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("PASS" if passed else "MISS")


# ----------------------------------------------------------------------------- CPU cases


def _run_cpu_case(case: _Case, cfg: Repeats, use_compile: bool, torch: Any) -> dict[str, Any]:
    import latentatlas as la
    from latentatlas import _core

    op, dtype = case.op, case.dtype
    out = np.empty(case.out_shape, dtype=dtype)
    tin = tuple(torch.from_numpy(x) for x in case.inputs)
    if op in ("slerp", "lerp"):
        a, b, t = case.inputs
        la_fn = la.slerp if op == "slerp" else la.lerp

        def la_call() -> Any:
            return la_fn(a, b, t, out=out)
    elif op == "offset":
        z, v, al = case.inputs

        def la_call() -> Any:
            return la.offset(z, v, al, out=out)
    else:
        z, v = case.inputs

        def la_call() -> Any:
            return la.score(z, v, out=out)

    np_fn, t_fn = NUMPY_BASELINES[op], TORCH_BASELINES[op]
    inputs = case.inputs
    cands: dict[str, Callable[[], Any]] = {
        _LA: la_call,
        "numpy": lambda: np_fn(*inputs),
        "torch": lambda: t_fn(*tin),
    }
    timings: dict[str, dict[str, Any]] = {}
    diffs: dict[str, float] = {}
    if use_compile:
        compiled, info = _compile(torch, t_fn, tin, cfg.warmup, lambda: None)
        if compiled is None:
            timings["torch_compile"] = info
        else:
            cands["torch_compile"] = lambda: compiled(*tin)
            timings["torch_compile"] = info
    else:
        timings["torch_compile"] = {"skipped": "--no-compile"}

    fill_buf = np.empty(case.fill_elems, dtype=dtype)
    fill_t = torch.from_numpy(fill_buf)
    cands["fill:core"] = lambda: _core.fill(fill_buf, 1.0)
    cands["fill:numpy"] = lambda: fill_buf.fill(1.0)
    cands["fill:torch"] = lambda: fill_t.fill_(1.0)

    # Warm up (first touch of pages, lazy initialisation) and check the baselines agree.
    for _ in range(cfg.warmup):
        for fn in cands.values():
            fn()
    ref = out.copy()
    for name in ("numpy", "torch", "torch_compile"):
        if name in cands:
            diffs[name] = _rel_diff(cands[name](), ref)
    del ref

    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        samples = measure_interleaved(cands, cpu_timer, cfg)
    finally:
        if gc_was_enabled:
            gc.enable()

    fill_bytes = case.fill_elems * np.dtype(dtype).itemsize
    fills = {name: summarise_times(samples[f"fill:{name}"], fill_bytes) for name in _FILLS}
    return _summarise(case, samples, timings, diffs, fills, fill_bytes)


def _summarise(case: _Case, samples: dict[str, list[float]], timings: dict[str, dict[str, Any]],
               diffs: dict[str, float], fills: dict[str, dict[str, Any]], fill_bytes: int) -> dict[str, Any]:
    best = max(fills, key=lambda k: fills[k]["gbps"] or 0.0)
    fill_gbps = fills[best]["gbps"]
    for name in (_LA,) + _BASELINES:
        if name in samples:
            timings[name] = {**timings.get(name, {}), **summarise_times(samples[name], case.bytes_basis)}
            if name in diffs:
                timings[name]["max_rel_diff"] = diffs[name]
    la_med = timings[_LA]["median_s"]
    ratios = {name: (timings[name]["median_s"] / la_med if la_med > 0 else None)
              for name in _BASELINES if "median_s" in timings.get(name, {})}
    la_gbps = timings[_LA]["gbps"]
    fraction = la_gbps / fill_gbps if la_gbps and fill_gbps else None
    # The same fraction from the fastest runs: on a loaded machine, where a descheduled
    # thread stalls a whole parallel call, it shows what the kernel does when it gets the cores.
    la_min, fill_min = timings[_LA]["min_s"], fills[best]["min_s"]
    fraction_min = (case.bytes_basis / la_min) / (fill_bytes / fill_min) if la_min > 0 and fill_min > 0 else None
    return {
        "op": case.op,
        "dtype": case.dtype,
        "params": case.params,
        "reference_size": case.reference,
        "out_shape": list(case.out_shape),
        "bytes_written": case.bytes_written,
        "bytes_read": case.bytes_read,
        "bandwidth_basis": case.basis,
        "fill": {"buffer_bytes": fill_bytes, "by": fills, "best": best, "gbps": fill_gbps},
        "timings": timings,
        "ratios": ratios,
        "fraction_of_fill": fraction,
        "fraction_of_fill_from_min_times": fraction_min,
        "targets": _targets(case.op, case.params, fraction, ratios),
    }


# ----------------------------------------------------------------------------- CUDA cases


def _run_cuda_case(case: _Case, cfg: Repeats, use_compile: bool, torch: Any) -> dict[str, Any]:
    import latentatlas as la

    dev = torch.device("cuda")
    tin = tuple(torch.from_numpy(x).to(dev) for x in case.inputs)
    op = case.op
    # On CUDA the ops allocate their result (the caching allocator makes that cheap);
    # an out= there is filled by a copy, which would time the copy too.
    if op in ("slerp", "lerp"):
        la_fn = la.slerp if op == "slerp" else la.lerp

        def la_call() -> Any:
            return la_fn(*tin)
    elif op == "offset":
        def la_call() -> Any:
            return la.offset(*tin)
    else:
        def la_call() -> Any:
            return la.score(*tin)

    t_fn = TORCH_BASELINES[op]
    cands: dict[str, Callable[[], Any]] = {_LA: la_call, "torch": lambda: t_fn(*tin)}
    timings: dict[str, dict[str, Any]] = {"numpy": {"skipped": "not a device op"}}
    if use_compile:
        compiled, info = _compile(torch, t_fn, tin, cfg.warmup, torch.cuda.synchronize)
        timings["torch_compile"] = info
        if compiled is not None:
            cands["torch_compile"] = lambda: compiled(*tin)
    else:
        timings["torch_compile"] = {"skipped": "--no-compile"}
    fill_buf = torch.empty(case.fill_elems, dtype=tin[0].dtype, device=dev)
    cands["fill:torch"] = lambda: fill_buf.fill_(1.0)
    cands["fill:zero"] = lambda: fill_buf.zero_()

    for _ in range(max(2, cfg.warmup)):
        for fn in cands.values():
            fn()
    torch.cuda.synchronize()
    ref = la_call().cpu().numpy()
    diffs = {name: _rel_diff(cands[name](), ref) for name in ("torch", "torch_compile") if name in cands}
    del ref

    samples = measure_interleaved(cands, cuda_event_timer(torch), cfg)
    fill_bytes = case.fill_elems * fill_buf.element_size()
    fills = {name: summarise_times(samples[f"fill:{name}"], fill_bytes) for name in ("torch", "zero")}
    result = _summarise(case, samples, timings, diffs, fills, fill_bytes)
    result["fraction_of_hbm_fill"] = result.pop("fraction_of_fill")
    result["fraction_of_hbm_fill_from_min_times"] = result.pop("fraction_of_fill_from_min_times")
    # The CPU targets do not apply on a GPU; what is reported is the HBM fraction and ratios.
    result["targets"] = []
    del tin, fill_buf
    torch.cuda.empty_cache()
    return result


# ----------------------------------------------------------------------------- printing


def _print_header(res: dict[str, Any], echo: Callable[[str], None]) -> None:
    m, b, th, v = res["machine"], res["build"], res["threads"], res["versions"]
    echo("latentatlas kernel benchmark" + (" (quick)" if res["quick"] else ""))
    mem = f", {m['memory_gb']:.1f} GB" if m["memory_gb"] else ""
    echo(f"machine : {m['cpu_model']}, {m['logical_cores']} logical cores ({m['usable_cores']} usable){mem}")
    echo(f"          {m['platform']}, python {m['python']}, load average {m['load_average_at_start']}, "
         f"OMP_WAIT_POLICY={m.get('omp_wait_policy')}")
    cpu = b.get("cpu", {})
    echo(f"build   : latentatlas {b.get('version')}, {cpu.get('compiler')}, SIMD {cpu.get('simd_selected')}"
         f", cuda_built={b.get('cuda_built')}, cuda_devices={b.get('cuda_devices')}")
    echo(f"threads : latentatlas {th['latentatlas']}, torch {th['torch']}, numpy BLAS {th['numpy_blas']}"
         + (f" (requested {th['requested']})" if th["requested"] is not None else " (defaults)"))
    echo(f"versions: numpy {v['numpy']}, torch {v['torch']}")
    s = res["settings"]
    echo(f"timing  : medians of >= {s['min_repeats']} (up to {s['max_repeats']}) interleaved runs per "
         f"candidate; torch.compile {'on' if res['compile'] else 'off (--no-compile)'}")


def _print_case(case: dict[str, Any], echo: Callable[[str], None], device: str = "cpu") -> None:
    params = " ".join(f"{k}={v}" for k, v in case["params"].items())
    ref = "  [issue-2 reference size]" if case.get("reference_size") else ""
    if case["bandwidth_basis"] == "written":
        basis, nbytes = "bytes written", case["bytes_written"]
    else:
        basis, nbytes = "bytes read+written", case["bytes_read"] + case["bytes_written"]
    echo("")
    echo(f"{case['op']} {case['dtype']} {params}{ref}   ({basis}: {nbytes:,})")
    echo(f"  {'implementation':<16}{'median':>12}{'min':>12}{'GB/s':>9}{'x fill':>8}{'base/la':>9}  runs")
    fill_gbps = case["fill"]["gbps"]
    ratios = case["ratios"]
    for name in (_LA,) + _BASELINES:
        t = case["timings"].get(name)
        if t is None:
            continue
        label = _LABELS[name]
        if "median_s" not in t:
            if "skipped" in t:
                why = t["skipped"]
            else:
                first_line = (t.get("error") or "?").splitlines()[0]
                why = f"failed: {first_line[:90]} (full text in the JSON)"
            echo(f"  {label:<16}{why}")
            continue
        gbps = t["gbps"]
        frac = f"{gbps / fill_gbps:7.0%}" if gbps and fill_gbps else "      -"
        ratio = f"{ratios[name]:8.2f}x" if name in ratios and ratios[name] is not None else "        -"
        extra = f"  (compile {t['compile_s']:.1f} s)" if "compile_s" in t else ""
        echo(f"  {label:<16}{fmt_time(t['median_s']):>12}{fmt_time(t['min_s']):>12}{gbps:9.2f}{frac:>8}"
             f"{ratio}  {t['repeats']:>4}{extra}")
    fills = ", ".join(f"{k} {v['gbps']:.2f}" for k, v in case["fill"]["by"].items())
    what = "HBM fill" if device == "cuda" else "fill"
    frac_key = "fraction_of_hbm_fill" if device == "cuda" else "fraction_of_fill"
    frac, fmin = case.get(frac_key), case.get(frac_key + "_from_min_times")
    echo(f"  {what} GB/s ({case['fill']['buffer_bytes']:,} B buffer): {fills} -> best {fill_gbps:.2f}"
         f" ({case['fill']['best']}); latentatlas at {'-' if frac is None else f'{frac:.0%}'} of it"
         + (f" ({fmin:.0%} from min times)" if fmin is not None else ""))
    bad = [f"{_LABELS[k]} {v['max_rel_diff']:.1e}" for k, v in case["timings"].items()
           if v.get("max_rel_diff") is not None and v["max_rel_diff"] > (1e-3 if case["dtype"] == "float32" else 1e-9)]
    if bad:
        echo(f"  note: baseline output differs from latentatlas by (relative) {', '.join(bad)}")
    if case["targets"]:
        parts = []
        for tg in case["targets"]:
            val = tg["value"]
            shown = "-" if val is None else (f"{val:.0%}" if "fill" in tg["name"] else f"{val:.2f}x")
            parts.append(f"{tg['name']}: {_verdict(tg['passed'])} ({shown})")
        echo("  targets: " + " | ".join(parts))


def _print_summary(res: dict[str, Any], echo: Callable[[str], None]) -> None:
    rows = [(c, tg) for c in res["cpu"]["cases"] for tg in c["targets"]]
    if not rows:
        return
    echo("")
    echo("targets (issue 2, item 4; informational, never asserted):")
    for c, tg in rows:
        params = " ".join(f"{k}={v}" for k, v in c["params"].items())
        mark = "*" if c["reference_size"] else " "
        echo(f" {mark} {_verdict(tg['passed']):<5}{c['op']:<7}{c['dtype']:<8}{params:<28}{tg['name']}")
    echo(f"   load average at start {res['machine']['load_average_at_start']}, at end "
         f"{res['machine'].get('load_average_at_end')} ({res['machine']['logical_cores']} logical cores)")
    if not any(c["reference_size"] for c in res["cpu"]["cases"]):
        echo("   (no case ran at the issue's reference sizes; run without --quick for those)")
    else:
        echo("   * = the issue's reference size")


# ----------------------------------------------------------------------------- entry points


def run(*, quick: bool = False, threads: int | None = None, json_path: str | None = None,
        sizes: dict[str, Any] | None = None, torch_compile: bool = True, cuda: bool = True,
        echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Runs the kernel benchmark and returns its results as a JSON-ready dict.

    Args:
        quick: smaller sizes and fewer repeats (a short run, ~30 s with a warm compile cache).
        threads: threads for latentatlas, torch and numpy's BLAS (default: leave each as is).
        json_path: where to write the results as JSON (atomically); None writes nothing.
        sizes: ``{op: [case, ...]}`` overriding the default cases of the ops it names, with
            op in ``slerp, lerp, offset, score`` and a case like ``{"B": 4096, "T": 16,
            "D": 512, "dtype": "float32"}`` (offset: N, A, K, D; score: N, K, D).
        torch_compile: also time ``torch.compile`` of the torch expressions.
        cuda: run the CUDA section when a device is present.
        echo: where the readable table goes, line by line (None: silent).

    Returns:
        ``machine``, ``build``, ``threads``, ``versions``, ``settings``, ``cpu`` (its
        ``cases``, each with fill bandwidths, per-implementation medians, ratios, the
        fraction of fill bandwidth and the targets), ``cuda`` (its cases, or ``skipped``
        with the reason) and ``summary``; plus ``json_path`` when a file was written.

    Raises:
        ValueError, TypeError: bad ``threads`` or ``sizes``.
    """
    import latentatlas as la
    import torch

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    say: Callable[[str], None] = echo if echo is not None else (lambda _line: None)
    plan = {op: list(cases) for op, cases in (QUICK_SIZES if quick else FULL_SIZES).items()}
    if sizes is not None:
        plan.update(check_sizes(sizes))
    cfg = _QUICK if quick else _FULL
    started = time.time()
    rng = np.random.default_rng(0)

    with thread_counts(threads, torch) as thread_info:
        res: dict[str, Any] = {
            "benchmark": "latentatlas.bench.kernels",
            "schema": 1,
            "started_utc": utc_iso(started),
            "quick": bool(quick),
            "compile": bool(torch_compile),
            "machine": machine(),
            "build": la.backend_info(),
            "threads": thread_info,
            "versions": {"python": platform.python_version(), **module_versions("numpy", "torch", "latentatlas")},
            "settings": {"warmup": cfg.warmup, "min_repeats": cfg.min_repeats,
                         "max_repeats": cfg.max_repeats, "budget_s_per_candidate": cfg.budget_s},
            "cpu": {"cases": []},
        }
        _print_header(res, say)

        cases = [(op, spec) for op in OPS for spec in plan.get(op, [])]
        for op, spec in cases:
            case = _make_case(op, spec, rng)
            result = _run_cpu_case(case, cfg, torch_compile, torch)
            res["cpu"]["cases"].append(result)
            _print_case(result, say)
            del case
            gc.collect()

        say("")
        reason = cuda_unavailable_reason() if cuda else "disabled by the caller"
        if reason is not None:
            res["cuda"] = {"skipped": reason}
            say(f"CUDA: skipped: {reason}")
        else:
            res["cuda"] = {"device": torch.cuda.get_device_name(), "cases": []}
            say(f"CUDA: {res['cuda']['device']} (times from CUDA events; fraction of the device fill "
                "bandwidth measured beside each op)")
            for op, spec in cases:
                case = _make_case(op, spec, rng)
                try:
                    result = _run_cuda_case(case, cfg, torch_compile, torch)
                except Exception as exc:  # a device problem is recorded, the CPU results stay
                    res["cuda"]["cases"].append({"op": op, "dtype": case.dtype, "params": case.params,
                                                 "error": error_text(exc)})
                    say(f"  {op} {case.label} {case.dtype}: failed: {error_text(exc).splitlines()[0][:120]}")
                    continue
                res["cuda"]["cases"].append(result)
                _print_case(result, say, device="cuda")

    finished = time.time()
    res["finished_utc"] = utc_iso(finished)
    res["elapsed_s"] = finished - started
    res["machine"]["load_average_at_end"] = load_average()
    verdicts = [tg["passed"] for c in res["cpu"]["cases"] for tg in c["targets"]]
    res["summary"] = {"targets_passed": verdicts.count(True), "targets_missed": verdicts.count(False),
                      "targets_not_measured": verdicts.count(None)}
    _print_summary(res, say)
    res = jsonable(res)
    if json_path is not None:
        res["json_path"] = write_json(json_path, res)
    return res


def _sizes_arg(text: str) -> dict[str, Any]:
    try:
        if os.path.isfile(text):
            with open(text, encoding="utf-8") as fh:
                value = json.load(fh)
        else:
            value = json.loads(text)
        return check_sizes(value)
    except (OSError, ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"must be a JSON object (or a JSON file) of op -> cases: {exc}") from None


def build_parser(default_json: str = DEFAULT_JSON) -> argparse.ArgumentParser:
    """The command-line parser of the benchmark, writing to ``default_json`` unless
    ``--json`` says otherwise."""
    p = argparse.ArgumentParser(
        prog="bench_kernels",
        description="Benchmark latentatlas' kernels against numpy, torch eager and torch.compile, "
                    "with the fraction of the memory-fill bandwidth measured in the same run.")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (about 30 s)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads for latentatlas, torch and numpy's BLAS (default: as configured)")
    p.add_argument("--json", dest="json_path", default=default_json, metavar="PATH",
                   help=f"where to write the results (default: {default_json})")
    p.add_argument("--no-compile", dest="torch_compile", action="store_false", help="skip torch.compile")
    p.add_argument("--no-cuda", dest="cuda", action="store_false", help="skip the CUDA section")
    p.add_argument("--sizes", type=_sizes_arg, default=None, metavar="JSON",
                   help='override cases, e.g. \'{"score": [{"N": 1000, "K": 4, "D": 64}]}\' (or a JSON file)')
    return p


def main(argv: list[str] | None = None, *, default_json: str = DEFAULT_JSON) -> int:
    """Command-line entry point (``--json`` defaults to ``default_json``); returns the exit
    status (argparse exits 2 on bad arguments)."""
    args = build_parser(default_json).parse_args(argv)
    prefer_passive_omp()  # before torch loads: its spinning workers would slow what is timed next
    res = run(quick=args.quick, threads=args.threads, json_path=args.json_path, sizes=args.sizes,
              torch_compile=args.torch_compile, cuda=args.cuda)
    print(f"\nwrote {res['json_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
