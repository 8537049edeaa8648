"""Benchmark of :class:`~latentatlas.neighbors.NeighborIndex` against exact search (numpy
BLAS, and the library's own ``exact_search`` on the score kernel) and faiss's HNSW, in one
run, on latents encoded by the shipped models and on random latents; JSON out.

For each case (n vectors of dim d of a kind, see :data:`KINDS`):

- NeighborIndex as a new user gets it (``NeighborIndex(d, "cosine")``, recall target 0.95):
  recall@k measured against exact search, queries/s, build and calibration seconds
  (:func:`default_settings`);
- ground truth and exact baselines: exact cosine top-k by numpy (float32 BLAS on unit
  vectors + argpartition) and by faiss ``IndexFlatIP`` (its BLAS path), each timed
  before and after the HNSW sweeps, the faster kept; the targets compare against the
  fastest exact search measured, and the ratio to numpy is reported too;
- for each (M, efConstruction) in ``configs``: NeighborIndex (hnswlib, cosine) and faiss
  ``IndexHNSWFlat`` (inner product on unit vectors, normalisation timed), same threads;
  and, where the data's unit rows keep 99% of their energy in at most half the
  dimensions (:func:`choose_reduce_dim`), NeighborIndex with a reduced-dimension graph
  (``reduce_dim``) and exact full-dimension re-rank;
- every variant swept over the search breadth ef, the variants timed in turn within each
  round (so load changes on a shared machine hit all alike), median of the rounds;
- at the target recall: the queries/s of each variant at the smallest ef reaching it, and
  interpolated (log-QPS linear in recall between the two sweep points around the target),
  so all are compared at equal recall; then each library at its best variant
  (``best``, ``ratios.best_vs_*``) and at equal parameters
  (``ratios.equal_params_vs_faiss``: full-dimension graphs with the same M/efConstruction).

Kinds: "shapes" (n procedural shape images encoded by the shipped ``shapes-vae``; queries
are encodings of other images), "digits" (the 1,797 scikit-learn digits encoded by
``digits-vae``: the training split is stored, the others are the queries; n is ignored),
"prior" (samples of ``shapes-vae``'s Gaussian prior, what i.i.d. latents of a VAE look
like), "random" (i.i.d. N(0, 1) of any dim, the hard case for any graph index) and
"encoded" (a low-rank-plus-noise stand-in, kept for comparison). For the model kinds the
dim is the model's. Queries are out of sample. :func:`crossover` measures the size from
which the graph beats exact search.

Run: ``python -m latentatlas.bench.index --configs 16:100 32:200 --out index.json`` (or
``latentatlas bench --only index``, or ``bench/bench_index.py`` in a checkout; see
``--help``; a short look: ``--quick``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from .._arrays import check_int
from ..neighbors import NeighborIndex, exact_search, recall_at_k
from ._common import build_info, default_output, machine, module_versions, prefer_passive_omp, time_repeated, write_json

__all__ = ["KINDS", "case_latents", "crossover", "default_settings", "encoded_like", "random_latents", "qps_at_recall", "choose_reduce_dim", "parse_config", "run_case", "run",
           "machine_info", "summary_table", "main", "DEFAULT_EFS", "DEFAULT_JSON"]

DEFAULT_JSON = default_output("index.json")

DEFAULT_EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536)


KINDS = ("random", "encoded", "shapes", "digits", "prior")
MODEL_KINDS = ("shapes", "digits", "prior")
# The default cases of main(): kind:NxD (the model kinds take their dim from the model).
DEFAULT_CASES = ("shapes:100000", "digits", "prior:100000", "random:20000x64", "random:100000x512")


def case_latents(kind: str, n: int, d: int, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(stored, queries)`` float32 latents of a kind (see the module docstring)."""
    if kind == "random":
        return random_latents(n, d, np.random.default_rng(seed)), random_latents(n_queries, d, np.random.default_rng(seed + 1))
    if kind == "encoded":
        return (encoded_like(n, d, np.random.default_rng(seed)),
                encoded_like(n_queries, d, np.random.default_rng(seed + 1)))
    from .. import models, sampling

    if kind == "digits":
        from ..data.digits import load_digits

        data = load_digits()
        z = sampling.encode_batched(models.load("digits-vae"), data.images)
        train = np.asarray(data.split) == "train"
        return z[train], z[~train][:n_queries]
    model = models.load("shapes-vae")
    if kind == "prior":
        return sampling.sample_latents(model, n, seed=seed), sampling.sample_latents(model, n_queries, seed=seed + 1)
    from ..data.shapes import make_shapes

    parts, chunk = [], 10_000
    for i, start in enumerate(range(0, n + n_queries, chunk)):  # in chunks: 100k images are 1.2 GB
        images = make_shapes(min(chunk, n + n_queries - start), seed=seed + i).images
        parts.append(sampling.encode_batched(model, images))
    z = np.concatenate(parts)
    return z[:n], z[n:]


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


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)


def _numpy_topk(xn: np.ndarray, q: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    """Exact cosine top-k by float32 BLAS in query blocks. The selection partitions the
    similarities themselves (no negated copy: about 1.6x faster than ``argpartition(-s)``,
    the selection being most of the cost at k = 10)."""
    qn = _unit(q).astype(np.float32)
    n = xn.shape[0]
    out = np.empty((q.shape[0], k), dtype=np.int64)
    for s in range(0, q.shape[0], block):
        sims = qn[s:s + block] @ xn.T
        top = np.argpartition(sims, n - k, axis=1)[:, n - k:] if k < n else np.tile(np.arange(n), (len(sims), 1))
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[s:s + block] = np.take_along_axis(top, order, axis=1)
    return out


def parse_case(text: str) -> tuple[str, int, int]:
    """``"kind:NxD"`` (``"random:20000x64"``), ``"kind:N"`` or ``"kind"`` as
    ``(kind, n, dim)`` (defaults: n 100,000, dim 64; a model kind takes its model's dim)."""
    kind, _, size = text.partition(":")
    n_text, _, d_text = size.partition("x")
    if kind not in KINDS or not (n_text or "1").isdigit() or not (d_text or "1").isdigit():
        raise ValueError(f"a case is KIND[:N[xD]] with KIND one of {', '.join(KINDS)}, got {text!r}")
    return kind, int(n_text or 100_000), int(d_text or 64)


def parse_config(text: str) -> tuple[int, int]:
    """``"M:efC"`` (e.g. ``"16:100"``) as ``(M, ef_construction)``."""
    try:
        m, efc = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"a config is M:efConstruction, e.g. 16:100, got {text!r}") from None
    if m < 2 or efc < 1:
        raise ValueError(f"a config needs M >= 2 and efConstruction >= 1, got {text!r}")
    return m, efc


def choose_reduce_dim(x: np.ndarray, *, energy: float = 0.99, sample: int = 5000, seed: int = 0) -> int | None:
    """The smallest multiple of 8 of principal directions of the unit rows of ``x`` that
    keep ``energy`` of their (uncentred) second moment, from a seeded sample; None when
    that is more than half the dimension (a projected graph would not pay)."""
    d = x.shape[1]
    rows = np.random.default_rng(seed).choice(len(x), min(sample, len(x)), replace=False)
    u = _unit(x[np.sort(rows)].astype(np.float64))
    eig = np.linalg.eigvalsh(u.T @ u)[::-1]
    r = int(np.searchsorted(np.cumsum(eig) / eig.sum(), energy) + 1)
    r = min(d, 8 * math.ceil(r / 8))
    return r if 2 * r <= d else None


def _interleaved_sweeps(searchers: dict[str, Callable[[int], np.ndarray]], truth: np.ndarray,
                        efs: Sequence[int], k: int, stop_recall: float, rounds: int = 3,
                        budget_s: float = 3.0) -> dict[str, list[dict[str, float]]]:
    """Recall and queries/s of every searcher at each ef, the searchers timed in turn
    within each round (so a change in the machine's load hits all of them alike), median
    over the rounds; a searcher leaves the sweep once it reaches ``stop_recall``."""
    sweeps: dict[str, list[dict[str, float]]] = {name: [] for name in searchers}
    for search in searchers.values():
        search(max(efs[0], k))  # warm-up
    active = list(searchers)
    for ef in efs:
        if ef < k or not active:
            continue
        times: dict[str, list[float]] = {name: [] for name in active}
        found: dict[str, np.ndarray] = {}
        for _ in range(rounds):
            for name in active:
                start = time.perf_counter()
                found[name] = searchers[name](ef)
                times[name].append(time.perf_counter() - start)
            if sum(sum(t) for t in times.values()) > budget_s:
                break
        for name in list(active):
            point = {"ef": int(ef), "recall": recall_at_k(found[name], truth),
                     "qps": truth.shape[0] / float(np.median(times[name]))}
            sweeps[name].append(point)
            if point["recall"] >= stop_recall:
                active.remove(name)
    return sweeps


def run_case(n: int, d: int, kind: str, *, n_queries: int = 1000, k: int = 10,
             configs: Sequence[tuple[int, int]] = ((16, 100),), reduce: bool = True,
             efs: Sequence[int] = DEFAULT_EFS, target: float = 0.95, threads: int = -1, seed: int = 0,
             exact_score_queries: int = 200, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """One benchmark case; see the module docstring. Returns a JSON-ready dict."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not configs:
        raise ValueError("configs is empty: give at least one (M, efConstruction)")
    x, q = case_latents(kind, n, d, n_queries, seed)
    n, d, n_queries = x.shape[0], x.shape[1], q.shape[0]
    tag = f"[{kind} {n}x{d}]"
    case: dict[str, Any] = {"n": n, "dim": d, "kind": kind, "queries": n_queries, "k": k, "space": "cosine",
                            "configs": [list(c) for c in configs], "target_recall": target}

    xn = _unit(x).astype(np.float32)
    seconds, truth = time_repeated(lambda: _numpy_topk(xn, q, k))
    case["exact_numpy"] = {"qps": n_queries / seconds, "seconds": seconds}
    log(f"{tag} exact numpy (float32 BLAS + argpartition): {n_queries / seconds:,.0f} q/s")
    case["exact_faiss"] = _faiss_flat(xn, q, truth, k, threads)
    if case["exact_faiss"]:
        log(f"{tag} exact faiss IndexFlatIP: {case['exact_faiss']['qps']:,.0f} q/s")

    sub = q[:min(exact_score_queries, n_queries)]
    seconds, (found, _) = time_repeated(lambda: exact_search(x, sub, k, "cosine"), repeats=1)
    case["exact_score"] = {"qps": sub.shape[0] / seconds, "recall": recall_at_k(found, truth[:sub.shape[0]])}
    log(f"{tag} exact_search (score kernel): {sub.shape[0] / seconds:,.0f} q/s")

    case["default"] = default_settings(x, q, truth, k, threads)
    log(f"{tag} NeighborIndex with default settings: {case['default']}")
    searchers: dict[str, Callable[[int], np.ndarray]] = {}
    variants: dict[str, dict[str, Any]] = {}
    for m, efc in configs:
        name = f"neighborindex M{m} efC{efc}"
        index = NeighborIndex(d, "cosine", M=m, ef_construction=efc, num_threads=threads, exact_below=0)
        build = _build(lambda index=index: index.add(x))
        searchers[name] = lambda ef, index=index: index.query(q, k, ef=ef)[0]
        variants[name] = {"library": "neighborindex", "M": m, "ef_construction": efc, "reduce_dim": None,
                          "build_s": build}
        log(f"{tag} {name}: build {build:.1f} s")
        faiss_search = _faiss_hnsw(xn, q, k, m, efc, threads)
        if faiss_search is not None:
            name = f"faiss_hnsw M{m} efC{efc}"
            searchers[name], build = faiss_search
            variants[name] = {"library": "faiss_hnsw", "M": m, "ef_construction": efc, "build_s": build}
            log(f"{tag} {name}: build {build:.1f} s")
    r = choose_reduce_dim(x, seed=seed) if reduce else None
    case["reduce_dim"] = r
    if r is not None:
        for m, efc in configs:
            name = f"neighborindex_reduced r{r} M{m} efC{efc}"
            index = NeighborIndex(d, "cosine", M=m, ef_construction=efc, num_threads=threads, reduce_dim=r,
                                  exact_below=0)
            build = _build(lambda index=index: index.add(x))
            searchers[name] = lambda ef, index=index: index.query(q, k, ef=ef)[0]
            variants[name] = {"library": "neighborindex", "M": m, "ef_construction": efc, "reduce_dim": r,
                              "build_s": build}
            log(f"{tag} {name}: build {build:.1f} s")
    if not any(v["library"] == "faiss_hnsw" for v in variants.values()):
        log(f"{tag} faiss not installed: skipped (pip install faiss-cpu)")

    stop = min(0.999, max(target + 0.03, 0.99))
    for name, sweep in _interleaved_sweeps(searchers, truth, efs, k, stop).items():
        variants[name].update(sweep=sweep, at_target=qps_at_recall(sweep, target))
        log(f"{tag} {name}: {variants[name]['at_target']}")
    # The machine's load may have changed during the sweeps: time exact search again and
    # keep the faster measurement (the conservative choice for the ratios against it).
    seconds, _ = time_repeated(lambda: _numpy_topk(xn, q, k))
    case["exact_numpy"]["qps_after"] = n_queries / seconds
    case["exact_numpy"]["qps"] = max(case["exact_numpy"]["qps"], n_queries / seconds)
    again = _faiss_flat(xn, q, truth, k, threads)
    if again:
        case["exact_faiss"]["qps_after"] = again["qps"]
        case["exact_faiss"]["qps"] = max(case["exact_faiss"]["qps"], again["qps"])
    log(f"{tag} exact q/s after the sweeps: numpy {n_queries / seconds:,.0f}"
        + (f", faiss flat {again['qps']:,.0f}" if again else ""))
    case["variants"] = variants
    case.update(_compare(case, configs))
    return case


def default_settings(x: np.ndarray, q: np.ndarray, truth: np.ndarray, k: int, threads: int) -> dict[str, Any]:
    """NeighborIndex as a new user gets it (``NeighborIndex(d, "cosine")``): build and
    calibration seconds (calibration as a fraction of the build), its estimated and its
    measured recall@k on ``q`` against ``truth``, queries/s, and whether it searches exactly."""
    index = NeighborIndex(x.shape[1], "cosine", num_threads=threads)
    build = _build(lambda: index.add(x))
    calibrate = _build(lambda: index.estimated_recall(k))
    seconds, (found, _) = time_repeated(lambda: index.query(q, k))
    entry = index.calibration().get(k, {})
    return {"build_s": build, "calibration_s": calibrate, "calibration_fraction": calibrate / max(build, 1e-9),
            "estimated_recall": index.estimated_recall(k), "recall": recall_at_k(found, truth),
            "qps": len(q) / seconds, "ef": entry.get("ef"), "exact": not index.has_graph or entry.get("ef") is None}


def crossover(d: int, sizes: Sequence[int], *, k: int = 10, n_queries: int = 200, threads: int = -1,
              seed: int = 0, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Where the graph starts to beat exact search: for each size, i.i.d. Gaussian
    ``(n, d)`` latents, queries/s of the native exact search and of the graph
    (``exact_below=0``) at the smallest ef of :data:`DEFAULT_EFS` reaching recall 0.95 on
    the queries; ``"crossover"`` is the smallest size from which
    the graph is faster at every larger size measured (None if never)."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        x, q = random_latents(n, d, rng), random_latents(n_queries, d, rng)
        index = NeighborIndex(d, "cosine", num_threads=threads, exact_below=0)
        index.add(x)
        exact_s, (truth, _) = time_repeated(lambda: index.query(q, k, exact=True))
        # the graph at the smallest ef of the sweep that reaches recall 0.95 on these queries
        ef = next((e for e in DEFAULT_EFS if e >= k and recall_at_k(index.query(q, k, ef=e)[0], truth) >= 0.95), n)
        graph_s, _ = time_repeated(lambda: index.query(q, k, ef=ef))
        rows.append({"n": n, "exact_qps": n_queries / exact_s, "graph_qps": n_queries / graph_s, "ef": ef})
        log(f"[crossover {n}x{d}] {rows[-1]}")
    point = None
    for row in reversed(rows):
        if row["graph_qps"] <= row["exact_qps"]:
            break
        point = row["n"]
    return {"dim": d, "k": k, "sizes": rows, "crossover": point}


def _build(add: Callable[[], Any]) -> float:
    start = time.perf_counter()
    add()
    return time.perf_counter() - start


def _best(variants: dict[str, dict[str, Any]], library: str) -> tuple[str | None, float]:
    """The variant of ``library`` with the most queries/s at the target recall."""
    best, qps = None, 0.0
    for name, v in variants.items():
        if v["library"] == library and v["at_target"] and v["at_target"]["qps_interpolated"] > qps:
            best, qps = name, v["at_target"]["qps_interpolated"]
    return best, qps


def _compare(case: dict[str, Any], configs: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Ratios at the target recall: each library at its best variant, and at equal
    parameters (full-dimension graphs, same M and efConstruction); the targets against
    the fastest exact search measured."""
    variants = case["variants"]
    exact = {"numpy": case["exact_numpy"]["qps"]}
    if case["exact_faiss"]:
        exact["faiss_flat"] = case["exact_faiss"]["qps"]
    fastest = max(exact, key=exact.get)
    ours, ours_qps = _best(variants, "neighborindex")
    theirs, theirs_qps = _best(variants, "faiss_hnsw")
    have_faiss = any(v["library"] == "faiss_hnsw" for v in variants.values())
    best = {"neighborindex": ours, "faiss_hnsw": theirs, "neighborindex_qps": ours_qps or None,
            "faiss_qps": theirs_qps or None, "fastest_exact": fastest}
    ratios: dict[str, Any] = {}
    if ours:
        ratios["best_vs_exact_numpy"] = ours_qps / exact["numpy"]
        ratios["best_vs_fastest_exact"] = ours_qps / exact[fastest]
        if theirs:
            ratios["best_vs_best_faiss"] = ours_qps / theirs_qps
    equal = {}
    for m, efc in configs:
        a = variants.get(f"neighborindex M{m} efC{efc}", {}).get("at_target")
        b = variants.get(f"faiss_hnsw M{m} efC{efc}", {}).get("at_target")
        equal[f"M{m} efC{efc}"] = a["qps_interpolated"] / b["qps_interpolated"] if a and b else None
    ratios["equal_params_vs_faiss"] = equal
    targets = {"recall": ours is not None,
               "20x_exact": ratios.get("best_vs_fastest_exact", 0.0) >= 20.0,
               "20x_exact_numpy": ratios.get("best_vs_exact_numpy", 0.0) >= 20.0,
               # None where there is nothing to compare: no faiss, or neither reaches the target
               "no_worse_than_faiss": (None if not have_faiss or not (ours or theirs)
                                       else bool(ours) and (not theirs or ours_qps >= theirs_qps))}
    return {"best": best, "ratios": ratios, "targets_met": targets}


def _faiss_flat(xn: np.ndarray, q: np.ndarray, truth: np.ndarray, k: int, threads: int) -> dict[str, Any] | None:
    """faiss's exact inner-product search (its BLAS path) on the unit vectors, the query
    normalisation timed; None without faiss."""
    try:
        import faiss
    except ImportError:
        return None
    if threads > 0:
        faiss.omp_set_num_threads(threads)
    flat = faiss.IndexFlatIP(xn.shape[1])
    flat.add(xn)
    seconds, found = time_repeated(lambda: flat.search(np.ascontiguousarray(_unit(q), dtype=np.float32), k)[1])
    return {"qps": q.shape[0] / seconds, "seconds": seconds, "recall": recall_at_k(found, truth)}


def _faiss_hnsw(xn: np.ndarray, q: np.ndarray, k: int, M: int, ef_construction: int,
                threads: int) -> tuple[Callable[[int], np.ndarray], float] | None:
    """A built faiss ``IndexHNSWFlat`` (inner product on unit vectors) as a search(ef)
    function, and its build time; None without faiss."""
    try:
        import faiss
    except ImportError:
        return None
    if threads > 0:
        faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(xn.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    build = _build(lambda: index.add(xn))

    def search(ef: int) -> np.ndarray:
        index.hnsw.efSearch = ef
        return index.search(np.ascontiguousarray(_unit(q), dtype=np.float32), k)[1]

    return search, build


def machine_info(threads: int) -> dict[str, Any]:
    """The machine (:func:`latentatlas.bench._common.machine`), the build, the thread count
    and the versions of numpy, hnswlib and faiss (None when not installed); printed first
    and stored in the JSON."""
    return {**machine(), "threads": threads, "backend": build_info(), **module_versions("numpy", "hnswlib", "faiss")}


def run(*, n: int = 100_000, dims: Sequence[int] = (64, 512), kinds: Sequence[str] = ("random", "encoded"),
        n_queries: int = 1000, k: int = 10, configs: Sequence[tuple[int, int]] = ((16, 100),),
        reduce: bool = True, efs: Sequence[int] = DEFAULT_EFS, target: float = 0.95, threads: int = -1, seed: int = 0,
        log: Callable[[str], None] = lambda s: None, crossover_sizes: Sequence[int] = (),
        cases: Sequence[tuple[str, int, int]] | None = None, on_case: Callable[[dict[str, Any]], None] = lambda result: None) -> dict[str, Any]:
    """Runs every (dim, kind) case in one process; returns ``{"machine": ..., "cases": [...]}``.
    numpy's BLAS is limited to ``threads`` as well (threadpoolctl) so all searchers get the
    same cores. ``on_case`` gets the result so far after each case (for partial writes).
    With ``crossover_sizes``, :func:`crossover` runs first at the first dim. ``cases``:
    ``(kind, n, dim)`` triples instead of every (dim, kind) at ``n`` (a model kind runs
    once, at its model's dim)."""
    n = check_int("n", n, 1)
    k = check_int("k", k, 1)
    n_queries = check_int("n_queries", n_queries, 1)
    if k > n:
        raise ValueError(f"k = {k} is larger than n = {n}")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must lie in (0, 1], got {target}")
    threads_used = (os.cpu_count() or 1) if threads == -1 else check_int("threads", threads, 1)
    info = machine_info(threads_used)
    log(", ".join(f"{key} {info[key]}" for key in ("cpu_model", "threads", "hnswlib", "faiss")))
    from threadpoolctl import threadpool_limits

    result: dict[str, Any] = {"machine": info, "cases": []}
    with threadpool_limits(threads_used):
        if crossover_sizes:
            result["crossover"] = crossover(dims[0], crossover_sizes, k=k, threads=threads_used, seed=seed, log=log)
            on_case(result)
        if cases is None:
            cases = [(kind, n, d) for d in dims for kind in kinds if kind not in MODEL_KINDS]
            cases += [(kind, n, dims[0]) for kind in kinds if kind in MODEL_KINDS]
        for kind, size, d in cases:
            result["cases"].append(run_case(size, d, kind, n_queries=n_queries, k=k, configs=configs,
                                            reduce=reduce, efs=efs, target=target,
                                            threads=threads_used, seed=seed, log=log))
            on_case(result)
    return result


def summary_table(result: dict[str, Any]) -> str:
    """A plain-text table: per case, every variant's build time and queries/s at the
    target recall, then the exact baselines and the ratios (best of each library, and
    equal parameters)."""
    nan = float("nan")
    lines = []
    for c in result["cases"]:
        exact = c["exact_numpy"]["qps"]
        flat = (c["exact_faiss"] or {}).get("qps", nan)
        flat_text = f", faiss flat {flat:,.0f}" if c["exact_faiss"] else ""
        lines.append(f"{c['kind']} {c['n']}x{c['dim']}  (recall@{c['k']} target {c['target_recall']}; "
                     f"exact q/s: numpy {exact:,.0f}{flat_text})")
        lines.append(f"  {'variant':<40}{'build s':>9}{'ef@R':>7}{'q/s@R':>10}{'vs numpy':>10}{'vs fastest':>11}")
        fastest = max(exact, flat if flat == flat else 0.0)
        for name, v in c["variants"].items():
            at = v["at_target"] or {}
            qps = at.get("qps_interpolated", nan)
            lines.append(f"  {name:<40}{v['build_s']:>9.1f}{at.get('ef', '-'):>7}{qps:>10,.0f}"
                         f"{qps / exact:>10.1f}{qps / fastest:>11.1f}")
        dflt = c.get("default")
        if dflt:
            lines.append(f"  default settings: recall {dflt['recall']:.3f} (estimated {dflt['estimated_recall']:.3f}), "
                         f"{dflt['qps']:,.0f} q/s, " + ("exact" if dflt["exact"] else f"ef {dflt['ef']}")
                         + f"; calibration {dflt['calibration_s']:.2f} s = {100 * dflt['calibration_fraction']:.0f}% "
                         f"of the {dflt['build_s']:.1f} s build")
        r = c["ratios"]
        equal = ", ".join(f"{key} {val:.2f}" if val else f"{key} -" for key, val in r["equal_params_vs_faiss"].items())
        if not any(v["library"] == "faiss_hnsw" for v in c["variants"].values()):
            lines.append("  faiss: not installed, no comparison (pip install faiss-cpu)")
        else:
            lines.append(f"  best ours / best faiss: {r.get('best_vs_best_faiss') or nan:.2f} "
                         f"({c['best']['neighborindex']} vs {c['best']['faiss_hnsw']}); equal params ours/faiss: {equal}")
        lines.append(f"  targets met: {c['targets_met']}")
    cross = result.get("crossover")
    if cross:
        lines.append(f"crossover (i.i.d. Gaussian, dim {cross['dim']}, recall@{cross['k']} 0.95): graph faster from "
                     f"{cross['crossover']} vectors; " + ", ".join(
                         f"{r['n']}: exact {r['exact_qps']:,.0f} vs graph {r['graph_qps']:,.0f} q/s" for r in cross["sizes"]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, default_out: str = DEFAULT_JSON) -> int:
    """Command line: runs :func:`run` and writes the JSON (atomically) to ``--out``
    (default: ``default_out``)."""
    parser = argparse.ArgumentParser(prog="bench_index", description="NeighborIndex vs exact search vs faiss HNSW")
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="KIND[:N[xD]]",
                        help=f"the cases (default: {' '.join(DEFAULT_CASES)}); --n/--dims/--kinds instead run "
                             "every (dim, kind) at one size")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--dims", type=int, nargs="+", default=None)
    parser.add_argument("--kinds", nargs="+", default=None, choices=KINDS)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--configs", nargs="+", default=["16:100"], metavar="M:EFC",
                        help="HNSW (M, efConstruction) pairs, each built for both libraries")
    parser.add_argument("--no-reduce", action="store_true",
                        help="skip the reduced-dimension NeighborIndex variant")
    parser.add_argument("--efs", type=int, nargs="+", default=list(DEFAULT_EFS))
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crossover", type=int, nargs="*", default=[512, 1024, 2048, 4096, 8192],
                        metavar="N", help="sizes at which to time exact search against the graph (none: skip)")
    parser.add_argument("--quick", action="store_true", help="a short look: at most 20k vectors, 200 queries")
    parser.add_argument("--out", default=default_out, help=f"where to write the results (default: {default_out})")
    args = parser.parse_args(argv)
    try:
        cases = None
        if args.n is None and args.dims is None and args.kinds is None:
            cases = [parse_case(c) for c in args.cases]
        configs = [parse_config(c) for c in args.configs]
    except ValueError as exc:
        parser.error(str(exc))
    args.n = 100_000 if args.n is None else args.n
    args.dims = [64, 512] if args.dims is None else args.dims
    args.kinds = ["random", "encoded"] if args.kinds is None else args.kinds
    if args.quick:
        args.n, args.queries = min(args.n, 20_000), min(args.queries, 200)
        cases = cases and [(kind, min(size, 20_000), d) for kind, size, d in cases]
    # Before faiss loads libgomp: spinning OpenMP threads make faiss collapse on a busy machine.
    prefer_passive_omp()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    def save(result: dict[str, Any]) -> None:  # after every case, so an interrupted run keeps its cases
        write_json(args.out, result)

    result = run(n=args.n, dims=args.dims, kinds=args.kinds, n_queries=args.queries, k=args.k, configs=configs,
                 reduce=not args.no_reduce, efs=sorted(args.efs), target=args.target,
                 threads=args.threads, seed=args.seed, log=log, on_case=save, crossover_sizes=args.crossover,
                 cases=cases)
    print(summary_table(result))
    print(f"wrote {args.out}")
    return 0
