"""Benchmark of :class:`~latentatlas.neighbors.NeighborIndex` against exact search (numpy
BLAS, and the library's own ``exact_search`` on the score kernel) and faiss's HNSW, in one
run, on random and encoded-like latents; JSON out.

For each case (n vectors of dim d, "random" or "encoded"):

- ground truth: exact cosine top-k by numpy (float32 BLAS on unit vectors), timed as the
  exact-search baseline (the normalised data count as its "index", the query
  normalisation is timed);
- NeighborIndex (hnswlib, cosine) and faiss ``IndexHNSWFlat`` (inner product on unit
  vectors, normalisation timed) with the same M, efConstruction and threads: build time,
  then a sweep of the search breadth ef with queries/s and recall@k at each point;
- at the target recall: the queries/s of each HNSW at the smallest ef reaching it, and
  interpolated (log-QPS linear in recall between the two sweep points around the target),
  so both are compared at equal recall.

"encoded" latents are a stand-in for encoder outputs (no 100k-image encoder run here):
a mixture of 10 clusters in a random ``rank``-dimensional subspace plus isotropic noise,
i.e. low intrinsic dimension like real encodings; "random" is i.i.d. N(0, 1), the hard case
for any graph index. Queries are fresh draws from the same distribution (out of sample).

Run: ``python bench/bench_index.py --out bench/results/index.json`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from ._files import atomic_write
from ._validate import check_int
from .neighbors import NeighborIndex, exact_search, recall_at_k

__all__ = ["encoded_like", "random_latents", "qps_at_recall", "run_case", "run", "main", "DEFAULT_EFS"]

DEFAULT_EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536)


def random_latents(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, d)`` i.i.d. standard normal float32 latents (a Gaussian prior's samples)."""
    return rng.standard_normal((n, d), dtype=np.float32)


def encoded_like(n: int, d: int, rng: np.random.Generator, *, rank: int | None = None, clusters: int = 10,
                 noise: float = 0.1, basis_seed: int = 12345) -> np.ndarray:
    """``(n, d)`` float32 stand-ins for encoder outputs: ``clusters`` Gaussian clusters in a
    fixed random ``rank``-dimensional subspace (default ``max(8, d // 8)``), plus
    ``noise``-scaled isotropic noise. The subspace and cluster centres depend only on
    ``basis_seed``, so data and queries drawn with different ``rng`` share them."""
    n = check_int("n", n, 0)
    d = check_int("d", d, 1)
    r = min(d, max(8, d // 8)) if rank is None else check_int("rank", rank, 1)
    fixed = np.random.default_rng(basis_seed + 7919 * d + r)
    basis = fixed.standard_normal((r, d)) / math.sqrt(r)
    centres = 2.0 * fixed.standard_normal((clusters, r))
    low = centres[rng.integers(clusters, size=n)] + rng.standard_normal((n, r))
    return (low @ basis + noise * rng.standard_normal((n, d))).astype(np.float32)


def qps_at_recall(sweep: Sequence[dict[str, float]], target: float) -> dict[str, Any] | None:
    """From a sweep of ``{"ef", "recall", "qps"}`` points (in increasing ef), the first point
    reaching ``target`` recall and the queries/s interpolated at exactly ``target``
    (log-QPS linear in recall between that point and the one before; the point's own QPS
    when it is the first). None when no point reaches the target."""
    for i, point in enumerate(sweep):
        if point["recall"] >= target:
            qps = point["qps"]
            if i > 0 and sweep[i - 1]["recall"] < target < point["recall"]:
                prev = sweep[i - 1]
                frac = (target - prev["recall"]) / (point["recall"] - prev["recall"])
                qps = math.exp(math.log(prev["qps"]) + frac * (math.log(point["qps"]) - math.log(prev["qps"])))
            return {"ef": point["ef"], "recall": point["recall"], "qps": point["qps"], "qps_interpolated": qps}
    return None


def _timed(fn: Callable[[], Any], *, repeats: int = 3, budget_s: float = 2.0) -> tuple[float, Any]:
    """Median wall time of ``fn`` over up to ``repeats`` runs (fewer when a run is slow)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget_s:
            break
    return float(np.median(times)), result


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)


def _numpy_topk(xn: np.ndarray, q: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    qn = _unit(q)
    out = np.empty((q.shape[0], k), dtype=np.int64)
    for s in range(0, q.shape[0], block):
        sims = qn[s:s + block] @ xn.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[s:s + block] = np.take_along_axis(top, order, axis=1)
    return out


def _sweep(search: Callable[[int], np.ndarray], truth: np.ndarray, efs: Sequence[int], k: int,
           stop_recall: float) -> list[dict[str, float]]:
    points = []
    search(max(efs[0], k))  # warm-up
    for ef in efs:
        if ef < k:
            continue
        seconds, found = _timed(lambda: search(ef))
        points.append({"ef": int(ef), "recall": recall_at_k(found, truth), "qps": truth.shape[0] / seconds})
        if points[-1]["recall"] >= stop_recall:
            break
    return points


def run_case(n: int, d: int, kind: str, *, n_queries: int = 1000, k: int = 10, M: int = 16,
             ef_construction: int = 100, efs: Sequence[int] = DEFAULT_EFS, target: float = 0.95,
             threads: int = -1, seed: int = 0, exact_score_queries: int = 200,
             log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """One benchmark case; see the module docstring. Returns a JSON-ready dict."""
    if kind not in ("random", "encoded"):
        raise ValueError(f"kind must be 'random' or 'encoded', got {kind!r}")
    make = random_latents if kind == "random" else encoded_like
    x = make(n, d, np.random.default_rng(seed))
    q = make(n_queries, d, np.random.default_rng(seed + 1))
    case: dict[str, Any] = {"n": n, "dim": d, "kind": kind, "queries": n_queries, "k": k, "space": "cosine",
                            "M": M, "ef_construction": ef_construction, "target_recall": target}

    xn = _unit(x)
    seconds, truth = _timed(lambda: _numpy_topk(xn, q, k))
    case["exact_numpy"] = {"qps": n_queries / seconds, "seconds": seconds}
    log(f"[{kind} {n}x{d}] exact numpy: {n_queries / seconds:,.0f} q/s")

    sub = q[:min(exact_score_queries, n_queries)]
    seconds, (found, _) = _timed(lambda: exact_search(x, sub, k, "cosine"), repeats=1)
    case["exact_score"] = {"qps": sub.shape[0] / seconds, "recall": recall_at_k(found, truth[:sub.shape[0]])}
    log(f"[{kind} {n}x{d}] exact_search (score kernel): {sub.shape[0] / seconds:,.0f} q/s")

    stop = min(0.999, max(target + 0.03, 0.99))
    index = NeighborIndex(d, "cosine", M=M, ef_construction=ef_construction, num_threads=threads)
    start = time.perf_counter()
    index.add(x)
    build = time.perf_counter() - start
    sweep = _sweep(lambda ef: index.query(q, k, ef=ef)[0], truth, efs, k, stop)
    case["neighborindex"] = {"build_s": build, "sweep": sweep, "at_target": qps_at_recall(sweep, target)}
    log(f"[{kind} {n}x{d}] NeighborIndex: build {build:.1f} s, {case['neighborindex']['at_target']}")
    del index

    case["faiss_hnsw"] = _faiss_case(x, q, truth, k, M, ef_construction, efs, target, stop, threads, log,
                                     f"[{kind} {n}x{d}]")
    ours = case["neighborindex"]["at_target"]
    theirs = (case["faiss_hnsw"] or {}).get("at_target")
    ratios: dict[str, Any] = {}
    if ours:
        ratios["neighborindex_vs_exact_numpy"] = ours["qps_interpolated"] / case["exact_numpy"]["qps"]
        if theirs:
            ratios["neighborindex_vs_faiss"] = ours["qps_interpolated"] / theirs["qps_interpolated"]
    case["ratios"] = ratios
    case["targets_met"] = {
        "recall": ours is not None,
        "20x_exact": ratios.get("neighborindex_vs_exact_numpy", 0.0) >= 20.0,
        "no_worse_than_faiss": ratios.get("neighborindex_vs_faiss", 0.0) >= 1.0 if theirs else None,
    }
    return case


def _faiss_case(x: np.ndarray, q: np.ndarray, truth: np.ndarray, k: int, M: int, ef_construction: int,
                efs: Sequence[int], target: float, stop: float, threads: int, log: Callable[[str], None],
                tag: str) -> dict[str, Any] | None:
    try:
        import faiss
    except ImportError:
        log(f"{tag} faiss not installed: skipped (pip install faiss-cpu)")
        return None
    if threads > 0:
        faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(x.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    start = time.perf_counter()
    index.add(np.ascontiguousarray(_unit(x), dtype=np.float32))
    build = time.perf_counter() - start

    def search(ef: int) -> np.ndarray:
        index.hnsw.efSearch = ef
        return index.search(np.ascontiguousarray(_unit(q), dtype=np.float32), k)[1]

    sweep = _sweep(search, truth, efs, k, stop)
    result = {"build_s": build, "sweep": sweep, "at_target": qps_at_recall(sweep, target),
              "version": faiss.__version__}
    log(f"{tag} faiss HNSW: build {build:.1f} s, {result['at_target']}")
    return result


def machine_info(threads: int) -> dict[str, Any]:
    """Machine, build and thread count, printed first and stored in the JSON."""
    from . import ops

    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu_count": os.cpu_count(), "threads": threads, "numpy": np.__version__,
                            "backend": ops.backend_info(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        info["cpu"] = platform.processor() or None
    for name in ("hnswlib", "faiss"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "installed")
        except ImportError:
            info[name] = None
    return info


def run(*, n: int = 100_000, dims: Sequence[int] = (64, 512), kinds: Sequence[str] = ("random", "encoded"),
        n_queries: int = 1000, k: int = 10, M: int = 16, ef_construction: int = 100,
        efs: Sequence[int] = DEFAULT_EFS, target: float = 0.95, threads: int = -1, seed: int = 0,
        log: Callable[[str], None] = lambda s: None,
        on_case: Callable[[dict[str, Any]], None] = lambda result: None) -> dict[str, Any]:
    """Runs every (dim, kind) case in one process; returns ``{"machine": ..., "cases": [...]}``.
    numpy's BLAS is limited to ``threads`` as well (threadpoolctl) so all searchers get the
    same cores. ``on_case`` gets the result so far after each case (for partial writes)."""
    n = check_int("n", n, 1)
    k = check_int("k", k, 1)
    n_queries = check_int("n_queries", n_queries, 1)
    if k > n:
        raise ValueError(f"k = {k} is larger than n = {n}")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must lie in (0, 1], got {target}")
    threads_used = (os.cpu_count() or 1) if threads == -1 else check_int("threads", threads, 1)
    info = machine_info(threads_used)
    log(json.dumps({key: info[key] for key in ("cpu", "threads", "hnswlib", "faiss")}))
    from threadpoolctl import threadpool_limits

    result: dict[str, Any] = {"machine": info, "cases": []}
    with threadpool_limits(threads_used):
        for d in dims:
            for kind in kinds:
                result["cases"].append(run_case(n, d, kind, n_queries=n_queries, k=k, M=M,
                                                ef_construction=ef_construction, efs=efs, target=target,
                                                threads=threads_used, seed=seed, log=log))
                on_case(result)
    return result


def summary_table(result: dict[str, Any]) -> str:
    """A plain-text table of the headline numbers."""
    lines = [f"{'case':<20}{'build s (ours/faiss)':>22}{'exact q/s':>11}{'ours q/s@R':>12}{'faiss q/s@R':>12}"
             f"{'ours/exact':>11}{'ours/faiss':>11}"]
    for c in result["cases"]:
        ours, faiss_case = c["neighborindex"], c["faiss_hnsw"] or {}
        o, f = ours["at_target"] or {}, faiss_case.get("at_target") or {}
        lines.append(f"{c['kind'] + ' ' + str(c['n']) + 'x' + str(c['dim']):<20}"
                     f"{ours['build_s']:>10.1f} / {faiss_case.get('build_s', float('nan')):<9.1f}"
                     f"{c['exact_numpy']['qps']:>11,.0f}{o.get('qps_interpolated', float('nan')):>12,.0f}"
                     f"{f.get('qps_interpolated', float('nan')):>12,.0f}"
                     f"{c['ratios'].get('neighborindex_vs_exact_numpy', float('nan')):>11.1f}"
                     f"{c['ratios'].get('neighborindex_vs_faiss', float('nan')):>11.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: runs :func:`run` and writes the JSON (atomically) to ``--out``."""
    parser = argparse.ArgumentParser(description="NeighborIndex vs exact search vs faiss HNSW")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--kinds", nargs="+", default=["random", "encoded"], choices=["random", "encoded"])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--efs", type=int, nargs="+", default=list(DEFAULT_EFS))
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("bench", "results", "index.json"))
    args = parser.parse_args(argv)
    # OpenMP's default spin-waiting makes faiss collapse on a busy shared machine (every
    # thread spins for cores others hold); passive waiting is fairer to it. Must be set
    # before faiss loads libgomp; an explicit setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    def save(result: dict[str, Any]) -> None:  # after every case, so an interrupted run keeps its cases
        def write(tmp: str) -> None:
            with open(tmp, "w") as f:
                json.dump(result, f, indent=2)

        atomic_write(args.out, write)

    result = run(n=args.n, dims=args.dims, kinds=args.kinds, n_queries=args.queries, k=args.k, M=args.M,
                 ef_construction=args.ef_construction, efs=sorted(args.efs), target=args.target,
                 threads=args.threads, seed=args.seed, log=log, on_case=save)
    print(summary_table(result))
    print(f"wrote {args.out}")
    return 0
