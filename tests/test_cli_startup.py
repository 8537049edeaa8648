"""The command line starts without torch, and the pieces the subcommands share."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from latentatlas import cli
from latentatlas.commands import _common


def test_importing_the_cli_does_not_import_torch():
    code = ("import sys, latentatlas.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("info", "train", "encode", "sample", "atvec", "classify", "edit", "bench"):
        assert name in out


@pytest.mark.parametrize("argv", [["info"], ["train"], ["demo"], ["bench"], ["encode"], ["atvec"], ["classify"], ["edit"], ["sample"], ["sample", "random"],
                                  ["sample", "grid"], ["sample", "strips"], ["sample", "jdiagram"],
                                  ["sample", "mine"], ["sample", "walk"]])
def test_every_subcommand_has_help_with_an_example(capsys, argv):
    assert cli.main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  latentatlas " + argv[0] in out


def test_shipped_names_come_from_the_models_package():
    import latentatlas as la

    assert _common.SHIPPED is la.models.SHIPPED
    parser = argparse.ArgumentParser()
    _common.add_model_argument(parser)
    assert all(name in parser.format_help() for name in la.models.SHIPPED)


def test_negative_number_lists_are_values():
    parser = argparse.ArgumentParser()
    _common.allow_negative_values(parser)
    parser.add_argument("--strength", type=_common.float_list)
    assert parser.parse_args(["--strength", "-1,0,1.5"]).strength == (-1.0, 0.0, 1.5)
    assert parser.parse_args(["--strength", "-.5e-1"]).strength == (-0.05,)


@pytest.mark.parametrize("text", ["nan", "1,inf", "a,b", ""])
def test_float_lists_reject_non_finite_and_junk(text):
    with pytest.raises(argparse.ArgumentTypeError):
        _common.float_list(text)


def test_integer_lists_check_their_minimum():
    assert _common.int_list("0,5,9") == (0, 5, 9)
    assert _common.positive_int_list("256,128") == (256, 128)
    with pytest.raises(argparse.ArgumentTypeError, match="expected non-negative integers, got '-1,2'"):
        _common.int_list("-1,2")
    with pytest.raises(argparse.ArgumentTypeError, match="expected positive integers, got '8,0'"):
        _common.positive_int_list("8,0")
    with pytest.raises(argparse.ArgumentTypeError, match="expected integers >= 3, got '2'"):
        _common.int_list("2", minimum=3)
    with pytest.raises(argparse.ArgumentTypeError, match="expected comma-separated integers"):
        _common.positive_int_list("8,,")
