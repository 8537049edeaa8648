"""What the benchmarks share: the machine and build they ran on, thread counts, timing,
JSON output and plain-text tables.

Everything here is independent of the command line (nothing from ``latentatlas.commands``
or ``latentatlas.cli``) and of the checkout: default outputs go to a folder relative to
the current directory (:data:`DEFAULT_DIR`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from .._arrays import check_int
from .._files import atomic_open, jsonable

__all__ = ["DEFAULT_DIR", "default_output", "positive_int", "Repeats", "machine", "load_average", "build_info",
           "module_versions", "cuda_unavailable_reason", "thread_counts", "prefer_passive_omp", "cpu_timer",
           "cuda_event_timer", "measure_interleaved", "time_repeated", "summarise_times", "error_text",
           "write_json", "utc_iso", "fmt_time", "format_table"]

#: Where the benchmarks write their JSON by default, relative to the current directory.
DEFAULT_DIR = "latentatlas-bench"


def default_output(name: str) -> str:
    """The default path of a benchmark's output file ``name``: ``latentatlas-bench/<name>``."""
    return os.path.join(DEFAULT_DIR, name)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a one-line usage error otherwise)."""
    try:
        return check_int("value", int(text), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None


# ----------------------------------------------------------------------------- machine and build


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (rounded), or None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine() -> dict[str, Any]:
    """The machine a benchmark runs on: platform, CPU model, cores (all and usable),
    memory, load average and OpenMP wait policy; printed first and stored in the JSON."""
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": affinity,
        "memory_gb": _mem_total_gb(),
        "load_average_at_start": load_average(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def build_info() -> dict[str, Any]:
    """How the native core was built (:func:`latentatlas.backend_info`)."""
    from .. import ops

    return ops.backend_info()


def module_versions(*names: str) -> dict[str, str | None]:
    """The version of each named module (``"installed"`` when it has none), None where it
    cannot be imported (optional baselines such as faiss)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            found[name] = None
            continue
        found[name] = str(getattr(module, "__version__", "installed"))
    return found


def cuda_unavailable_reason() -> str | None:
    """Why latentatlas' CUDA kernels cannot be benchmarked here (a sentence), or None when
    they can: torch needs a CUDA device and latentatlas its _cuda module seeing it."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        built = getattr(torch.version, "cuda", None)
        return (f"torch {torch.__version__} sees no CUDA device"
                + ("" if built else " (it is a CPU-only build of torch)"))
    info = build_info()
    if not info.get("cuda_built"):
        return "latentatlas' _cuda module was not built (no nvcc at build time; rebuild with LATENTATLAS_CUDA=ON)"
    if int(info.get("cuda_devices", 0)) <= 0:
        return "latentatlas' _cuda module sees no CUDA device"
    return None


def prefer_passive_omp() -> None:
    """Sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it.

    OpenMP workers (torch's, faiss's) spin after each parallel region by default, taking
    cores from whatever is timed next; on a shared machine that penalises whichever
    candidate follows them. It only takes effect before the OpenMP runtime loads, so the
    entry points call it first; the value used is recorded in :func:`machine`.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@contextlib.contextmanager
def thread_counts(threads: int | None, torch: Any) -> Iterator[dict[str, Any]]:
    """Sets latentatlas', torch's and numpy's BLAS thread counts for the block (None:
    leaves each as it is), yields the counts in force, and restores them afterwards."""
    from .. import ops

    prev_la, prev_torch = ops.get_num_threads(), torch.get_num_threads()
    limiter = None
    blas: Any = None
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None  # type: ignore[assignment]
    try:
        if threads is not None:
            ops.set_num_threads(threads)
            torch.set_num_threads(threads)
            if threadpoolctl is not None:
                limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
        if threadpoolctl is not None:
            blas = [p.get("num_threads") for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
            blas = blas[0] if len(blas) == 1 else (blas or None)
        yield {
            "requested": threads,
            "latentatlas": ops.get_num_threads(),
            "torch": torch.get_num_threads(),
            "numpy_blas": blas if blas is not None else "unknown (threadpoolctl not installed)",
        }
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        ops.set_num_threads(prev_la)
        torch.set_num_threads(prev_torch)


# ----------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Repeats:
    """How often each candidate runs: ``warmup`` untimed runs, then at least
    ``min_repeats`` timed ones, and more (up to ``max_repeats``) while its time spent
    stays under ``budget_s``."""

    warmup: int
    min_repeats: int
    max_repeats: int
    budget_s: float


def cpu_timer(fn: Callable[[], Any]) -> float:
    """Wall time of one call of ``fn`` in seconds."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure_interleaved(cands: Mapping[str, Callable[[], Any]], timer: Callable[[Callable[[], Any]], float],
                        repeats: Repeats) -> dict[str, list[float]]:
    """Times the candidates in interleaved rounds until each has its repeats or budget;
    returns each candidate's samples in seconds.

    Interleaving means that load from other processes falls on all candidates alike,
    rather than on whichever happened to be running when it came; the start of each
    round rotates so no candidate always follows the same one.
    """
    names = list(cands)
    samples: dict[str, list[float]] = {k: [] for k in names}
    spent = dict.fromkeys(names, 0.0)
    rnd = 0
    while True:
        active = [k for k in names
                  if len(samples[k]) < repeats.min_repeats
                  or (len(samples[k]) < repeats.max_repeats and spent[k] < repeats.budget_s)]
        if not active:
            return samples
        shift = rnd % len(active)
        for k in active[shift:] + active[:shift]:
            dt = timer(cands[k])
            samples[k].append(dt)
            spent[k] += dt
        rnd += 1


def cuda_event_timer(torch: Any, inner: int = 1) -> Callable[[Callable[[], Any]], float]:
    """A timer for :func:`measure_interleaved` on the current CUDA stream: the seconds
    between CUDA events recorded around one call, divided by ``inner`` (the calls the
    timed function makes back to back, so the GPU never waits for Python between them)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timer(fn: Callable[[], Any]) -> float:
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / inner

    return timer


def time_repeated(fn: Callable[[], Any], *, repeats: int = 3, budget_s: float = 2.0) -> tuple[float, Any]:
    """Median wall time of ``fn`` over up to ``repeats`` runs (fewer once ``budget_s`` is
    spent), and the last run's result."""
    times: list[float] = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget_s:
            break
    return float(statistics.median(times)), result


def summarise_times(samples: Sequence[float], nbytes: int) -> dict[str, Any]:
    """Median, min, max and count of ``samples`` (seconds), and the rate in GB/s at which
    the median moves ``nbytes``."""
    if not samples:
        raise ValueError("no timing samples to summarise")
    med = statistics.median(samples)
    return {
        "median_s": med,
        "min_s": min(samples),
        "max_s": max(samples),
        "repeats": len(samples),
        "gbps": nbytes / med / 1e9 if med > 0 else None,
        "samples_s": [float(s) for s in samples],
    }


def error_text(exc: BaseException, limit: int = 2400) -> str:
    """The error as text; long ones keep their head (what failed) and tail (the compiler's why)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if len(text) <= limit:
        return text
    return text[: limit // 4] + "\n ... \n" + text[-(3 * limit) // 4:]


# ----------------------------------------------------------------------------- JSON


def write_json(path: str | os.PathLike[str], data: Any) -> str:
    """Writes ``data`` to ``path`` as strict JSON (:func:`latentatlas._files.jsonable`: numpy
    values as Python numbers, NaN and infinities as null), atomically (a reader never sees
    a half-written file), creating its folder; returns the absolute path."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_open(path, "w") as fh:
        fh.write(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")
    return path


def utc_iso(timestamp: float) -> str:
    """A ``time.time()`` value as an ISO 8601 UTC timestamp to the second."""
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- printing


def fmt_time(s: float | None) -> str:
    """Seconds as a fixed-width time in s, ms or us; ``-`` for None."""
    if s is None:
        return "-"
    if s >= 1.0:
        return f"{s:8.3f} s "
    if s >= 1e-3:
        return f"{s * 1e3:8.2f} ms"
    return f"{s * 1e6:8.1f} us"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[int] = ()) -> str:
    """A plain-text table: a header line, a rule, and one line per row, each column as
    wide as its widest cell; the columns numbered in ``right`` are right-aligned. None
    cells print as ``-``."""
    if any(len(row) != len(headers) for row in rows):
        raise ValueError(f"every row must have {len(headers)} cells, one per header")
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])
