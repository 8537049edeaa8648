"""The kernel benchmark runs end to end on tiny sizes and writes well-formed JSON.

Timings are never asserted: only that every number the benchmark reports is present,
positive and finite, and that bad arguments are refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

import latentatlas as la
from latentatlas.bench import kernels as bk

TINY = {
    "slerp": [{"B": 8, "T": 4, "D": 16}, {"B": 3, "T": 2, "D": 7, "dtype": "float64"}],
    "lerp": [{"B": 8, "T": 4, "D": 16}],
    "offset": [{"N": 8, "A": 4, "K": 2, "D": 16}, {"N": 5, "A": 3, "K": 1, "D": 7, "dtype": "float64"}],
    "score": [{"N": 64, "K": 1, "D": 16}, {"N": 64, "K": 40, "D": 16}],
}


def _positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """One tiny run through main(), shared by the structure checks."""
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "nested" / "kernels.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = bk.main(["--quick", "--no-compile", "--threads", "1", "--json", str(path), "--sizes", json.dumps(TINY)])
    assert rc == 0
    return json.loads(path.read_text(encoding="utf-8")), path, buf.getvalue()


def test_file_written_atomically(bench_run: tuple[dict[str, Any], Path, str]) -> None:
    _, path, stdout = bench_run
    assert path.is_file()
    assert f"wrote {path.resolve()}" in stdout
    assert [p.name for p in path.parent.iterdir()] == ["kernels.json"]  # no temp file left behind


def test_header_facts(bench_run: tuple[dict[str, Any], Path, str]) -> None:
    data, _, stdout = bench_run
    m = data["machine"]
    for key in ("platform", "cpu_model", "logical_cores", "python"):
        assert m[key], key
    assert m["logical_cores"] >= 1
    assert data["build"]["version"] == la.__version__
    assert "cpu" in data["build"] and "cuda_built" in data["build"]
    assert data["threads"]["requested"] == 1
    assert data["threads"]["latentatlas"] == 1
    assert data["threads"]["torch"] == 1
    assert data["versions"]["numpy"] and data["versions"]["torch"]
    assert data["quick"] is True and data["compile"] is False
    # The machine, build and threads are printed before any measurement.
    assert stdout.index("machine") < stdout.index("build") < stdout.index("threads") < stdout.index("slerp")


def test_cases_complete(bench_run: tuple[dict[str, Any], Path, str]) -> None:
    data, _, stdout = bench_run
    cases = data["cpu"]["cases"]
    expected = [(op, {k: v for k, v in c.items() if k != "dtype"}, c.get("dtype", "float32"))
                for op in ("slerp", "lerp", "offset", "score") for c in TINY[op]]
    assert [(c["op"], c["params"], c["dtype"]) for c in cases] == expected
    for c in cases:
        fill = c["fill"]
        assert set(fill["by"]) == {"core", "numpy", "torch"}
        for stats in fill["by"].values():
            assert _positive(stats["gbps"]) and _positive(stats["median_s"])
        assert _positive(fill["gbps"]) and fill["best"] in fill["by"]
        assert fill["gbps"] == max(s["gbps"] for s in fill["by"].values())
        for name in ("latentatlas", "numpy", "torch"):
            t = c["timings"][name]
            assert _positive(t["median_s"]) and _positive(t["min_s"]) and _positive(t["gbps"])
            assert t["min_s"] <= t["median_s"] <= t["max_s"]
            assert t["repeats"] == len(t["samples_s"]) >= data["settings"]["min_repeats"]
        assert c["timings"]["torch_compile"] == {"skipped": "--no-compile"}
        assert set(c["ratios"]) == {"numpy", "torch"}
        assert all(_positive(r) for r in c["ratios"].values())
        assert _positive(c["fraction_of_fill"])
        # The baselines compute the same thing as latentatlas.
        tol = 1e-4 if c["dtype"] == "float32" else 1e-10
        for name in ("numpy", "torch"):
            assert c["timings"][name]["max_rel_diff"] <= tol, (c["op"], name)
        assert _positive(c["bytes_written"]) and _positive(c["bytes_read"])
    # Targets: slerp and offset have four, score one, lerp none; torch.compile's is n/a here.
    for c in cases:
        names = [t["name"] for t in c["targets"]]
        assert len(names) == {"slerp": 4, "offset": 4, "score": 1, "lerp": 0}[c["op"]]
        for t in c["targets"]:
            assert t["passed"] is None if "torch.compile" in t["name"] else isinstance(t["passed"], bool)
    assert "PASS" in stdout or "MISS" in stdout
    summary = data["summary"]
    assert sum(summary.values()) == sum(len(c["targets"]) for c in cases)


def test_cuda_section(bench_run: tuple[dict[str, Any], Path, str]) -> None:
    data, _, stdout = bench_run
    cuda = data["cuda"]
    if data["build"]["cuda_devices"] > 0 and "skipped" not in cuda:
        assert cuda["cases"] and all("error" in c or _positive(c["fraction_of_hbm_fill"]) for c in cuda["cases"])
    else:
        assert isinstance(cuda["skipped"], str) and cuda["skipped"]
        assert "CUDA: skipped: " in stdout


def test_threads_restored() -> None:
    before = la.get_num_threads()
    bk.run(quick=True, threads=1, torch_compile=False, echo=None,
           sizes={op: [] for op in ("slerp", "lerp", "offset")} | {"score": [{"N": 4, "K": 1, "D": 3}]})
    assert la.get_num_threads() == before


@pytest.mark.parametrize("argv", [
    ["--threads", "0"],
    ["--threads", "x"],
    ["--threads", "-2"],
    ["--sizes", "{not json"],
    ["--sizes", '{"slerp": [{"B": 8, "T": 4}]}'],
    ["--sizes", '{"warp": []}'],
    ["--sizes", '{"score": [{"N": 0, "K": 1, "D": 3}]}'],
    ["--bogus"],
])
def test_bad_arguments(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.json"
    with pytest.raises(SystemExit) as exc:
        bk.main(["--no-compile", "--json", str(path), *argv])
    assert exc.value.code not in (0, None)
    assert "error" in capsys.readouterr().err
    assert not path.exists()


def test_run_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="threads"):
        bk.run(threads=0, echo=None)
    with pytest.raises(ValueError, match="unknown op 'warp'"):
        bk.run(sizes={"warp": []}, echo=None)
    with pytest.raises(ValueError, match=r"sizes\['lerp'\]\[0\]\['dtype'\]"):
        bk.run(sizes={"lerp": [{"B": 1, "T": 1, "D": 1, "dtype": "float16"}]}, echo=None)


def test_targets_logic() -> None:
    def verdicts(op: str, params: dict[str, int], fraction: float | None, ratios: dict[str, float]) -> list:
        return [t["passed"] for t in bk._targets(op, params, fraction, ratios)]

    assert verdicts("slerp", {}, 0.7, {"numpy": 10.0, "torch": 12.0, "torch_compile": 1.01}) == [True] * 4
    missed = verdicts("offset", {}, 0.69, {"numpy": 9.9, "torch": 10.0, "torch_compile": 1.0})
    assert missed == [False, False, True, False]
    assert verdicts("slerp", {}, None, {}) == [None] * 4
    assert verdicts("score", {"K": 40}, None, {"numpy": 1 / 1.2}) == [True]
    assert verdicts("score", {"K": 40}, None, {"numpy": 0.8}) == [False]
    assert verdicts("score", {"K": 4}, None, {"numpy": 1.0}) == [False]
    assert verdicts("score", {"K": 1}, None, {"numpy": 1.5}) == [True]
    assert verdicts("lerp", {}, 0.1, {"numpy": 1.0}) == []


def test_default_json_path_is_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    sizes = {"slerp": [], "lerp": [], "offset": [], "score": [{"N": 4, "K": 1, "D": 3}]}
    assert bk.main(["--quick", "--no-compile", "--sizes", json.dumps(sizes)]) == 0
    written = tmp_path / "latentatlas-bench" / "kernels.json"
    assert written.is_file()
    assert str(written) in capsys.readouterr().out
    assert os.listdir(written.parent) == ["kernels.json"]


def test_compile_failure_is_recorded() -> None:
    class FakeTorch:
        class _dynamo:
            @staticmethod
            def reset() -> None:
                pass

        @staticmethod
        def compile(fn: Any, dynamic: bool) -> Any:
            raise RuntimeError("no compiler here\n" + "x" * 5000 + "\nthe real reason")

    compiled, info = bk._compile(FakeTorch, lambda x: x, (1,), 1, lambda: None)
    assert compiled is None
    assert info["attempts"] == 2
    assert info["error"].startswith("RuntimeError: no compiler here")
    assert info["error"].endswith("the real reason") and len(info["error"]) < 3000
