"""The index benchmark on tiny sizes: its helpers against hand-computed values, the JSON it
writes, and its error paths (timings are never asserted)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from latentatlas.bench import index as bench_index


def test_qps_at_recall_interpolates_log_qps_hand_computed():
    sweep = [{"ef": 10, "recall": 0.80, "qps": 5000.0},
             {"ef": 20, "recall": 0.90, "qps": 1000.0},
             {"ef": 40, "recall": 0.97, "qps": 100.0}]
    point = bench_index.qps_at_recall(sweep, 0.95)
    assert (point["ef"], point["recall"], point["qps"]) == (40, 0.97, 100.0)
    # log10 qps falls from 3 to 2 over recall 0.90 -> 0.97; at 0.95 it is 3 - 5/7
    assert point["qps_interpolated"] == pytest.approx(10 ** (3 - 5 / 7), rel=1e-12)
    first = bench_index.qps_at_recall(sweep, 0.5)
    assert first["ef"] == 10 and first["qps_interpolated"] == 5000.0
    assert bench_index.qps_at_recall(sweep, 0.99) is None


def test_encoded_like_is_low_rank_plus_noise_with_a_shared_subspace():
    x = bench_index.encoded_like(2000, 64, np.random.default_rng(0), noise=0.01)
    q = bench_index.encoded_like(200, 64, np.random.default_rng(1), noise=0.01)
    assert x.shape == (2000, 64) and x.dtype == np.float32
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert s[7] > 50 * s[8]  # rank max(8, 64 // 8) = 8, then noise
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    residual = q - (q - x.mean(0)) @ vt[:8].T @ vt[:8] - x.mean(0)
    assert np.linalg.norm(residual) < 0.05 * np.linalg.norm(q)
    r = bench_index.random_latents(10, 4, np.random.default_rng(2))
    assert r.shape == (10, 4) and r.dtype == np.float32


def test_run_tiny_cases_structure():
    result = bench_index.run(n=1500, dims=(16,), n_queries=40, efs=(10, 20, 40, 1500), threads=1,
                             configs=((8, 40), (12, 40)))
    assert result["machine"]["threads"] == 1 and "backend" in result["machine"]
    assert [(c["kind"], c["dim"]) for c in result["cases"]] == [("random", 16), ("encoded", 16)]
    try:  # faiss is the optional `bench` extra: the comparison is skipped without it
        import faiss  # noqa: F401

        have_faiss = True
    except ImportError:
        have_faiss = False
    random_case, encoded_case = result["cases"]
    assert random_case["reduce_dim"] is None  # full rank: no projected graph
    assert encoded_case["reduce_dim"] == 8  # rank max(8, 16 // 8) = 8
    for case in result["cases"]:
        assert case["exact_numpy"]["qps"] > 0 and case["configs"] == [[8, 40], [12, 40]]
        assert case["exact_score"]["recall"] >= 0.99  # the library's exact search agrees with numpy
        names = {"neighborindex M8 efC40", "neighborindex M12 efC40"}
        if have_faiss:
            names |= {"faiss_hnsw M8 efC40", "faiss_hnsw M12 efC40"}
            assert case["exact_faiss"]["recall"] >= 0.99
        if case["reduce_dim"]:
            names |= {"neighborindex_reduced r8 M8 efC40", "neighborindex_reduced r8 M12 efC40"}
        assert set(case["variants"]) == names
        for v in case["variants"].values():
            sweep = v["sweep"]
            assert sweep and all(0.0 <= p["recall"] <= 1.0 and p["qps"] > 0 for p in sweep)
            assert [p["ef"] for p in sweep] == [10, 20, 40, 1500][:len(sweep)]
            assert v["at_target"] is not None  # 1500 points: 0.95 is reachable
        assert case["best"]["neighborindex"] in names
        ratios = case["ratios"]
        assert set(ratios["equal_params_vs_faiss"]) == {"M8 efC40", "M12 efC40"}
        assert ratios["best_vs_exact_numpy"] == pytest.approx(case["best"]["neighborindex_qps"]
                                                              / case["exact_numpy"]["qps"])
        assert ("best_vs_best_faiss" in ratios) == have_faiss
        assert set(case["targets_met"]) == {"recall", "20x_exact", "20x_exact_numpy", "no_worse_than_faiss"}
    text = bench_index.summary_table(result)
    assert "random 1500x16" in text and "encoded 1500x16" in text and "neighborindex_reduced r8 M8 efC40" in text
    json.dumps(result)  # JSON-ready


def test_parse_config_and_choose_reduce_dim():
    assert bench_index.parse_config("16:100") == (16, 100)
    with pytest.raises(ValueError, match="a config is M:efConstruction, e.g. 16:100, got '16'"):
        bench_index.parse_config("16")
    with pytest.raises(ValueError, match="M >= 2 and efConstruction >= 1, got '1:100'"):
        bench_index.parse_config("1:100")
    rng = np.random.default_rng(0)
    low = rng.standard_normal((3000, 5)) @ rng.standard_normal((5, 64))  # rank 5 -> one block of 8
    assert bench_index.choose_reduce_dim(low) == 8
    assert bench_index.choose_reduce_dim(rng.standard_normal((3000, 64))) is None
    with pytest.raises(ValueError, match="configs is empty"):
        bench_index.run_case(100, 4, "random", configs=())


def test_run_reports_each_case_as_it_finishes():
    seen = []
    bench_index.run(n=300, dims=(4, 5), kinds=("encoded",), n_queries=10, efs=(300,), threads=1,
                    on_case=lambda result: seen.append([c["dim"] for c in result["cases"]]))
    assert seen == [[4], [4, 5]]


def test_without_faiss_the_case_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    messages = []
    case = bench_index.run_case(800, 4, "random", n_queries=20, efs=(16, 800), threads=1, log=messages.append)
    assert case["exact_faiss"] is None and case["targets_met"]["no_worse_than_faiss"] is None
    assert set(case["variants"]) == {"neighborindex M16 efC100"}
    assert case["best"]["faiss_hnsw"] is None and case["best"]["fastest_exact"] == "numpy"
    assert any("faiss not installed" in m for m in messages)
    table = bench_index.summary_table({"machine": {}, "cases": [case]})
    assert "faiss: not installed, no comparison" in table and "nan" not in table and "faiss flat" not in table


def test_main_writes_json_and_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # main() would set it for the session
    out = tmp_path / "res" / "index.json"
    assert bench_index.main(["--n", "600", "--dims", "6", "--kinds", "encoded", "--queries", "15",
                             "--efs", "12", "600", "--threads", "1", "--configs", "8:40", "--no-reduce", "--quick",
                             "--crossover", "300", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["cases"][0]["n"] == 600 and data["cases"][0]["kind"] == "encoded"
    assert data["cases"][0]["configs"] == [[8, 40]] and data["cases"][0]["reduce_dim"] is None
    assert sorted(p.name for p in out.parent.iterdir()) == ["index.json"]
    printed = capsys.readouterr().out
    assert "encoded 600x6" in printed and f"wrote {out}" in printed
    assert data["crossover"]["sizes"][0]["n"] == 300 and "crossover (i.i.d. Gaussian, dim 6" in printed
    default = data["cases"][0]["default"]
    assert default["exact"] and default["recall"] == 1.0  # 600 vectors: below exact_below, exact search
    assert "default settings: recall 1.000" in printed


def test_main_refuses_a_bad_config(capsys):
    with pytest.raises(SystemExit):
        bench_index.main(["--configs", "16-100"])
    assert "a config is M:efConstruction" in capsys.readouterr().err


def test_benchmark_errors():
    with pytest.raises(ValueError, match="k = 11 is larger than n = 10"):
        bench_index.run(n=10, k=11)
    with pytest.raises(ValueError, match=r"target must lie in \(0, 1\]"):
        bench_index.run(n=10, target=0.0)
    with pytest.raises(ValueError, match=r"kind must be one of \('random', 'encoded', 'shapes', 'digits', 'prior'\), got 'uniform'"):
        bench_index.run_case(10, 4, "uniform")
    with pytest.raises(ValueError, match="d must be >= 1"):
        bench_index.encoded_like(10, 0, np.random.default_rng(0))


def test_main_default_output_is_relative_to_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.chdir(tmp_path)
    assert bench_index.main(["--n", "200", "--dims", "4", "--kinds", "random", "--queries", "5", "--efs", "200",
                             "--threads", "1", "--no-reduce", "--crossover"]) == 0
    written = tmp_path / "latentatlas-bench" / "index.json"
    assert json.loads(written.read_text())["cases"][0]["n"] == 200
    assert os.listdir(written.parent) == ["index.json"]
    assert "wrote latentatlas-bench/index.json" in capsys.readouterr().out.replace(os.sep, "/")


def test_parse_case():
    assert bench_index.parse_case("random:20000x64") == ("random", 20000, 64)
    assert bench_index.parse_case("shapes:500") == ("shapes", 500, 64)
    assert bench_index.parse_case("digits") == ("digits", 100_000, 64)
    for bad in ("uniform:10x4", "random:tenx4", "random:10xy"):
        with pytest.raises(ValueError, match="a case is KIND"):
            bench_index.parse_case(bad)


def test_real_encodings_come_from_the_shipped_models():
    from latentatlas import models, sampling
    from latentatlas.data.digits import load_digits

    x, q = bench_index.case_latents("digits", 0, 0, 1000, seed=0)
    data = load_digits()
    z = sampling.encode_batched(models.load("digits-vae"), data.images)
    train = np.asarray(data.split) == "train"
    np.testing.assert_array_equal(x, z[train])
    np.testing.assert_array_equal(q, z[~train])
    shapes, shape_queries = bench_index.case_latents("shapes", 50, 0, 7, seed=1)
    assert shapes.shape == (50, 16) and shape_queries.shape == (7, 16) and np.isfinite(shapes).all()
    prior, _ = bench_index.case_latents("prior", 40, 0, 5, seed=2)
    np.testing.assert_array_equal(prior, sampling.sample_latents(models.load("shapes-vae"), 40, seed=2))


def test_the_digits_case_is_searched_exactly_by_default():
    result = bench_index.run(cases=[("digits", 0, 0)], n_queries=30, efs=(10, 40), threads=1, reduce=False,
                             configs=((8, 40),))
    case = result["cases"][0]
    assert (case["kind"], case["dim"], case["queries"]) == ("digits", 20, 30) and 1000 < case["n"] < 1797
    assert case["default"]["exact"] and case["default"]["recall"] == 1.0
