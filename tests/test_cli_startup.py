"""The command line starts without torch, and the pieces the subcommands share."""

from __future__ import annotations

import argparse
import re
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


#: Every subcommand the README documents, in the order ``latentatlas --help`` lists them.
COMMANDS = ["info", "train", "encode", "sample", "sheets", "atvec", "labels", "classify", "diagnose", "edit", "demo",
            "quality", "bench", "serve"]


def _listed_commands(help_text: str) -> list[str]:
    """The names in the subcommand list of ``latentatlas --help``: the lines under
    ``COMMAND`` indented by four spaces (a help text that wraps is indented further)."""
    lines = help_text.splitlines()
    start = lines.index("  COMMAND") + 1
    names = []
    for line in lines[start:]:
        match = re.match(r"^ {4}(\S+)(?: {2,}|$)", line)
        if match:
            names.append(match.group(1))
        elif not line.startswith(" " * 5):  # the end of the list
            break
    return names


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    listed = _listed_commands(capsys.readouterr().out)
    registered = list(next(a for a in cli.build_parser()._actions
                           if isinstance(a, argparse._SubParsersAction)).choices)
    assert listed == registered == COMMANDS


@pytest.mark.parametrize("argv", [[c] for c in COMMANDS] + [["sample", kind] for kind in
                                                             ("random", "grid", "strips", "jdiagram", "mine", "walk")])
def test_every_subcommand_has_help_with_an_example(capsys, argv):
    assert cli.main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    command = " ".join(argv)
    assert out.startswith(f"usage: latentatlas {command} ")  # the subcommand's own help, not the top level's
    assert re.search(rf"^examples:\n  latentatlas {command}\b", out, re.M)


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
