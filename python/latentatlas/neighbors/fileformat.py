"""The NeighborIndex file format: writing it atomically, and reading it back only after
every byte has been checked.

Layout: ``MAGIC`` (8 bytes), format version (uint32 LE), header length (uint32 LE), a
UTF-8 JSON header (dim, space, count, HNSW parameters, payload size, and a SHA-256 over the
other header fields and the payload), then the payload:

- version 3 (written now): hnswlib's index bytes (``hnsw_bytes`` of them; none while the
  index searches exactly and has no graph), the projection of a reduced-dimension index
  (``(r, dim)`` float32 basis and ``(dim,)`` float32 mean, once its graph exists), then one
  entry per row (``rows`` of them, removed and replaced ones included): ids (int64), alive
  flags (uint8) and vectors (``(rows, dim)`` float32; unit rows for cosine). The header
  also holds the recall target, the exact-search size, the user's ``ef`` (or null) and the
  calibration (see :mod:`latentatlas.neighbors.calibrate`).
- version 2 (read only): a reduced-dimension index; hnswlib's bytes, the projection (only
  when count > 0), the ids and the vectors.
- version 1 (read only): a full-dimension index; hnswlib's bytes only (its labels are the ids).

All little-endian and all covered by the checksum. :func:`read_index` checks all of it, and
hnswlib's bytes structurally against dim, count and M (:mod:`._hnsw_payload`: every size,
link count, neighbour id and the entry point), before hnswlib reads a byte, so a truncated,
corrupt, foreign or hand-edited file is a ``ValueError`` naming the problem.
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

__all__ = ["MAGIC", "FORMAT_VERSION", "VERSIONS", "check_folder", "write_index", "read_index",
           "pack_projection", "unpack_projection", "unpack_rows", "unpack_reduced_v2"]

MAGIC = b"LATLSIDX"
FORMAT_VERSION = 3  # what save() writes
VERSIONS = (1, 2, 3)  # what load() reads: 1 full-dimension, 2 reduced-dimension, 3 both (rows kept)
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


def write_index(path: str, fields: dict[str, Any], save_graph: Callable[[str], None] | None,
                extras: list[np.ndarray]) -> str:
    """Writes a version-3 index file to ``path`` atomically and returns the path.

    Args:
        path: the file (its folder must exist, see :func:`check_folder`).
        fields: the header's fields other than the sizes and checksum.
        save_graph: writes hnswlib's index to the file name it is given; None when the
            index has no graph.
        extras: the arrays that follow hnswlib's bytes (projection, ids, alive flags,
            vectors), already in their on-disk dtypes.
    """
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmp:
        raw = os.path.join(tmp, "hnsw.bin")
        if save_graph is None:
            open(raw, "wb").close()
        else:
            save_graph(raw)
        hnsw_bytes = os.path.getsize(raw)
        fields = {**fields, "hnsw_bytes": hnsw_bytes, "payload_bytes": hnsw_bytes + sum(a.nbytes for a in extras)}
        digest = _header_digest(fields)
        with open(raw, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        for array in extras:
            digest.update(array.reshape(-1).view(np.uint8))
        header = json.dumps({**fields, "sha256": digest.hexdigest()}, sort_keys=True).encode()
        with atomic_open(path, "wb") as out, open(raw, "rb") as src:
            out.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
            out.write(header)
            shutil.copyfileobj(src, out, _CHUNK)
            for array in extras:
                out.write(array.reshape(-1).view(np.uint8))
    return path


@contextmanager
def read_index(path: str) -> Iterator[tuple[dict[str, Any], str | None, bytes]]:
    """Reads and checks an index file; yields ``(header, hnsw_file, extras)``: the header
    fields (without the checksum, with ``"version"`` added), the name of a temporary file
    holding hnswlib's bytes (valid inside the ``with`` block; None when the file has no
    graph) and the bytes that follow them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an index file, unsupported version, corrupt header, truncated or
            trailing data, checksum mismatch, or hnswlib data that contradict the header.
    """
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not a NeighborIndex file")
    with open(path, "rb") as f:
        header, version = _read_header(f, path)
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
            has_graph = header.get("hnsw_bytes", header["payload_bytes"]) > 0
            if has_graph:
                graph_count = header["graph_count"] if version == 3 else header["count"]
                check_hnsw_payload(raw, path, dim=header.get("reduce_dim") or header["dim"], count=graph_count,
                                   M=header["M"], ef_construction=header["ef_construction"],
                                   allow_deleted=version == 3)
            yield {**header, "version": version}, (raw if has_graph else None), extras


def pack_projection(basis: np.ndarray | None, mean: np.ndarray | None) -> list[np.ndarray]:
    """A reduced-dimension index's projection in on-disk dtypes (nothing before it is learned)."""
    if basis is None:
        return []
    return [np.ascontiguousarray(basis.astype("<f4")), np.ascontiguousarray(mean.astype("<f4"))]


def _taker(extras: bytes) -> Callable[[str, tuple[int, ...]], np.ndarray]:
    """Reads consecutive little-endian arrays from ``extras`` as native-order copies."""
    offset = 0

    def take(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        nonlocal offset
        n = int(np.prod(shape))
        array = np.frombuffer(extras, dtype=dtype, count=n, offset=offset).reshape(shape)
        offset += n * np.dtype(dtype).itemsize
        return array.astype(dtype[1:], copy=True)

    return take


def unpack_projection(extras: bytes, dim: int, reduce_dim: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(basis, mean)`` from what :func:`pack_projection` wrote (None, None when empty)."""
    if not extras:
        return None, None
    take = _taker(extras)
    return take("<f4", (reduce_dim, dim)), take("<f4", (dim,))


def projection_bytes(header: dict[str, Any]) -> int:
    """Size of a version-3 file's projection section."""
    r, d = header.get("reduce_dim"), header["dim"]
    return 4 * r * d + 4 * d if r and header["hnsw_bytes"] else 0


def unpack_rows(extras: bytes, header: dict[str, Any]) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """A version-3 file's sections after hnswlib's bytes (sizes already checked):
    ``(projection bytes, ids, alive, vectors)``."""
    cut = projection_bytes(header)
    take = _taker(extras[cut:])
    n, d = header["rows"], header["dim"]
    ids, alive, vectors = take("<i8", (n,)), take("|u1", (n,)), take("<f4", (n, d))
    return extras[:cut], ids, alive.astype(bool), vectors


def unpack_reduced_v2(extras: bytes, count: int, dim: int, reduce_dim: int
                      ) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A version-2 file's sections after hnswlib's bytes: ``(projection bytes, ids, vectors)``."""
    cut = 4 * reduce_dim * dim + 4 * dim if count else 0
    take = _taker(extras[cut:])
    return extras[:cut], take("<i8", (count,)), take("<f4", (count, dim))


def _is_count(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_reduced_header(header: dict[str, Any], path: str) -> None:
    """A version-2 header's own fields, and the size of what follows hnswlib's bytes."""
    if not _is_count(header.get("reduce_dim"), 1) or not _is_count(header.get("hnsw_bytes"), 1):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid reduce_dim / hnsw_bytes)")
    r, d, n = header["reduce_dim"], header["dim"], header["count"]
    if r > d:
        raise ValueError(f"{path!r}: corrupt header (reduce_dim {r} > dim {d})")
    extras = (4 * r * d + 4 * d if n else 0) + 8 * n + 4 * n * d
    if header["payload_bytes"] != header["hnsw_bytes"] + extras:
        raise ValueError(f"{path!r}: corrupt header (payload of {header['payload_bytes']} bytes, expected "
                         f"{header['hnsw_bytes']} of graph + {extras} of projection and vectors)")


def _check_v3_header(header: dict[str, Any], path: str) -> None:
    """A version-3 header's own fields, and the size of what follows hnswlib's bytes."""
    r = header.get("reduce_dim")
    if (not all(_is_count(header.get(key)) for key in ("rows", "hnsw_bytes", "graph_count", "exact_below"))
            or not (r is None or (_is_count(r, 1) and r <= header["dim"]))
            or not (header["ef"] is None or _is_count(header["ef"], 1))
            or not isinstance(header.get("recall"), float) or not 0.0 < header["recall"] <= 1.0
            or not isinstance(header.get("calibration"), dict)
            or header["count"] > header["rows"] or header["graph_count"] > header["rows"]):
        raise ValueError(f"{path!r}: corrupt header (invalid rows, graph, reduce_dim, ef, recall or calibration fields)")
    expected = header["hnsw_bytes"] + projection_bytes(header) + header["rows"] * (8 + 1 + 4 * header["dim"])
    if header["payload_bytes"] != expected:
        raise ValueError(f"{path!r}: corrupt header (payload of {header['payload_bytes']} bytes, expected {expected})")


def _read_header(f: Any, path: str) -> tuple[dict[str, Any], int]:
    """Reads and validates the prefix and JSON header; leaves ``f`` at the payload;
    returns the header and the format version."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        raise ValueError(f"{path!r} is not a latentatlas NeighborIndex file (bad magic bytes)")
    _, version, length = _PREFIX.unpack(prefix)
    if version not in VERSIONS:
        raise ValueError(f"{path!r}: index file format version {version} is not supported (this build reads "
                         f"versions {', '.join(map(str, VERSIONS))})")
    if length > _MAX_HEADER:
        raise ValueError(f"{path!r}: corrupt header (length {length})")
    raw = f.read(length)
    if len(raw) < length:
        raise ValueError(f"{path!r} is truncated: the header is cut short")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path!r}: corrupt header ({exc})") from None
    ints = ("dim", "count", "M", "ef_construction", "seed", "next_id", "payload_bytes")
    if (not isinstance(header, dict) or any(not _is_count(header.get(key)) for key in ints)
            or (version < 3 and not _is_count(header.get("ef")))):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid fields)")
    if header.get("space") not in SPACES or not isinstance(header.get("sha256"), str) or header["dim"] < 1:
        raise ValueError(f"{path!r}: corrupt header (bad space, dim or checksum field)")
    if version == 3:
        _check_v3_header(header, path)
    elif version == 2:
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
    return header, version
