"""Atomic writes: whole file or nothing, no temporary left, ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from latentatlas._files import _UMASK, atomic_open, atomic_write


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
