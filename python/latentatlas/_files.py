"""Atomic file writes: a temporary file beside the target, moved over it with os.replace
only once fully written, and removed on failure, so no reader ever sees a half-written
file. Shared by every module that writes (stores, checkpoints, sheets, GIFs, index files,
benchmark JSON)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Any, Callable, Iterator

__all__ = ["atomic_write", "atomic_open"]


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import (setting it is process-wide, so not done per write from threads).
_UMASK = _read_umask()


def _final_mode(target: str) -> int:
    """The mode a plain ``open(target, "w")`` would give: the existing file's mode when
    replacing one, else 0o666 less the umask (mkstemp's 0o600 would hide outputs from
    the web server or colleague that reads them)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


@contextlib.contextmanager
def _temporary_beside(path: str | os.PathLike) -> Iterator[str]:
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {target!r}: directory {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> str:
    """Calls ``write(tmp_path)`` (for writers that take a file name: PIL, hnswlib), then
    moves the file over ``path``. Returns the path written, as a string."""
    with _temporary_beside(path) as tmp:
        write(tmp)
    return os.fspath(path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Opens a temporary file beside ``path`` (``"w"`` modes are UTF-8 text); on success
    it is flushed to disk and replaces ``path``."""
    with _temporary_beside(path) as tmp:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
