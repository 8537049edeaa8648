"""The helpers the benchmarks share: machine facts, timing, JSON and tables, and the
checkout's thin entry points into the bench subpackage."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latentatlas.bench import _common

ROOT = Path(__file__).resolve().parents[1]


def test_write_json_is_strict_atomic_and_creates_the_folder(tmp_path):
    path = tmp_path / "deep" / "er" / "out.json"
    data = {"a": float("nan"), "b": [np.float32(1.5), (np.int64(3), float("-inf"))], "c": {"d": np.bool_(True)},
            "e": "text", "f": None, "g": np.float64(0.25)}
    written = _common.write_json(path, data)
    assert written == str(path.resolve())
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, [3, None]], "c": {"d": True}, "e": "text",
                                            "f": None, "g": 0.25}
    assert os.listdir(path.parent) == ["out.json"]


def test_summarise_times_hand_computed():
    stats = _common.summarise_times([0.3, 0.1, 0.2, 0.4], nbytes=10**9)
    assert stats["median_s"] == pytest.approx(0.25) and stats["min_s"] == 0.1 and stats["max_s"] == 0.4
    assert stats["repeats"] == 4 and stats["gbps"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="no timing samples"):
        _common.summarise_times([], 1)


def test_measure_interleaved_meets_min_repeats_and_caps_at_max():
    calls: list[str] = []
    fake_times = {"slow": 1.0, "fast": 0.001}
    cands = {name: (lambda name=name: calls.append(name)) for name in fake_times}

    def timer(fn):
        fn()
        return fake_times[calls[-1]]

    samples = _common.measure_interleaved(cands, timer, _common.Repeats(warmup=0, min_repeats=2, max_repeats=5,
                                                                        budget_s=0.5))
    assert len(samples["slow"]) == 2  # over budget after its minimum
    assert len(samples["fast"]) == 5  # under budget: up to the maximum
    assert calls[:4].count("slow") == 2 and calls[:4].count("fast") == 2  # interleaved, not one after the other


def test_time_repeated_stops_when_over_budget():
    runs = []
    median, result = _common.time_repeated(lambda: runs.append(1) or len(runs), repeats=5, budget_s=0.0)
    assert runs == [1] and result == 1 and median >= 0.0


def test_format_table_aligns_columns():
    table = _common.format_table(["name", "value"], [["a", 1.5], ["longer", None]], right=(1,))
    lines = table.splitlines()
    assert lines[0] == "name    value"
    assert lines[1] == "------  -----"
    assert lines[2] == "a         1.5"
    assert lines[3] == "longer      -"
    with pytest.raises(ValueError, match="2 cells"):
        _common.format_table(["a", "b"], [["only one"]])


def test_fmt_time_units():
    assert _common.fmt_time(None) == "-"
    assert _common.fmt_time(2.5).strip() == "2.500 s"
    assert _common.fmt_time(0.0025).strip() == "2.50 ms"
    assert _common.fmt_time(2.5e-6).strip() == "2.5 us"


def test_machine_and_versions():
    m = _common.machine()
    assert m["logical_cores"] >= 1 and m["cpu_model"] and m["python"]
    versions = _common.module_versions("numpy", "latentatlas_no_such_module")
    assert versions == {"numpy": np.__version__, "latentatlas_no_such_module": None}
    assert _common.default_output("x.json") == os.path.join("latentatlas-bench", "x.json")


@pytest.mark.parametrize("text", ["0", "-1", "x", "1.5"])
def test_positive_int_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive integer"):
        _common.positive_int(text)
    assert _common.positive_int("7") == 7


def test_the_subpackage_imports_nothing_from_the_command_line():
    code = ("import sys, latentatlas.bench.kernels, latentatlas.bench.index, latentatlas.bench.gpu; "
            "print(sorted(m for m in sys.modules if m.startswith(('latentatlas.cli', 'latentatlas.commands'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_checkout_entry_points_run_the_subpackage(tmp_path):
    """bench/bench_kernels.py and bench/bench_index.py run the subpackage's main with the options given."""
    kernels_json, index_json = tmp_path / "k.json", tmp_path / "i.json"
    sizes = json.dumps({"slerp": [], "lerp": [], "offset": [], "score": [{"N": 8, "K": 1, "D": 4}]})

    def script(name: str, *argv: str) -> None:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / name), *argv], capture_output=True, text=True,
                              env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        assert done.returncode == 0, done.stderr

    script("bench_kernels.py", "--quick", "--no-compile", "--no-cuda", "--threads", "1", "--sizes", sizes,
           "--json", str(kernels_json))
    assert json.loads(kernels_json.read_text())["benchmark"] == "latentatlas.bench.kernels"
    script("bench_index.py", "--n", "200", "--dims", "4", "--kinds", "random", "--queries", "5", "--efs", "200",
           "--threads", "1", "--no-reduce", "--out", str(index_json))
    case = json.loads(index_json.read_text())["cases"][0]
    assert (case["n"], case["dim"]) == (200, 4) and math.isfinite(case["exact_numpy"]["qps"])
