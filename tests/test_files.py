"""Atomic writes (whole file or nothing, no temporary left, ordinary permissions) and JSON-safe values."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from latentatlas._files import _UMASK, atomic_open, atomic_write, jsonable


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_umask_mode_not_mkstemps(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_open(path, "w") as fh:
        fh.write("héllo")
    assert path.read_text(encoding="utf-8") == "héllo"
    assert _mode(path) == 0o666 & ~_UMASK
    assert os.listdir(tmp_path) == ["out.txt"]


def test_replacing_keeps_the_existing_mode(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"new")

    atomic_write(path, write)
    assert path.read_bytes() == b"new" and _mode(path) == 0o640


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")

    def broken(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["keep.txt"]


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        atomic_write(tmp_path / "no" / "f.txt", lambda tmp: None)


def test_jsonable_turns_numpy_values_and_non_finite_numbers_into_strict_json():
    value = {
        "a": np.float32(0.5), "b": np.int64(3), "c": np.bool_(True), "d": np.arange(3),
        "e": (1, float("nan"), math.inf), "f": [np.float64(-np.inf)], 7: None, "g": Path("x/y"),
        "h": {"nested": np.array([[1.5, np.nan]])}, "i": "text", "j": False,
    }
    got = jsonable(value)
    assert got == {"a": 0.5, "b": 3, "c": True, "d": [0, 1, 2], "e": [1, None, None], "f": [None], "7": None,
                   "g": os.fspath(Path("x/y")), "h": {"nested": [[1.5, None]]}, "i": "text", "j": False}
    assert type(got["b"]) is int and type(got["c"]) is bool and type(got["a"]) is float
    json.dumps(got, allow_nan=False)  # strict JSON: no NaN/Infinity tokens


def test_jsonable_takes_tensors():
    torch = pytest.importorskip("torch")
    assert jsonable({"t": torch.tensor([1.0, float("nan")])}) == {"t": [1.0, None]}


def test_jsonable_refuses_unknown_objects_unless_given_a_default():
    with pytest.raises(TypeError, match="object values cannot be written as JSON"):
        jsonable({"x": object()})
    assert jsonable({"x": complex(1, 2)}, default=str) == {"x": "(1+2j)"}
