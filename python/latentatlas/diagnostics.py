"""How far encoded data sits from the prior (section 4 of the paper).

"Given sufficient test data, the extent to which an encoded dataset deviates from the
expected prior should be quantifiable … including the probability that random samples
fall outside of the expected manifold of encoded data." :func:`prior_gap` measures it,
on one scale for any model with a ``"gaussian"`` (N(0, I)) or ``"uniform"`` (U(−1, 1)ᴰ)
prior, and :func:`compare` sets two models' reports side by side.

What the report holds (:class:`PriorGapReport`):

- per dimension: the encodings' mean and variance and the Kolmogorov–Smirnov statistic
  (with its p-value) against the prior's marginal;
- **active units**: dimensions whose encoded means vary, ``Var_x(z_d) > threshold · Var_prior``
  (Burda, Grosse and Salakhutdinov 2016 use ``Cov_x(E_q[z_d | x]) > 10⁻²`` for a
  N(0, 1) prior; here the threshold is relative to the prior's marginal variance, 1 for
  the Gaussian and 1/3 for U(−1, 1), default 0.01). Encode a VAE with its posterior
  means (what :meth:`~latentatlas.models.VAE.encode` returns) for this criterion;
- the norm distribution against the prior's (the chi distribution with D degrees of
  freedom for the Gaussian, a large seeded Monte-Carlo sample for the uniform): mean,
  SD, and the fraction of encodings below the prior's 1st and above its 99th norm
  percentile;
- MMD² (unbiased) between the encodings and prior samples, with a Gaussian kernel
  ``exp(−|x − y|² / (2h²))`` whose bandwidth ``h`` is the median pairwise distance of the
  pooled points (the median heuristic), and a permutation p-value: the kernel matrix is
  computed once and every permutation's statistic comes from one matrix product;
- the **off-manifold probability**: the fraction of prior samples whose nearest encoded
  neighbour is farther than the ``q``-quantile (default 0.99) of the encodings'
  nearest-neighbour distances to each other (self excluded), with the same fraction at a
  range of ``q`` (the off-manifold curve). Neighbours come from exact search on the
  native kernels (:func:`latentatlas.neighbors.exact_search`) or, above
  ``exact_limit`` encodings, from :class:`~latentatlas.neighbors.NeighborIndex`.

Calibration: on samples drawn from the prior itself every statistic reads "no gap": KS
statistics of order ``1/√N``, active units = D, norm fractions ≈ 1 % each side, an MMD
p-value uniform on (0, 1], and an off-manifold probability ≈ ``1 − q`` (the tests check
this at several sizes and seeds, and that scaled, shifted and collapsed dimensions are
detected).
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

import numpy as np

from ._arrays import check_int, finite_floats, is_number
from ._files import atomic_open, jsonable
from ._protocol import check_prior

__all__ = ["PriorGapReport", "prior_gap", "compare", "format_comparison", "mmd_test", "ks_statistics",
           "prior_cdf", "prior_pdf", "norm_pdf", "prior_norm_percentiles", "nearest_distances", "draw_report",
           "CURVE_QS"]

#: The ``q`` values of the off-manifold curve (the report's own ``q`` is added to them).
CURVE_QS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
_PRIOR_VAR = {"gaussian": 1.0, "uniform": 1.0 / 3.0}
_MC_NORMS = 200_000  # prior samples behind the uniform prior's norm percentiles


# ----------------------------------------------------------------------------- the prior


def _prior_of(prior: Any, dim: int) -> str:
    """The prior's name from a name or a model (whose ``latent_dim`` must be ``dim``)."""
    if isinstance(prior, str):
        return check_prior(prior)
    if not hasattr(prior, "prior") or not hasattr(prior, "latent_dim"):
        raise TypeError(f"prior must be 'gaussian', 'uniform' or a model with .prior and .latent_dim, "
                        f"got {type(prior).__name__}")
    if int(prior.latent_dim) != dim:
        raise ValueError(f"the latents have size {dim} but the model's latent_dim is {prior.latent_dim}")
    return check_prior(prior.prior)


def prior_cdf(x: Any, prior: str) -> np.ndarray:
    """The prior's marginal CDF at ``x`` (float64): Φ for ``"gaussian"``, U(−1, 1)'s for ``"uniform"``."""
    from scipy.special import ndtr

    x = np.asarray(x, dtype=np.float64)
    if check_prior(prior) == "gaussian":
        return ndtr(x)
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)


def prior_pdf(x: Any, prior: str) -> np.ndarray:
    """The prior's marginal density at ``x`` (float64)."""
    x = np.asarray(x, dtype=np.float64)
    if check_prior(prior) == "gaussian":
        return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return np.where(np.abs(x) <= 1.0, 0.5, 0.0)


def norm_pdf(r: Any, dim: int, prior: str = "gaussian") -> np.ndarray:
    """The density of ``|z|`` for z from the Gaussian prior in ``dim`` dimensions: the chi
    distribution with ``dim`` degrees of freedom (the uniform prior has no closed form;
    ValueError)."""
    from scipy.stats import chi

    dim = check_int("dim", dim, 1)
    if check_prior(prior) != "gaussian":
        raise ValueError("the norm density is only in closed form for the gaussian prior (chi distribution)")
    return chi.pdf(np.asarray(r, dtype=np.float64), dim)


def prior_norm_percentiles(dim: int, prior: str, percentiles: Sequence[float] = (1.0, 99.0)) -> np.ndarray:
    """Percentiles (in %) of ``|z|`` under the prior: exact chi quantiles for the Gaussian,
    a seeded Monte-Carlo estimate from 200 000 samples for the uniform."""
    from scipy.stats import chi

    dim = check_int("dim", dim, 1)
    p = np.asarray(percentiles, dtype=np.float64)
    if check_prior(prior) == "gaussian":
        return chi.ppf(p / 100.0, dim)
    norms = _uniform_norms(dim)
    return np.percentile(norms, p)


@functools.lru_cache(maxsize=8)
def _uniform_norms(dim: int) -> np.ndarray:
    """Norms of 200 000 seeded U(-1, 1)^dim samples (read-only; cached per dim)."""
    rng = np.random.default_rng(12345)
    out = np.empty(_MC_NORMS)
    step = max(1, 4_000_000 // dim)
    for s in range(0, _MC_NORMS, step):
        u = rng.uniform(-1.0, 1.0, (min(step, _MC_NORMS - s), dim))
        out[s:s + len(u)] = np.sqrt(np.einsum("ij,ij->i", u, u))
    out.flags.writeable = False
    return out


def _norm_moments(dim: int, prior: str) -> tuple[float, float]:
    """Mean and SD of ``|z|`` under the prior."""
    from scipy.special import gammaln

    if prior == "gaussian":
        mean = math.sqrt(2.0) * math.exp(gammaln((dim + 1) / 2.0) - gammaln(dim / 2.0))
        return mean, math.sqrt(max(dim - mean * mean, 0.0))
    norms = _uniform_norms(dim)
    return float(norms.mean()), float(norms.std())


def _sample_prior(n: int, dim: int, prior: str, rng: np.random.Generator) -> np.ndarray:
    if prior == "gaussian":
        return rng.standard_normal((n, dim))
    return rng.uniform(-1.0, 1.0, (n, dim))


# ----------------------------------------------------------------------------- statistics


def ks_statistics(latents: Any, prior: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension one-sample Kolmogorov–Smirnov statistics of ``latents (N, D)``
    against the prior's marginal, with their exact two-sided p-values.

    Returns:
        ``(statistics, p_values)``, each ``(D,)`` float64.
    """
    from scipy.stats import kstwo

    z = _as_latents(latents)
    n = z.shape[0]
    cdf = prior_cdf(np.sort(z, axis=0), prior)
    i = np.arange(1, n + 1, dtype=np.float64)[:, None]
    stat = np.maximum((i / n - cdf).max(axis=0), (cdf - (i - 1) / n).max(axis=0))
    return stat, kstwo.sf(stat, n)


def _sq_distances(z: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between all rows, summed term by term (scipy's cdist):
    the Gram-matrix shortcut loses digits to cancellation between nearby points."""
    from scipy.spatial.distance import cdist

    return cdist(z, z, "sqeuclidean")


def _mmd_from_sums(kxx: np.ndarray, kxy: np.ndarray, kyy: np.ndarray, n: int, m: int) -> np.ndarray:
    """Unbiased MMD² from the sums of the kernel blocks (diagonals of ones included)."""
    return (kxx - n) / (n * (n - 1)) + (kyy - m) / (m * (m - 1)) - 2.0 * kxy / (n * m)


def _assignment_stats(K: np.ndarray, A: np.ndarray, n: int) -> np.ndarray:
    """MMD² for each row of ``A (P, N)``, a 0/1 vector marking which pooled points form
    the first sample (n ones), from the pooled kernel matrix ``K`` in one matrix product."""
    m = K.shape[0] - n
    row = K.sum(axis=1)
    total = row.sum()
    kxx = np.einsum("pi,ip->p", A, K @ A.T)
    ar = A @ row
    kxy = ar - kxx
    kyy = total - 2.0 * ar + kxx
    return _mmd_from_sums(kxx, kxy, kyy, n, m)


def mmd_test(x: Any, y: Any, *, n_permutations: int = 200, seed: int = 0,
             bandwidth: float | None = None) -> dict[str, float]:
    """Kernel two-sample test: unbiased MMD² between ``x (n, D)`` and ``y (m, D)`` with a
    Gaussian kernel and a permutation p-value.

    The bandwidth ``h`` of ``k(a, b) = exp(−|a − b|² / (2h²))`` is the median distance
    between distinct pooled points unless given. The pooled kernel matrix is computed
    once; each permutation relabels the pooled points and its statistic is read from one
    matrix product with all the relabellings, so the cost is one ``(n+m)² × P`` GEMM.
    The p-value is ``(1 + #{permuted ≥ observed}) / (1 + P)``.

    Returns:
        ``{"mmd2", "p_value", "bandwidth", "n_permutations", "n_x", "n_y"}``.

    Raises:
        ValueError: fewer than two points in a sample, different sizes D, NaN/Inf, a
            non-positive bandwidth; TypeError: non-float data or a non-int count.
    """
    a = _as_latents(x, "x", minimum=2).astype(np.float64)
    b = _as_latents(y, "y", minimum=2).astype(np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y must have the same number of columns, got {a.shape} and {b.shape}")
    P = check_int("n_permutations", n_permutations, 1)
    n, m = len(a), len(b)
    pooled = np.concatenate([a, b])
    d2 = _sq_distances(pooled)
    if bandwidth is None:
        off = np.sqrt(d2[np.triu_indices(len(pooled), 1)])
        h = float(np.median(off))
        if h <= 0.0:  # more than half the pairs coincide: fall back to the mean distance
            h = float(off.mean())
        if h <= 0.0:
            h = 1.0  # every point the same: both samples are one point, MMD² is 0
    else:
        if not (is_number(bandwidth) and math.isfinite(bandwidth) and bandwidth > 0):
            raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
        h = float(bandwidth)
    K = np.exp(-d2 / (2.0 * h * h))
    first = np.zeros((1, n + m))
    first[0, :n] = 1.0
    observed = float(_assignment_stats(K, first, n)[0])
    rng = np.random.default_rng(seed)
    chosen = np.argsort(rng.random((P, n + m)), axis=1)[:, :n]
    A = np.zeros((P, n + m))
    np.put_along_axis(A, chosen, 1.0, axis=1)
    perm = _assignment_stats(K, A, n)
    exceed = int(np.count_nonzero(perm >= observed - 1e-12 * max(1.0, abs(observed))))
    return {"mmd2": observed, "p_value": (1 + exceed) / (1 + P), "bandwidth": h, "n_permutations": P,
            "n_x": n, "n_y": m}


def nearest_distances(reference: Any, queries: Any | None = None, *, exact_limit: int = 20000) -> np.ndarray:
    """Euclidean distance from each query to its nearest row of ``reference``; with
    ``queries=None``, from each reference row to its nearest *other* row (self excluded).

    Exact search on the native score kernel (:func:`latentatlas.neighbors.exact_search`,
    squared L2) up to ``exact_limit`` reference rows; above, a
    :class:`~latentatlas.neighbors.NeighborIndex` (L2, exact re-ranking of its candidates).
    """
    from .neighbors import NeighborIndex, exact_search

    ref = _as_latents(reference, "reference", minimum=2 if queries is None else 1)
    exact_limit = check_int("exact_limit", exact_limit, 2)
    self_query = queries is None
    q = ref if self_query else _as_latents(queries, "queries")
    if q.shape[1] != ref.shape[1]:
        raise ValueError(f"queries must have {ref.shape[1]} columns, got shape {q.shape}")
    k = 2 if self_query else 1
    if len(ref) <= exact_limit:
        ids, d2 = exact_search(ref, q, k, space="l2")
    else:
        index = NeighborIndex(ref.shape[1], space="l2", M=16, ef_construction=200, ef=max(64, 4 * k))
        index.add(ref)
        ids, d2 = index.query(q, k, rerank=True)
    d2 = d2.astype(np.float64)
    if self_query:  # the nearest row other than the query itself (a duplicate may come first)
        rows = np.arange(len(ref))
        pick = np.where(ids[:, 0] == rows, 1, 0)
        d2 = d2[rows, pick]
    else:
        d2 = d2[:, 0]
    return np.sqrt(np.maximum(d2, 0.0))


def _as_latents(x: Any, name: str = "latents", minimum: int = 1) -> np.ndarray:
    z = finite_floats(x, name)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"{name} must be 2-D (N, D) with D >= 1, got shape {z.shape}")
    if z.shape[0] < minimum:
        raise ValueError(f"{name} needs at least {minimum} rows, got {z.shape[0]}")
    return z.astype(np.float64, copy=False)


# ----------------------------------------------------------------------------- the report


@dataclass
class PriorGapReport:
    """What :func:`prior_gap` measured. Every field is plain data; :meth:`to_dict` is
    JSON-able (through :func:`latentatlas._files.jsonable`) and :meth:`save` writes it."""

    prior: str
    dim: int
    n: int                         # encodings measured (per-dimension statistics and norms)
    seed: int
    dim_mean: list[float]          # per dimension
    dim_var: list[float]
    dim_ks: list[float]
    dim_ks_p: list[float]
    active_units: int
    active_threshold: float        # relative to the prior's marginal variance
    norm: dict[str, float]         # mean, sd, prior_mean, prior_sd, prior_p01, prior_p99, below_p01, above_p99, outside
    mmd: dict[str, float]          # mmd2, p_value, bandwidth, n_permutations, n_x, n_y
    off_manifold: float
    q: float
    off_manifold_threshold: float  # the q-quantile of the encodings' NN distances
    n_neighbors: int               # encodings in the neighbour set
    n_prior: int                   # prior samples queried
    curve: dict[str, list[float]] = field(default_factory=dict)  # {"q": [...], "fraction": [...]}
    label: str = ""
    off_manifold_active: float | None = None  # the same on the active units only (None: none active)

    @property
    def max_ks(self) -> float:
        """The largest per-dimension KS statistic."""
        return float(max(self.dim_ks))

    @property
    def mean_ks(self) -> float:
        """The mean per-dimension KS statistic."""
        return float(np.mean(self.dim_ks))

    def dims_by_ks(self) -> list[int]:
        """Dimension indices from the most prior-like (smallest KS) to the least."""
        return [int(i) for i in np.argsort(np.asarray(self.dim_ks), kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (with ``max_ks`` and ``mean_ks``)."""
        d = jsonable(asdict(self))
        d["max_ks"], d["mean_ks"] = self.max_ks, self.mean_ks
        return d

    def save(self, path: str | os.PathLike) -> str:
        """Writes :meth:`to_dict` as JSON to ``path`` atomically; returns the path."""
        with atomic_open(path, "w") as fh:
            fh.write(json.dumps(self.to_dict(), indent=2, allow_nan=False))
        return os.fspath(path)

    @classmethod
    def from_dict(cls, data: Any) -> "PriorGapReport":
        """A report from :meth:`to_dict`'s data (e.g. a ``report.json`` read back).

        Raises:
            ValueError: not a mapping, missing fields, per-dimension lists of the wrong length.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a prior-gap report must be a JSON object, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data and n not in ("curve", "label", "off_manifold_active")]
        if missing:
            raise ValueError(f"not a prior-gap report: missing {', '.join(missing)}")
        report = cls(**{n: data[n] for n in names if n in data})
        for name in ("dim_mean", "dim_var", "dim_ks", "dim_ks_p"):
            values = getattr(report, name)
            if not isinstance(values, list) or len(values) != report.dim:
                raise ValueError(f"not a prior-gap report: {name} must list {report.dim} values")
        check_prior(report.prior)
        return report

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PriorGapReport":
        """A report written by :meth:`save`.

        Raises:
            ValueError: unreadable or invalid JSON, or not a report (see :meth:`from_dict`).
        """
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read the report {os.fspath(path)!r}: {exc}") from None
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)!r}: {exc}") from None

    def summary(self) -> str:
        """The report as a few lines of text (what ``latentatlas diagnose`` prints)."""
        nm, mm = self.norm, self.mmd
        worst = self.dims_by_ks()[::-1][:3]
        lines = [
            f"prior gap{' of ' + self.label if self.label else ''}: {self.n} encodings of size {self.dim} "
            f"against the {self.prior} prior (seed {self.seed})",
            f"  per dimension: KS mean {self.mean_ks:.3f}, max {self.max_ks:.3f} "
            f"(least prior-like: {', '.join(f'z{i} {self.dim_ks[i]:.3f}' for i in worst)})",
            f"  active units: {self.active_units} of {self.dim} (variance of the means > "
            f"{self.active_threshold:g} x the prior's)",
            f"  norm: mean {nm['mean']:.3f} sd {nm['sd']:.3f} (prior {nm['prior_mean']:.3f} sd {nm['prior_sd']:.3f}); "
            f"{100 * nm['below_p01']:.1f}% below the prior's 1st percentile, {100 * nm['above_p99']:.1f}% "
            f"above its 99th",
            f"  MMD²: {mm['mmd2']:.4g} (bandwidth {mm['bandwidth']:.3g}, {mm['n_x']} vs {mm['n_y']} points), "
            f"permutation p = {mm['p_value']:.3g} ({mm['n_permutations']} permutations)",
            f"  off-manifold probability: {100 * self.off_manifold:.1f}% of {self.n_prior} prior samples lie "
            f"farther from every encoding than {100 * self.q:g}% of encodings from their nearest "
            f"(no gap: {100 * (1 - self.q):.1f}%)",
        ]
        if self.active_units < self.dim:
            active = "-" if self.off_manifold_active is None else f"{100 * self.off_manifold_active:.1f}%"
            lines.append(f"  off-manifold probability on the {self.active_units} active units only: {active}")
        return "\n".join(lines)


def prior_gap(latents: Any, prior: Any = "gaussian", *, seed: int = 0, q: float = 0.99,
              n_prior: int | None = None, active_threshold: float = 0.01, n_permutations: int = 200,
              mmd_points: int = 1000, max_points: int = 20000, exact_limit: int = 20000,
              label: str = "") -> PriorGapReport:
    """How far encodings sit from the prior (the paper's section 4); see the module docstring.

    Args:
        latents: ``(N, D)`` encodings (N >= 10), numpy or a CPU tensor; for a VAE its
            posterior means.
        prior: ``"gaussian"``, ``"uniform"``, or a model (its ``prior`` and ``latent_dim``).
        seed: seeds the prior samples, the subsamples and the permutations.
        q: the off-manifold quantile, in (0, 1).
        n_prior: prior samples for the off-manifold probability (default: as many as
            encodings in the neighbour set).
        active_threshold: a dimension is active when the variance of its encodings exceeds
            this fraction of the prior's marginal variance.
        n_permutations: permutations of the MMD test.
        mmd_points: points per side in the MMD test (a seeded subsample of the encodings
            when there are more, and as many prior samples).
        max_points: encodings in the neighbour set (a seeded subsample when there are more).
        exact_limit: exact neighbour search up to this many encodings, the HNSW index above.
        label: a name for the report (e.g. the model's).

    Returns:
        A :class:`PriorGapReport`.

    Raises:
        ValueError: bad shapes, NaN/Inf, fewer than 10 encodings, q outside (0, 1), an
            unknown prior, a model of another latent size.
        TypeError: non-float latents, non-int counts, a prior that is neither a name nor a model.
    """
    z = _as_latents(latents, minimum=10)
    n, dim = z.shape
    prior_name = _prior_of(prior, dim)
    seed = check_int("seed", seed, 0)
    if not (is_number(q) and 0.0 < float(q) < 1.0):
        raise ValueError(f"q must be a number in (0, 1), got {q!r}")
    q = float(q)
    if not (is_number(active_threshold) and math.isfinite(active_threshold) and active_threshold >= 0):
        raise ValueError(f"active_threshold must be a non-negative number, got {active_threshold!r}")
    n_permutations = check_int("n_permutations", n_permutations, 1)
    mmd_points = check_int("mmd_points", mmd_points, 2)
    max_points = check_int("max_points", max_points, 10)
    if n_prior is not None:
        n_prior = check_int("n_prior", n_prior, 1)
    if not isinstance(label, str):
        raise TypeError(f"label must be a string, got {type(label).__name__}")
    rng = np.random.default_rng(seed)

    mean = z.mean(axis=0)
    var = z.var(axis=0, ddof=1)
    ks, ks_p = ks_statistics(z, prior_name)
    active = int(np.count_nonzero(var > active_threshold * _PRIOR_VAR[prior_name]))

    norms = np.sqrt(np.einsum("ij,ij->i", z, z))
    p01, p99 = prior_norm_percentiles(dim, prior_name)
    prior_mean, prior_sd = _norm_moments(dim, prior_name)
    below, above = float(np.mean(norms < p01)), float(np.mean(norms > p99))
    norm = {"mean": float(norms.mean()), "sd": float(norms.std(ddof=1)), "prior_mean": prior_mean,
            "prior_sd": prior_sd, "prior_p01": float(p01), "prior_p99": float(p99), "below_p01": below,
            "above_p99": above, "outside": below + above}

    mmd_rows = rng.choice(n, mmd_points, replace=False) if n > mmd_points else np.arange(n)
    mmd_prior = _sample_prior(len(mmd_rows), dim, prior_name, rng)
    mmd = mmd_test(z[mmd_rows], mmd_prior, n_permutations=n_permutations, seed=seed)

    nn_rows = np.sort(rng.choice(n, max_points, replace=False)) if n > max_points else np.arange(n)
    ref = z[nn_rows]
    m = len(ref) if n_prior is None else n_prior
    probes = _sample_prior(m, dim, prior_name, rng)
    within = nearest_distances(ref, exact_limit=exact_limit)
    outside = nearest_distances(ref, probes, exact_limit=exact_limit)
    qs = np.unique(np.append(np.asarray(CURVE_QS), q))
    thresholds = np.quantile(within, qs)
    fractions = (outside[:, None] > thresholds[None, :]).mean(axis=0)
    at_q = int(np.flatnonzero(qs == q)[0])
    # The same measure on the active units alone: a decoder mostly ignores collapsed
    # dimensions, whose spread would otherwise dominate every distance.
    keep = np.flatnonzero(var > active_threshold * _PRIOR_VAR[prior_name])
    if keep.size == dim:
        off_active: float | None = float(fractions[at_q])
    elif keep.size == 0:
        off_active = None
    else:
        sub_within = nearest_distances(ref[:, keep], exact_limit=exact_limit)
        sub_outside = nearest_distances(ref[:, keep], probes[:, keep], exact_limit=exact_limit)
        off_active = float(np.mean(sub_outside > np.quantile(sub_within, q)))
    return PriorGapReport(
        prior=prior_name, dim=dim, n=n, seed=seed, dim_mean=mean.tolist(), dim_var=var.tolist(),
        dim_ks=ks.tolist(), dim_ks_p=ks_p.tolist(), active_units=active, active_threshold=float(active_threshold),
        norm=norm, mmd=mmd, off_manifold=float(fractions[at_q]), q=q,
        off_manifold_threshold=float(thresholds[at_q]), n_neighbors=len(ref), n_prior=m,
        curve={"q": qs.tolist(), "fraction": fractions.tolist()}, label=label, off_manifold_active=off_active)


# ----------------------------------------------------------------------------- comparing


#: (row label, how to read it from a report, what "no gap" reads)
_ROWS: list[tuple[str, Any, str]] = [
    ("latent size", lambda r: r.dim, ""),
    ("encodings", lambda r: r.n, ""),
    ("prior", lambda r: r.prior, ""),
    ("mean KS statistic", lambda r: r.mean_ks, "~1/sqrt(N)"),
    ("max KS statistic", lambda r: r.max_ks, "small"),
    ("active units", lambda r: f"{r.active_units}/{r.dim}", "D/D"),
    ("norm mean / prior's", lambda r: r.norm["mean"] / r.norm["prior_mean"], "1"),
    ("norm SD / prior's", lambda r: r.norm["sd"] / r.norm["prior_sd"] if r.norm["prior_sd"] else float("nan"), "1"),
    ("norms outside the prior's 1-99%", lambda r: r.norm["outside"], "0.02"),
    ("MMD²", lambda r: r.mmd["mmd2"], "~0"),
    ("MMD permutation p-value", lambda r: r.mmd["p_value"], "not small"),
    ("off-manifold probability", lambda r: r.off_manifold, "1 - q"),
    ("off-manifold, active units only", lambda r: r.off_manifold_active, "1 - q"),
]


def compare(report_a: PriorGapReport, report_b: PriorGapReport, *,
            names: Sequence[str] | None = None) -> dict[str, Any]:
    """Two reports side by side: ``{"names": [a, b], "q": [qa, qb], "rows": [{"metric",
    a, b, "no_gap"}, ...]}`` with the scale-free rows (KS, active units, norm ratios,
    fractions, MMD and its p-value, off-manifold probability). Names default to the
    reports' labels (else ``"a"``, ``"b"``)."""
    for i, r in enumerate((report_a, report_b)):
        if not isinstance(r, PriorGapReport):
            raise TypeError(f"report {'ab'[i]} must be a PriorGapReport, got {type(r).__name__}")
    if names is None:
        names = [report_a.label or "a", report_b.label or "b"]
    names = [str(x) for x in names]
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two different names, got {names!r}")
    rows = [{"metric": label, names[0]: read(report_a), names[1]: read(report_b), "no_gap": ideal}
            for label, read, ideal in _ROWS]
    return jsonable({"names": names, "q": [report_a.q, report_b.q], "rows": rows})


def format_comparison(comparison: dict[str, Any]) -> str:
    """:func:`compare`'s result as an aligned text table."""
    a, b = comparison["names"]

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    table = [("metric", a, b, "no gap")] + [(r["metric"], cell(r[a]), cell(r[b]), r["no_gap"])
                                           for r in comparison["rows"]]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in table)


# ----------------------------------------------------------------------------- figures


def draw_report(report: PriorGapReport, latents: Any, folder: str | os.PathLike, *, prefix: str = "",
                n_dims: int = 3) -> dict[str, str]:
    """The report's three figures, written into ``folder`` (PNG):

    - ``{prefix}dims.png``: histograms of the ``n_dims`` most and ``n_dims`` least
      prior-like dimensions (by KS statistic) against the prior's marginal density;
    - ``{prefix}norms.png``: the histogram of encoded norms against the prior's norm
      density (chi for the Gaussian; for the uniform prior, the histogram of 200 000
      prior norms);
    - ``{prefix}off_manifold.png``: the off-manifold probability over ``q`` against the
      ``1 − q`` of no gap.

    ``latents`` are the encodings the report measured. Returns ``{"dims", "norms",
    "off_manifold"}`` → paths.
    """
    from . import plots

    if not isinstance(report, PriorGapReport):
        raise TypeError(f"report must be a PriorGapReport, got {type(report).__name__}")
    z = _as_latents(latents)
    if z.shape != (report.n, report.dim):
        raise ValueError(f"latents must be the report's ({report.n}, {report.dim}) encodings, got shape {z.shape}")
    n_dims = check_int("n_dims", n_dims, 1)
    folder = os.fspath(folder)
    order = report.dims_by_ks()
    k = min(n_dims, (report.dim + 1) // 2)
    chosen = [(d, "most") for d in order[:k]] + [(d, "least") for d in order[::-1][:k] if d not in order[:k]]
    half = 4.0 if report.prior == "gaussian" else 1.3
    xs = np.linspace(-half, half, 241)
    panels = [(f"z{d} ({which} prior-like), KS {report.dim_ks[d]:.3f}", z[:, d], xs, prior_pdf(xs, report.prior))
              for d, which in chosen]
    out = {"dims": plots.density_panels(panels, os.path.join(folder, f"{prefix}dims.png"), cols=k,
                                        reference_label=f"{report.prior} prior",
                                        xlabel="coordinate value")}
    norms = np.sqrt(np.einsum("ij,ij->i", z, z))
    top = max(float(norms.max()), report.norm["prior_p99"]) * 1.15
    if report.prior == "gaussian":
        r = np.linspace(0.0, top, 300)
        dens = norm_pdf(r, report.dim)
        ref = f"chi({report.dim})"
    else:
        dens, edges = np.histogram(_uniform_norms(report.dim), bins=120, range=(0.0, top), density=True)
        r = 0.5 * (edges[:-1] + edges[1:])
        ref = "prior norms"
    out["norms"] = plots.density_panels(
        [(f"|z|: mean {report.norm['mean']:.2f} vs {report.norm['prior_mean']:.2f}, "
          f"{100 * report.norm['outside']:.1f}% outside the prior's 1-99%", norms, r, dens)],
        os.path.join(folder, f"{prefix}norms.png"), cols=1, reference_label=ref, xlabel="norm",
        panel_size=(5.0, 3.0))
    qs = np.asarray(report.curve["q"])
    out["off_manifold"] = plots.line_plot(
        qs, {"prior samples off the manifold": report.curve["fraction"], "no gap: 1 - q": 1.0 - qs},
        os.path.join(folder, f"{prefix}off_manifold.png"), xlabel="q (quantile of encoded NN distances)",
        ylabel="fraction of prior samples", title=f"off-manifold probability{' of ' + report.label if report.label else ''}")
    return out
