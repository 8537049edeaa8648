"""la.diagnostics: each statistic against an independent float64 / brute-force reference,
the calibration contract (prior samples read "no gap" at several sizes and seeds), planted
deviations detected, the report's JSON, compare, and the error paths."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist, pdist

from latentatlas import diagnostics as dg


def _prior(prior: str, n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) if prior == "gaussian" else rng.uniform(-1, 1, (n, d))


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize("prior", ["gaussian", "uniform"])
def test_ks_statistics_match_scipy(prior):
    z = _prior(prior, 137, 5, 3) * np.array([1, 0.5, 1.5, 1, 1]) + np.array([0, 0, 0, 0.2, 0])
    stat, p = dg.ks_statistics(z, prior)
    cdf = stats.norm.cdf if prior == "gaussian" else stats.uniform(loc=-1, scale=2).cdf
    for d in range(5):
        ref = stats.kstest(z[:, d], cdf, method="exact")
        assert stat[d] == pytest.approx(ref.statistic, abs=1e-12)
        assert p[d] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def _mmd_reference(x: np.ndarray, y: np.ndarray, h: float) -> float:
    k = lambda a, b: math.exp(-float(np.sum((a - b) ** 2)) / (2 * h * h))  # noqa: E731
    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(a, b) for a in x for b in y) / (n * m)
    return kxx + kyy - 2 * kxy


def test_mmd_matches_a_loop_reference_with_the_median_heuristic():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((23, 3)), rng.standard_normal((17, 3)) + 0.4
    r = dg.mmd_test(x, y, n_permutations=50, seed=1)
    h = float(np.median(pdist(np.vstack([x, y]))))
    assert r["bandwidth"] == pytest.approx(h, rel=1e-9)
    assert r["mmd2"] == pytest.approx(_mmd_reference(x, y, h), rel=1e-9, abs=1e-12)
    assert (r["n_x"], r["n_y"], r["n_permutations"]) == (23, 17, 50)
    fixed = dg.mmd_test(x, y, n_permutations=5, bandwidth=0.7)
    assert fixed["mmd2"] == pytest.approx(_mmd_reference(x, y, 0.7), rel=1e-9, abs=1e-12)


def test_permutation_statistics_match_relabelled_loops():
    rng = np.random.default_rng(2)
    pooled = rng.standard_normal((14, 2))
    h = 1.3
    K = np.exp(-cdist(pooled, pooled, "sqeuclidean") / (2 * h * h))
    A = np.zeros((6, 14))
    for p in range(6):
        A[p, rng.choice(14, 9, replace=False)] = 1
    got = dg._assignment_stats(K, A, 9)
    for p in range(6):
        sel = A[p] == 1
        assert got[p] == pytest.approx(_mmd_reference(pooled[sel], pooled[~sel], h), rel=1e-9, abs=1e-12)


def test_permutation_p_value_is_the_rank_of_the_observed_statistic():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    P = 99
    r = dg.mmd_test(x, y, n_permutations=P, seed=7)
    # the same permutations, drawn as mmd_test draws them, each evaluated by the reference
    perm_rng = np.random.default_rng(7)
    chosen = np.argsort(perm_rng.random((P, 60)), axis=1)[:, :30]
    pooled = np.vstack([x, y])
    h = r["bandwidth"]
    ref = [_mmd_reference(pooled[c], np.delete(pooled, c, axis=0), h) for c in chosen[:20]]
    exceed20 = sum(v >= r["mmd2"] - 1e-12 for v in ref)
    A = np.zeros((20, 60))
    np.put_along_axis(A, chosen[:20], 1.0, axis=1)
    K = np.exp(-cdist(pooled, pooled, "sqeuclidean") / (2 * h * h))
    assert np.allclose(dg._assignment_stats(K, A, 30), ref, rtol=1e-9, atol=1e-12)
    assert 1 / (P + 1) <= r["p_value"] <= 1 and exceed20 <= round(r["p_value"] * (P + 1)) - 1


def test_nearest_distances_match_brute_force_and_exclude_self():
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((300, 6))
    ref[10] = ref[11]  # a duplicate: its nearest other row is at distance 0
    q = rng.standard_normal((50, 6))
    d = cdist(ref, ref)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(dg.nearest_distances(ref), d.min(axis=1), atol=1e-4)
    assert dg.nearest_distances(ref)[10] == pytest.approx(0.0, abs=1e-3)
    assert np.allclose(dg.nearest_distances(ref, q), cdist(q, ref).min(axis=1), atol=1e-4)
    # the HNSW index above exact_limit: exact distances for the neighbours it finds
    approx = dg.nearest_distances(ref, q, exact_limit=100)
    truth = cdist(q, ref).min(axis=1)
    assert np.all(approx >= truth - 1e-4) and np.mean(np.abs(approx - truth) < 1e-4) >= 0.95
    approx_self = dg.nearest_distances(ref, exact_limit=100)
    assert np.mean(np.abs(approx_self - d.min(axis=1)) < 1e-4) >= 0.95


@pytest.mark.parametrize("dim", [1, 3, 20])
def test_norm_percentiles_and_density(dim):
    rng = np.random.default_rng(dim)
    g = np.linalg.norm(rng.standard_normal((200_000, dim)), axis=1)
    assert np.allclose(dg.prior_norm_percentiles(dim, "gaussian"), np.percentile(g, [1, 99]), rtol=0.02)
    u = np.linalg.norm(rng.uniform(-1, 1, (200_000, dim)), axis=1)
    assert np.allclose(dg.prior_norm_percentiles(dim, "uniform"), np.percentile(u, [1, 99]), rtol=0.01, atol=2e-3)
    if dim == 1:  # |U(-1, 1)| is U(0, 1)
        assert np.allclose(dg.prior_norm_percentiles(dim, "uniform"), [0.01, 0.99], atol=1e-3)
    mean, sd = dg._norm_moments(dim, "gaussian")
    assert mean == pytest.approx(g.mean(), rel=0.01) and sd == pytest.approx(g.std(), rel=0.02)
    r = np.linspace(0.0, 3 * math.sqrt(dim) + 6, 4000)
    assert np.trapezoid(dg.norm_pdf(r, dim), r) == pytest.approx(1.0, abs=2e-3)
    assert np.trapezoid(dg.prior_pdf(np.linspace(-9, 9, 4001), "gaussian"), np.linspace(-9, 9, 4001)) == \
        pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="only in closed form for the gaussian prior"):
        dg.norm_pdf(r, dim, "uniform")


# ----------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("prior,n,d,seed", [("gaussian", 400, 4, 0), ("gaussian", 1500, 16, 1),
                                            ("gaussian", 3000, 10, 2), ("uniform", 600, 8, 3),
                                            ("uniform", 2500, 20, 4)])
def test_prior_samples_read_no_gap(prior, n, d, seed):
    z = _prior(prior, n, d, 1000 + seed)
    r = dg.prior_gap(z, prior, seed=seed, n_permutations=100)
    assert r.active_units == d
    # every dimension's KS statistic below the 0.1% critical value (Bonferroni over D)
    assert r.max_ks < stats.kstwo.isf(0.001 / d, n)
    # each norm tail ~1%: binomial tolerance of 4 SD
    sd = math.sqrt(0.01 * 0.99 / n)
    assert abs(r.norm["below_p01"] - 0.01) < 4 * sd + 1e-9 and abs(r.norm["above_p99"] - 0.01) < 4 * sd + 1e-9
    assert r.norm["mean"] == pytest.approx(r.norm["prior_mean"], rel=0.03)
    assert r.mmd["p_value"] > 0.001
    # off-manifold ~ 1 - q: the prior samples' binomial noise plus the quantile's own
    m = r.n_prior
    tol = 4 * math.sqrt(0.01 * 0.99 / m) + 4 * math.sqrt(0.01 * 0.99 / n)
    assert abs(r.off_manifold - 0.01) < tol
    assert r.off_manifold_active == r.off_manifold  # every unit active: the same measure
    curve = dict(zip(r.curve["q"], r.curve["fraction"]))
    assert abs(curve[0.5] - 0.5) < 4 * math.sqrt(0.25 / m) + 4 * math.sqrt(0.25 / n)


def test_mmd_p_values_are_not_small_across_seeds():
    ps = [dg.mmd_test(_prior("gaussian", 150, 5, s), _prior("gaussian", 150, 5, 500 + s), n_permutations=100,
                      seed=s)["p_value"] for s in range(20)]
    assert sum(p < 0.05 for p in ps) <= 4  # ~1 expected under the null
    assert np.mean(ps) > 0.3


@pytest.mark.parametrize("kind", ["scaled", "shifted", "collapsed"])
def test_planted_deviations_are_detected(kind):
    z = _prior("gaussian", 2000, 10, 9)
    if kind == "scaled":
        z[:, :3] *= 0.5
    elif kind == "shifted":
        z[:, :3] += 0.5
    else:
        z[:, :3] *= 0.01
    r = dg.prior_gap(z, "gaussian", seed=0, n_permutations=100)
    assert set(r.dims_by_ks()[-3:]) == {0, 1, 2}
    assert max(r.dim_ks_p[:3]) < 1e-6
    assert r.mmd["p_value"] < 0.02
    assert r.active_units == (7 if kind == "collapsed" else 10)
    if kind == "shifted":  # a shift of half an SD in 3 of 10 dims: the means and KS see it
        assert min(r.dim_mean[:3]) > 0.4 and max(np.abs(r.dim_mean[3:])) < 0.1
    if kind == "collapsed":  # the 7 untouched dimensions alone read no gap again
        assert abs(r.off_manifold_active - 0.01) < 4 * math.sqrt(0.01 * 0.99 / 2000) * 2
        assert "on the 7 active units only" in r.summary()
    else:
        assert r.off_manifold_active == r.off_manifold
    if kind != "shifted":  # shrunk dims leave holes: beyond the null's band (0.01 + 4 SD of each side's noise, ~0.028)
        assert r.off_manifold > 0.03
        assert r.norm["below_p01"] > 0.02  # beyond the null's 4-SD binomial band (0.01 + 4 * 0.0022)


def test_report_json_compare_and_summary(tmp_path):
    a = dg.prior_gap(_prior("gaussian", 300, 4, 0), "gaussian", seed=1, n_permutations=20, label="vae")
    b = dg.prior_gap(_prior("uniform", 300, 4, 1) * 0.5, "uniform", seed=1, n_permutations=20, label="gan")
    d = a.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["active_units"] == 4 and len(d["dim_ks"]) == 4 and d["max_ks"] == max(d["dim_ks"])
    path = a.save(tmp_path / "gap.json")
    with open(path, encoding="utf-8") as fh:
        assert json.load(fh) == d
    c = dg.compare(a, b)
    assert c["names"] == ["vae", "gan"]
    rows = {r["metric"]: r for r in c["rows"]}
    assert rows["off-manifold probability"]["vae"] == a.off_manifold
    assert rows["active units"]["gan"] == f"{b.active_units}/4"
    assert json.dumps(c, allow_nan=False)
    text = dg.format_comparison(c)
    assert "off-manifold probability" in text and "vae" in text.splitlines()[0]
    assert "active units: 4 of 4" in a.summary()
    assert a.off_manifold == pytest.approx(a.curve["fraction"][a.curve["q"].index(0.99)])


def test_prior_from_a_model():
    class M:
        latent_dim, prior = 4, "uniform"

    r = dg.prior_gap(_prior("uniform", 200, 4, 0), M(), n_permutations=10)
    assert r.prior == "uniform"
    M.latent_dim = 5
    with pytest.raises(ValueError, match="latents have size 4 but the model's latent_dim is 5"):
        dg.prior_gap(_prior("uniform", 200, 4, 0), M())


@pytest.mark.parametrize("latents,kwargs,err,match", [
    (np.zeros((5, 3)), {}, ValueError, "at least 10 rows"),
    (np.zeros(30), {}, ValueError, r"must be 2-D \(N, D\)"),
    (np.full((20, 2), np.nan), {}, ValueError, "NaN or Inf"),
    (np.zeros((20, 2), np.int64), {}, TypeError, "float32 or float64"),
    (np.zeros((20, 2)), {"q": 1.0}, ValueError, r"q must be a number in \(0, 1\)"),
    (np.zeros((20, 2)), {"prior": "laplace"}, ValueError, "prior must be one of"),
    (np.zeros((20, 2)), {"prior": 3}, TypeError, "prior must be 'gaussian', 'uniform' or a model"),
    (np.zeros((20, 2)), {"n_permutations": 0}, ValueError, "n_permutations must be >= 1"),
    (np.zeros((20, 2)), {"active_threshold": -1.0}, ValueError, "active_threshold must be a non-negative"),
    (np.zeros((20, 2)), {"seed": 1.5}, TypeError, "seed must be an int"),
])
def test_prior_gap_errors(latents, kwargs, err, match):
    with pytest.raises(err, match=match):
        dg.prior_gap(latents, **kwargs)


def test_other_errors():
    with pytest.raises(ValueError, match="same number of columns"):
        dg.mmd_test(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="y needs at least 2 rows"):
        dg.mmd_test(np.zeros((5, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="bandwidth must be a positive number"):
        dg.mmd_test(np.ones((5, 2)), np.zeros((5, 2)), bandwidth=0.0)
    with pytest.raises(ValueError, match="queries must have 2 columns"):
        dg.nearest_distances(np.zeros((5, 2)), np.zeros((3, 3)))
    with pytest.raises(TypeError, match="must be a PriorGapReport"):
        dg.compare({}, {})
    r = dg.prior_gap(_prior("gaussian", 50, 2, 0), n_permutations=5)
    with pytest.raises(ValueError, match="two different names"):
        dg.compare(r, r, names=["x", "x"])
    assert dg.compare(r, r, names=["x", "y"])["names"] == ["x", "y"]
    assert list(itertools.islice(r.dims_by_ks(), 2)) in ([0, 1], [1, 0])


def test_reports_load_back_and_bad_files_are_refused(tmp_path):
    r = dg.prior_gap(_prior("uniform", 120, 3, 0), "uniform", n_permutations=10, label="x")
    back = dg.PriorGapReport.load(r.save(tmp_path / "r.json"))
    assert back.to_dict() == r.to_dict() and back.summary() == r.summary()
    bad = tmp_path / "bad.json"
    for text, match in [("{", "cannot read the report"), ("[1]", "must be a JSON object"),
                        ('{"prior": "gaussian"}', "missing dim, n, seed"),
                        (json.dumps({**r.to_dict(), "dim_ks": [0.1]}), "dim_ks must list 3 values"),
                        (json.dumps({**r.to_dict(), "prior": "laplace"}), "prior must be one of")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=match):
            dg.PriorGapReport.load(bad)
    with pytest.raises(ValueError, match="cannot read the report"):
        dg.PriorGapReport.load(tmp_path / "missing.json")


def test_draw_report_checks_its_inputs(tmp_path):
    z = _prior("gaussian", 100, 4, 0)
    r = dg.prior_gap(z, n_permutations=5)
    paths = dg.draw_report(r, z, tmp_path, prefix="a_", n_dims=1)
    assert sorted(paths) == ["dims", "norms", "off_manifold"]
    assert all(p.startswith(str(tmp_path / "a_")) for p in paths.values())
    with pytest.raises(ValueError, match=r"the report's \(100, 4\) encodings, got shape \(99, 4\)"):
        dg.draw_report(r, z[:99], tmp_path)
    with pytest.raises(TypeError, match="must be a PriorGapReport"):
        dg.draw_report(r.to_dict(), z, tmp_path)


def test_no_active_unit_leaves_the_active_measure_undefined():
    z = _prior("gaussian", 200, 3, 0) * 1e-3
    r = dg.prior_gap(z, n_permutations=5)
    assert r.active_units == 0 and r.off_manifold_active is None and r.off_manifold == 1.0
    assert "on the 0 active units only: -" in r.summary() and r.to_dict()["off_manifold_active"] is None
    rows = {row["metric"]: row for row in dg.compare(r, r, names=["x", "y"])["rows"]}
    assert rows["off-manifold, active units only"]["x"] is None and "-" in dg.format_comparison(
        dg.compare(r, r, names=["x", "y"]))
