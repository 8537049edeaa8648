"""File helpers shared by every module that writes (stores, checkpoints, sheets, GIFs,
index files, reports, benchmark JSON).

Atomic writes: a temporary file beside the target, moved over it with os.replace only
once fully written, and removed on failure, so no reader ever sees a half-written file.
:func:`jsonable` turns results holding numpy values into strict JSON; :func:`parse_json`
reads JSON with a nesting limit and errors that name the file. Standard library only, so
the command line can use it without importing numpy or torch."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from typing import IO, Any, Callable, Iterator

__all__ = ["atomic_write", "atomic_open", "jsonable", "naming", "parse_json", "MAX_JSON_DEPTH"]

#: The deepest nesting of arrays and objects :func:`parse_json` accepts (latentatlas
#: files nest a few levels; far deeper input would exhaust the recursion of the parser
#: or of the code that walks the result).
MAX_JSON_DEPTH = 64


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
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise naming(exc, target) from exc
        raise


def naming(exc: OSError, path: str | os.PathLike) -> OSError:
    """``exc`` if it names a file, else an OSError of the same errno that names ``path``
    (a full disk's ``write`` error says only "No space left on device")."""
    if exc.filename is not None or exc.errno is None:
        return exc
    return OSError(exc.errno, f"{exc.strerror or exc} while writing", os.fspath(path))


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


def jsonable(value: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """``value`` as plain JSON data that ``json.dumps(..., allow_nan=False)`` accepts.

    Mappings become dicts with string keys; tuples, lists and sets become lists; numpy
    arrays and scalars and torch tensors (anything with ``tolist``) become Python numbers
    and lists; paths become strings; NaN and infinities become None (JSON has no such
    numbers). Any other object goes through ``default`` when given, else is a TypeError
    naming its type.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v, default) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, default) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist(), default)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if default is not None:
        return jsonable(default(value))
    raise TypeError(f"{type(value).__name__} values cannot be written as JSON")


def parse_json(text: str | bytes, source: str | os.PathLike, what: str = "") -> Any:
    """``text`` parsed as JSON; any problem is a ValueError naming ``source`` (the file)
    and ``what`` part of it, when given: invalid JSON or encoding, or nesting deeper than
    :data:`MAX_JSON_DEPTH`."""
    name = repr(os.fspath(source)) + (f": {what}" if what else "")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{name}: JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{name} is not valid JSON: {exc}") from None
    level = [value] if isinstance(value, (list, dict)) else []  # containers at depth 1, 2, ...
    for _ in range(MAX_JSON_DEPTH):
        if not level:
            return value
        inner: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            inner.extend(c for c in children if isinstance(c, (list, dict)))
        level = inner
    if not level:
        return value
    raise ValueError(f"{name}: JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)")
