"""The core subcommands of the latentatlas command: info, quality, sheets and bench."""

from __future__ import annotations

import json

from latentatlas import cli


def test_info_prints_the_build(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("latentatlas ") and "threads" in out and "CUDA" in out


def test_info_json_matches_backend_info(capsys):
    import latentatlas as la

    assert cli.main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == la.__version__
    assert info["cuda_built"] == la.backend_info()["cuda_built"]


def test_quality_prints_the_report_and_fails_on_a_missed_bar(monkeypatch, tmp_path, capsys):
    from latentatlas.models import quality

    calls = []
    report = {"classifier_on_real_test": 0.95, "digits-vae": {"recon_accuracy": 0.9, "bar": 0.85, "passes": True}}
    monkeypatch.setattr(quality, "evaluate_shipped", lambda **kw: calls.append(kw) or report)
    assert cli.main(["quality", "--n-shapes", "300", "--sheets", str(tmp_path / "sheets")]) == 0
    assert json.loads(capsys.readouterr().out) == report
    assert calls == [{"sheet_dir": tmp_path / "sheets", "n_shapes": 300}] and (tmp_path / "sheets").is_dir()
    report["digits-vae"]["passes"] = False
    assert cli.main(["quality"]) == 1
    assert calls[-1] == {"sheet_dir": None, "n_shapes": 2000}


def test_quality_and_sheets_errors_are_one_line(capsys, tmp_path):
    assert cli.main(["quality", "--n-shapes", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err
    assert cli.main(["sheets", "--model", "digits-vae", "--out", str(tmp_path), "--rows", "1"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("latentatlas sheets: error: ") and "rows" in err[0]


def test_bad_arguments_are_one_line_and_nonzero(capsys):
    assert cli.main(["bench", "--threads", "x"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert cli.main(["nosuchcommand"]) == 2
    assert cli.main([]) == 2


def test_bench_runs_both_benchmarks_with_the_options_passed_on(monkeypatch, tmp_path):
    from latentatlas.bench import index as bench_index
    from latentatlas.bench import kernels as bench_kernels

    calls = []
    monkeypatch.setattr(bench_kernels, "main", lambda argv: calls.append(("kernels", argv)) or 0)
    monkeypatch.setattr(bench_index, "main", lambda argv: calls.append(("index", argv)) or 0)
    out = str(tmp_path / "r.json")
    assert cli.main(["bench", "--quick", "--threads", "2", "--json", out, "--no-compile"]) == 0
    assert calls == [("kernels", ["--quick", "--threads", "2", "--json", out, "--no-compile"]),
                     ("index", ["--quick", "--threads", "2", "--out", str(tmp_path / "r_index.json")])]
    calls.clear()
    assert cli.main(["bench", "--only", "index", "--json", out]) == 0
    assert calls == [("index", ["--out", out])]
    calls.clear()
    monkeypatch.setattr(bench_kernels, "main", lambda argv: calls.append(("kernels", argv)) or 3)
    assert cli.main(["bench"]) == 3 and [c[0] for c in calls] == ["kernels"]  # a failure stops the run


def test_bench_bad_threads(capsys):
    assert cli.main(["bench", "--threads", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err
