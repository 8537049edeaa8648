"""The NeighborIndex file format: writing it atomically, and reading it back only after
every byte has been checked.

Layout: ``MAGIC`` (8 bytes), format version (uint32 LE), header length (uint32 LE), a
UTF-8 JSON header (dim, space, count, HNSW parameters, payload size, and a SHA-256 over the
other header fields and the payload), then hnswlib's own index bytes. Version 1 is a
full-dimension index; version 2 (written only by reduced-dimension indexes,
``reduce_dim=r``) adds ``reduce_dim`` and ``hnsw_bytes`` to the header, and after
hnswlib's bytes the projection (``(r, dim)`` float32 basis, ``(dim,)`` float32 mean; only
when count > 0), the ids of the rows (``(count,)`` int64) and the full-dimension vectors
(``(count, dim)`` float32), all little-endian and all covered by the checksum.

:func:`read_index` checks all of it, and hnswlib's bytes structurally against dim, count
and M (:mod:`._hnsw_payload`: every size, link count, neighbour id and the entry point),
before hnswlib reads a byte, so a truncated, corrupt, foreign or hand-edited file is a
``ValueError`` naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from .._files import atomic_open
from ._hnsw_payload import check_hnsw_payload
from .exact import SPACES

__all__ = ["MAGIC", "FORMAT_VERSION", "REDUCED_FORMAT_VERSION", "check_folder", "write_index", "read_index",
           "pack_reduced", "unpack_reduced"]

MAGIC = b"LATLSIDX"
FORMAT_VERSION = 1  # full-dimension indexes
REDUCED_FORMAT_VERSION = 2  # reduced-dimension indexes (projection + full vectors appended)
_PREFIX = struct.Struct("<8sII")
_MAX_HEADER = 1 << 16
_CHUNK = 1 << 20


def check_folder(path: str | os.PathLike) -> str:
    """``path`` as a string, if the folder it names exists (else a ValueError); checked
    before an index is locked for saving, so a bad path never waits on other threads."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path!r}: folder {folder!r} does not exist")
    return path


def _header_digest(fields: dict[str, Any]) -> Any:
    """A SHA-256 already fed with the header fields, to be fed the payload next: the
    checksum covers both."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode())


def write_index(path: str, fields: dict[str, Any], save_graph: Callable[[str], None],
                extras: list[np.ndarray]) -> str:
    """Writes an index file to ``path`` atomically and returns the path.

    Args:
        path: the file (its folder must exist, see :func:`check_folder`).
        fields: the header's fields other than the sizes and checksum (dim, space, count,
            M, ef_construction, ef, seed, next_id; and reduce_dim for a version-2 file).
        save_graph: writes hnswlib's index to the file name it is given.
        extras: the arrays that follow hnswlib's bytes (:func:`pack_reduced`; none for
            version 1), already in their on-disk dtypes.
    """
    reduced = "reduce_dim" in fields
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmp:
        raw = os.path.join(tmp, "hnsw.bin")
        save_graph(raw)
        hnsw_bytes = os.path.getsize(raw)
        fields = {**fields, "payload_bytes": hnsw_bytes + sum(a.nbytes for a in extras)}
        if reduced:
            fields["hnsw_bytes"] = hnsw_bytes
        digest = _header_digest(fields)
        with open(raw, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        for array in extras:
            digest.update(array.reshape(-1).view(np.uint8))
        header = json.dumps({**fields, "sha256": digest.hexdigest()}, sort_keys=True).encode()
        version = REDUCED_FORMAT_VERSION if reduced else FORMAT_VERSION
        with atomic_open(path, "wb") as out, open(raw, "rb") as src:
            out.write(_PREFIX.pack(MAGIC, version, len(header)))
            out.write(header)
            shutil.copyfileobj(src, out, _CHUNK)
            for array in extras:
                out.write(array.reshape(-1).view(np.uint8))
    return path


@contextmanager
def read_index(path: str) -> Iterator[tuple[dict[str, Any], str, bytes]]:
    """Reads and checks an index file; yields ``(header, hnsw_file, extras)``: the header
    fields (without the checksum), the name of a temporary file holding hnswlib's bytes
    (valid inside the ``with`` block) and the bytes that follow them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an index file, unsupported version, corrupt header, truncated or
            trailing data, checksum mismatch, or hnswlib data that contradict the header.
    """
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not a NeighborIndex file")
    with open(path, "rb") as f:
        header = _read_header(f, path)
        expected = header.pop("sha256")
        with tempfile.TemporaryDirectory() as tmp:
            raw = os.path.join(tmp, "hnsw.bin")
            digest = _header_digest(header)
            hnsw_left = header.get("hnsw_bytes", header["payload_bytes"])
            with open(raw, "wb") as out:
                while hnsw_left > 0:
                    chunk = f.read(min(_CHUNK, hnsw_left))
                    hnsw_left -= len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
            extras = f.read()
            digest.update(extras)
            if digest.hexdigest() != expected:
                raise ValueError(f"{path!r}: checksum mismatch, the index file is corrupt")
            check_hnsw_payload(raw, path, dim=header.get("reduce_dim") or header["dim"], count=header["count"],
                               M=header["M"], ef_construction=header["ef_construction"])
            yield header, raw, extras


def pack_reduced(basis: np.ndarray | None, mean: np.ndarray | None, row_ids: np.ndarray,
                 vectors: np.ndarray) -> list[np.ndarray]:
    """What a version-2 file holds after hnswlib's bytes, in on-disk dtypes (the
    projection is absent while nothing has been added)."""
    projection = [] if basis is None else [basis.astype("<f4"), mean.astype("<f4")]
    return [np.ascontiguousarray(a) for a in projection + [row_ids.astype("<i8"), vectors.astype("<f4")]]


def unpack_reduced(extras: bytes, count: int, dim: int, reduce_dim: int
                   ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    """Reads back what :func:`pack_reduced` wrote (its size already checked against the
    header by :func:`read_index`): ``(basis, mean, row_ids, vectors)`` as native-order
    copies, basis and mean None when ``count`` is 0."""
    offset = 0

    def take(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        nonlocal offset
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        array = np.frombuffer(extras, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape)
        offset += size
        return array.astype(dtype[1:], copy=True)

    basis = mean = None
    if count:
        basis, mean = take("<f4", (reduce_dim, dim)), take("<f4", (dim,))
    return basis, mean, take("<i8", (count,)), take("<f4", (count, dim))


def _check_reduced_header(header: dict[str, Any], path: str) -> None:
    """A version-2 header's own fields, and the size of what follows hnswlib's bytes."""
    fields = [header.get("reduce_dim"), header.get("hnsw_bytes")]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in fields):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid reduce_dim / hnsw_bytes)")
    r, d, n = header["reduce_dim"], header["dim"], header["count"]
    if r > d:
        raise ValueError(f"{path!r}: corrupt header (reduce_dim {r} > dim {d})")
    extras = (4 * r * d + 4 * d if n else 0) + 8 * n + 4 * n * d
    if header["payload_bytes"] != header["hnsw_bytes"] + extras:
        raise ValueError(f"{path!r}: corrupt header (payload of {header['payload_bytes']} bytes, expected "
                         f"{header['hnsw_bytes']} of graph + {extras} of projection and vectors)")


def _read_header(f: Any, path: str) -> dict[str, Any]:
    """Reads and validates the prefix and JSON header; leaves ``f`` at the payload."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        raise ValueError(f"{path!r} is not a latentatlas NeighborIndex file (bad magic bytes)")
    _, version, length = _PREFIX.unpack(prefix)
    if version not in (FORMAT_VERSION, REDUCED_FORMAT_VERSION):
        raise ValueError(f"{path!r}: index file format version {version} is not supported (this build reads "
                         f"versions {FORMAT_VERSION} and {REDUCED_FORMAT_VERSION})")
    if length > _MAX_HEADER:
        raise ValueError(f"{path!r}: corrupt header (length {length})")
    raw = f.read(length)
    if len(raw) < length:
        raise ValueError(f"{path!r} is truncated: the header is cut short")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path!r}: corrupt header ({exc})") from None
    ints = ("dim", "count", "M", "ef_construction", "ef", "seed", "next_id", "payload_bytes")
    if not isinstance(header, dict) or any(not isinstance(header.get(key), int) or isinstance(header.get(key), bool)
                                           or header[key] < 0 for key in ints):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid fields)")
    if header.get("space") not in SPACES or not isinstance(header.get("sha256"), str) or header["dim"] < 1:
        raise ValueError(f"{path!r}: corrupt header (bad space, dim or checksum field)")
    if version == REDUCED_FORMAT_VERSION:
        _check_reduced_header(header, path)
    elif "reduce_dim" in header or "hnsw_bytes" in header:
        raise ValueError(f"{path!r}: corrupt header (reduced-dimension fields in a version {version} file)")
    start = f.tell()
    size = os.fstat(f.fileno()).st_size
    have = size - start
    if have < header["payload_bytes"]:
        raise ValueError(f"{path!r} is truncated: {have} of {header['payload_bytes']} bytes of index data")
    if have > header["payload_bytes"]:
        raise ValueError(f"{path!r} has {have - header['payload_bytes']} unexpected trailing bytes")
    return header
