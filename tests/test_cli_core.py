"""The core subcommands of the latentatlas command: info and bench."""

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


def test_bad_arguments_are_one_line_and_nonzero(capsys):
    assert cli.main(["bench", "--threads", "x"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert cli.main(["nosuchcommand"]) == 2
    assert cli.main([]) == 2
