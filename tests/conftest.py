"""Shared fixtures: the bundled digits, and one torch thread for tiny models on a shared machine."""

from __future__ import annotations

import os
import sys

import pytest

# tests/reference.py is imported as a plain module by the test files.
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models train fastest on one thread; restores the thread count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled digits as a latentatlas Dataset."""
    import latentatlas as la

    return la.data.load_digits()


@pytest.fixture(scope="session")
def digits_vae():
    """The shipped digits VAE (small, on the CPU)."""
    import latentatlas as la

    return la.models.load("digits-vae")


@pytest.fixture(scope="session")
def digits_store(tmp_path_factory):
    """The bundled digits encoded by the shipped digits VAE with ``latentatlas encode``: the store's path."""
    from latentatlas import cli

    path = tmp_path_factory.mktemp("store") / "digits-vae.npz"
    assert cli.main(["encode", "--model", "digits-vae", "--data", "digits", "--output", str(path),
                     "--device", "cpu", "--no-progress"]) == 0
    return path


def run_cli(capsys, *argv):
    """Runs ``latentatlas ARGV`` in process: ``(exit status, stdout, stderr)``."""
    from latentatlas import cli

    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code, err, pattern):
    """A failed command: non-zero exit, exactly one stderr line matching ``pattern``, no traceback."""
    import re

    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]
