"""The GPU benchmark: its plan, tables and summary report without a GPU, its clear refusal
where there is no CUDA device, and (on a CUDA machine) a tiny run end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from latentatlas import cli
from latentatlas.bench import gpu

H200_L2 = 50 * 2**20


def test_plan_cases_exceed_the_working_set_and_l2():
    cases = gpu.plan_cases(512)
    assert [c["op"] for c in cases] == ["slerp", "offset", "score"]
    for c in cases:
        assert c["copy_bytes"] >= 512 * 2**20 > 8 * H200_L2
        assert c["bytes_read"] > 0 and c["bytes_written"] > 0
    slerp, offset, score = cases
    p = slerp["params"]
    assert slerp["bytes_written"] == p["B"] * p["T"] * p["D"] * 4 == slerp["copy_bytes"]
    assert slerp["bytes_read"] == (2 * p["B"] * p["D"] + p["T"]) * 4
    p = offset["params"]
    assert offset["bytes_written"] == p["N"] * p["A"] * p["D"] * 4
    p = score["params"]
    assert score["copy_bytes"] == p["N"] * p["D"] * 4 and score["bytes_written"] == p["N"] * p["K"] * 4
    doubled = gpu.plan_cases(512, "float64", ops=["score"])
    assert [c["op"] for c in doubled] == ["score"] and doubled[0]["params"]["N"] == score["params"]["N"] // 2


@pytest.mark.parametrize("kwargs, match", [
    ({"working_set_mb": 0}, "working_set_mb must be a positive int"),
    ({"working_set_mb": 1.5}, "working_set_mb must be a positive int"),
    ({"working_set_mb": 8, "dtype": "float16"}, "dtype must be float32 or float64"),
    ({"working_set_mb": 8, "ops": ["warp"]}, "ops must be a non-empty selection"),
    ({"working_set_mb": 8, "ops": []}, "ops must be a non-empty selection"),
])
def test_plan_cases_refuses_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gpu.plan_cases(**kwargs)


def test_parser_defaults_and_refusals(capsys):
    args = gpu.build_parser().parse_args([])
    assert (args.working_set_mb, args.dtype, args.ops, args.inner, args.quick) == (512, "float32", list(gpu.OPS), 10,
                                                                                    False)
    assert args.json_path is None and not Path(gpu.DEFAULT_JSON).is_absolute()
    args = gpu.build_parser().parse_args(["--report", "--phase", "build=ok:sm_90, 80 s", "--junit", "a.xml"])
    assert args.phase == [("build", "ok", "sm_90, 80 s")] and args.junit == ["a.xml"]
    for bad in (["--working-set-mb", "0"], ["--ops", "lerp"], ["--phase", "nostatus"], ["--inner", "x"]):
        with pytest.raises(SystemExit) as exc:
            gpu.build_parser().parse_args(bad)
        assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_without_cuda_main_says_why_and_fails(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu, "cuda_unavailable_reason", lambda: "torch 9.9 sees no CUDA device")
    out = tmp_path / "gpu.json"
    assert gpu.main(["--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "bench_gpu: no CUDA device to benchmark: torch 9.9 sees no CUDA device"
    assert not out.exists()
    with pytest.raises(gpu.NoCudaDevice, match="sees no CUDA device"):
        gpu.run(working_set_mb=8, echo=None)


def test_the_reason_on_this_machine_is_consistent():
    import torch

    import latentatlas as la

    reason = gpu.cuda_unavailable_reason()
    usable = torch.cuda.is_available() and la.backend_info()["cuda_built"] and la.backend_info()["cuda_devices"] > 0
    assert (reason is None) == bool(usable)
    if reason is not None:
        assert "CUDA" in reason or "cuda" in reason


def _fake_result() -> dict[str, Any]:
    def timing(median: float, gbps: float, frac: float) -> dict[str, Any]:
        return {"median_s": median, "min_s": median, "max_s": median, "repeats": 3, "gbps": gbps,
                "samples_s": [median] * 3, "fraction_of_copy": frac}

    case = gpu.plan_cases(512, ops=["slerp"])[0]
    ok = {**case, "timings": {"latentatlas": timing(2e-4, 2880.0, 0.8), "torch": timing(8e-4, 720.0, 0.2),
                              "copy": timing(3e-4, 3600.0, 1.0)},
          "max_rel_diff": 3e-7, "speedup_vs_torch": 4.0}
    broken = {**gpu.plan_cases(512, ops=["score"])[0], "error": "RuntimeError: CUDA error: invalid argument\nmore"}
    return {"cases": [ok, broken]}


def test_results_table_rows():
    table = gpu.results_table(_fake_result())
    lines = table.splitlines()
    assert lines[0].split() == ["item", "status", "median", "GB/s", "of", "copy", "vs", "torch", "detail"]
    row = next(line for line in lines if line.startswith("slerp latentatlas"))
    assert "200.0 us" in row and "2880" in row and "80%" in row and "4.00x" in row and "3.0e-07" in row
    assert any(line.startswith("slerp torch eager") and "20%" in line for line in lines)
    assert any(line.startswith("slerp d2d copy") and "100%" in line for line in lines)
    error = next(line for line in lines if line.startswith("score"))
    assert "ERROR" in error and "CUDA error: invalid argument" in error and "more" not in error


_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.test_cuda" name="test_a" time="0.1"/>
<testcase classname="tests.test_cuda" name="test_b[slerp]" time="0.1"><failure message="x">boom</failure></testcase>
<testcase classname="tests.test_torch_ops" name="test_c" time="0.1"><error message="y">setup</error></testcase>
<testcase classname="tests.test_torch_ops" name="test_d" time="0.0"><skipped message="no"/></testcase>
<testcase classname="tests.test_torch_impl" name="test_e" time="0.1"/>
</testsuite></testsuites>
"""


def test_read_junit_counts(tmp_path):
    path = tmp_path / "tests.xml"
    path.write_text(_JUNIT)
    counts = gpu.read_junit(path)
    assert {k: counts[k] for k in ("tests", "passed", "failed", "errors", "skipped")} == \
        {"tests": 5, "passed": 2, "failed": 1, "errors": 1, "skipped": 1}
    assert counts["failed_names"] == ["tests.test_cuda::test_b[slerp]", "tests.test_torch_ops::test_c"]


def test_report_is_one_table_and_says_whether_all_passed(tmp_path, capsys):
    junit, results = tmp_path / "tests.xml", tmp_path / "gpu.json"
    junit.write_text(_JUNIT)
    results.write_text(json.dumps(_fake_result()))
    table, ok = gpu.report(phases=[("build", "ok", "pip, sm_90, 80 s")], junit=[str(junit)], json_path=str(results))
    assert not ok
    lines = table.splitlines()
    assert lines[0].startswith("item") and set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("build") and "pip, sm_90, 80 s" in lines[2]
    assert "2 passed, 1 failed, 1 errors, 1 skipped" in lines[3] and "FAIL" in lines[3]
    assert "tests.test_cuda::test_b[slerp]" in lines[4] and "tests.test_torch_ops::test_c" in lines[5]
    assert any(line.startswith("slerp latentatlas") for line in lines)

    clean = tmp_path / "clean.xml"
    clean.write_text(_JUNIT.replace('<failure message="x">boom</failure>', "").replace(
        '<error message="y">setup</error>', ""))
    good = {"cases": _fake_result()["cases"][:1]}
    results.write_text(json.dumps(good))
    assert gpu.report(phases=[("build", "ok", "")], junit=[str(clean)], json_path=str(results))[1]
    assert not gpu.report(phases=[("build", "timeout", "")], junit=[str(clean)], json_path=str(results))[1]
    table, ok = gpu.report(junit=[str(tmp_path / "missing.xml")], json_path=str(tmp_path / "missing.json"))
    assert not ok and "NO REPORT" in table and "NO RESULTS" in table

    # The command line prints the same table and exits 1 unless everything passed.
    assert gpu.main(["--report", "--phase", "build=ok", "--junit", str(clean), "--json", str(results)]) == 0
    assert capsys.readouterr().out.startswith("item")
    assert gpu.main(["--report", "--phase", "build=failed (rc 1)", "--json", str(results)]) == 1


def test_cli_only_gpu_passes_quick_and_json(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(gpu, "main", lambda argv: calls.append(argv) or 0)
    out = str(tmp_path / "g.json")
    assert cli.main(["bench", "--only", "gpu", "--quick", "--json", out]) == 0
    assert cli.main(["bench", "--only", "gpu"]) == 0
    assert calls == [["--quick", "--json", out], []]


@pytest.mark.skipif(gpu.cuda_unavailable_reason() is not None, reason="needs a CUDA device and the _cuda module")
def test_tiny_run_on_the_gpu(tmp_path):
    res = gpu.run(working_set_mb=4, quick=True, inner=2, json_path=str(tmp_path / "gpu.json"), echo=None)
    assert [c["op"] for c in res["cases"]] == list(gpu.OPS)
    for case in res["cases"]:
        assert "error" not in case, case.get("error")
        tol = 1e-4 if case["op"] != "score" else 1e-3  # score sums 512 products in float32
        assert case["max_rel_diff"] <= tol, case["op"]
        for t in case["timings"].values():
            assert t["median_s"] > 0 and t["gbps"] > 0 and t["fraction_of_copy"] > 0
    assert json.loads((tmp_path / "gpu.json").read_text())["device"]["name"]
