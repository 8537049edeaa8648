"""A structural check of hnswlib's serialized index, run before hnswlib reads a byte of it.

The index file's SHA-256 proves that the bytes are the ones written, not that whoever
wrote them (and recomputed the checksum) was hnswlib: hnswlib 0.8 trusts every count,
id and offset in its file, so an edited entry point, neighbour id or link count makes the
first query read out of bounds and crash the interpreter. :func:`check_hnsw_payload`
checks every field hnswlib will use, so that any payload either describes a valid graph
or is a ``ValueError`` naming the file and the field.

hnswlib 0.8's layout (``hnswalg.h``, ``saveIndex``), all little-endian:

* header (96 bytes): ``offsetLevel0_``, ``max_elements_``, ``cur_element_count``,
  ``size_data_per_element_``, ``label_offset_``, ``offsetData_`` (size_t each),
  ``maxlevel_`` (int32), ``enterpoint_node_`` (uint32), ``maxM_``, ``maxM0_``, ``M_``
  (size_t), ``mult_`` (double), ``ef_construction_`` (size_t);
* level 0, ``count`` records of ``size_data_per_element_`` bytes: a 4-byte link header
  (uint16 link count, a flag byte whose bit 0 marks a deleted element, a zero byte),
  ``maxM0_`` uint32 neighbour ids, the ``dim`` float32 vector, the uint64 label;
* per element: a uint32 byte size of its upper-level link lists (0 for a level-0-only
  element, else ``level * (4 + 4 * maxM_)``) and then, level 1 first, one block per
  level: a 4-byte link header (uint16 count) and ``maxM_`` uint32 neighbour ids.

What hnswlib relies on and is checked here: the sizes and offsets implied by ``dim`` and
``M`` (``maxM = M``, ``maxM0 = 2 M``, ``mult = 1 / ln M``), the element count, the exact byte
length, link counts within each level's maximum, neighbour ids below the count and
neighbours at level ``l`` that themselves reach level ``l``, the entry point inside the
graph at the top level, finite vectors and unique labels that fit an int64.
"""

from __future__ import annotations

import math
import os
import struct
import numpy as np

__all__ = ["HNSW_HEADER", "check_hnsw_payload"]

#: hnswlib 0.8's saveIndex header (see the module docstring).
HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_NO_ENTRY = 0xFFFFFFFF  # enterpoint_node_ of an empty graph (tableint -1)
_DELETED = 0x01  # hnswlib's DELETE_MARK, in the third byte of an element's level-0 link header
_LABEL_BYTES = 8


def check_hnsw_payload(raw: str | os.PathLike, path: str, *, dim: int, count: int, M: int,
                       ef_construction: int, allow_deleted: bool = False) -> None:
    """Checks the hnswlib index bytes in the file ``raw`` against the index file's header.

    Args:
        raw: the file holding hnswlib's bytes (exactly those, nothing after them).
        path: the index file, named in every error.
        dim: the graph's vector size (float32 vectors).
        count: the number of elements the header promises.
        M: the header's HNSW degree.
        ef_construction: the header's build breadth (hnswlib stores ``max(ef_construction, M)``).
        allow_deleted: accept elements carrying hnswlib's deleted mark (a format that
            saves removals); otherwise a deleted mark is refused like any other flag.

    Raises:
        ValueError: naming ``path`` and the first field found wrong.
    """
    size = os.path.getsize(raw)
    if size < HNSW_HEADER.size:
        raise ValueError(f"{path!r}: the hnswlib data are {size} bytes, shorter than hnswlib's "
                         f"{HNSW_HEADER.size}-byte header")
    with open(raw, "rb") as f:
        _check(np.frombuffer(f.read(), dtype=np.uint8), path, dim, count, M, ef_construction, allow_deleted)


def _fail(path: str, what: str) -> None:
    raise ValueError(f"{path!r}: invalid hnswlib data: {what}")


def _check(buf: np.ndarray, path: str, dim: int, count: int, M: int, ef_construction: int,
           allow_deleted: bool) -> None:
    (offset_level0, max_elements, n, per_element, label_offset, offset_data, max_level, entry, max_m,
     max_m0, m, mult, efc) = HNSW_HEADER.unpack_from(buf)
    links0 = 4 + 4 * max_m0
    expected = {
        "offsetLevel0": (offset_level0, 0),
        "cur_element_count": (n, count),
        "M": (m, M),
        "maxM": (max_m, M),
        "maxM0": (max_m0, 2 * M),
        "offsetData": (offset_data, 4 + 8 * M),
        "label_offset": (label_offset, 4 + 8 * M + 4 * dim),
        "size_data_per_element": (per_element, 4 + 8 * M + 4 * dim + _LABEL_BYTES),
        "ef_construction": (efc, max(ef_construction, M)),
    }
    for name, (got, want) in expected.items():
        if got != want:
            _fail(path, f"the header (dim {dim}, count {count}, M {M}) does not match the index data: "
                        f"{name} is {got}, the header implies {want}")
    if M < 2:
        _fail(path, f"M is {M}, hnswlib needs at least 2")
    if max_elements < n:
        _fail(path, f"max_elements {max_elements} is below the element count {n}")
    if not (math.isfinite(mult) and math.isclose(mult, 1.0 / math.log(M), rel_tol=1e-9)):
        _fail(path, f"mult is {mult!r}, hnswlib sets 1 / ln(M) = {1.0 / math.log(M)!r}")
    level0_end = HNSW_HEADER.size + n * per_element
    if buf.size < level0_end + 4 * n:
        _fail(path, f"{buf.size} bytes cannot hold {n} elements of {per_element} bytes and their link sizes")
    levels, blocks = _upper_levels(buf, path, level0_end, n, 4 + 4 * max_m)
    if n == 0:
        if max_level != -1 or entry != _NO_ENTRY:
            _fail(path, f"an empty graph has max level {max_level} and entry point {entry} (hnswlib writes -1, -1)")
        return
    top = int(levels.max())
    if max_level != top:
        _fail(path, f"max level is {max_level}, the elements' levels reach {top}")
    if entry >= n:
        _fail(path, f"entry point {entry} is not an element (count {n})")
    if levels[entry] != top:
        _fail(path, f"entry point {entry} is at level {int(levels[entry])}, not at the top level {top}")
    level0 = buf[HNSW_HEADER.size:level0_end].reshape(n, per_element)
    _check_links(path, level0[:, :links0], np.arange(n), np.zeros(n, np.int64), max_m0, levels)
    flags = level0[:, 2:4]
    allowed = np.uint8(_DELETED if allow_deleted else 0)
    bad = np.flatnonzero((flags[:, 0] & ~allowed) | flags[:, 1])
    if bad.size:
        _fail(path, f"element {int(bad[0])} has unknown flag bytes {flags[bad[0]].tolist()} in its level-0 links")
    vectors = np.ascontiguousarray(level0[:, offset_data:label_offset]).view("<f4")
    if not np.isfinite(vectors).all():
        _fail(path, f"element {int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])} has a NaN or infinite vector")
    labels = np.ascontiguousarray(level0[:, label_offset:per_element]).view("<u8").reshape(n)
    if labels.max() >= 1 << 63:
        _fail(path, f"element {int(np.argmax(labels))} has label {int(labels.max())}, beyond int64")
    if np.unique(labels).size != n:
        _fail(path, "two elements share a label")
    if blocks is not None:
        starts, owners, block_levels = blocks
        rows = buf[starts[:, None] + np.arange(4 + 4 * max_m)]
        _check_links(path, rows, owners, block_levels, max_m, levels)


def _upper_levels(buf: np.ndarray, path: str, offset: int, n: int, per_level: int
                  ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Walks the per-element upper-level link lists: each element's level, and the byte
    offset, element and level of every upper-level block (None when there are none). The
    walk must end exactly at the end of the data."""
    levels = np.zeros(n, np.int64)
    data = memoryview(buf)
    size = buf.size
    unpack = struct.Struct("<I").unpack_from
    firsts: list[int] = []
    owners: list[int] = []
    counts: list[int] = []
    for i in range(n):
        if offset + 4 > size:
            _fail(path, f"the data end inside the link lists (element {i} of {n})")
        (nbytes,) = unpack(data, offset)
        offset += 4
        if nbytes:
            if nbytes % per_level:
                _fail(path, f"element {i}'s upper-level links are {nbytes} bytes, not a multiple of {per_level}")
            if offset + nbytes > size:
                _fail(path, f"element {i}'s upper-level links ({nbytes} bytes) run past the end of the data")
            levels[i] = nbytes // per_level
            firsts.append(offset)
            owners.append(i)
            counts.append(nbytes // per_level)
            offset += nbytes
    del data
    if offset != size:
        _fail(path, f"{size - offset} bytes follow the last element's link lists")
    if not firsts:
        return levels, None
    reps = np.asarray(counts, np.int64)
    group_start = np.repeat(np.cumsum(reps) - reps, reps)
    step = np.arange(int(reps.sum()), dtype=np.int64) - group_start  # 0, 1, ... within each element
    starts = np.repeat(np.asarray(firsts, np.int64), reps) + step * per_level
    return levels, (starts, np.repeat(np.asarray(owners, np.int64), reps), step + 1)


def _check_links(path: str, rows: np.ndarray, owners: np.ndarray, row_levels: np.ndarray, max_links: int,
                 levels: np.ndarray) -> None:
    """Each row of ``rows`` is one link block (uint16 count, 2 flag bytes, ``max_links``
    uint32 ids) of element ``owners`` at level ``row_levels``: counts within the maximum,
    ids below the element count, and every neighbour present at that level."""
    n = levels.size
    counts = np.ascontiguousarray(rows[:, :2]).view("<u2").reshape(-1).astype(np.int64)
    over = np.flatnonzero(counts > max_links)
    if over.size:
        j = over[0]
        _fail(path, f"element {int(owners[j])}'s level-{int(row_levels[j])} link list holds {int(counts[j])} links, "
                    f"more than its maximum {max_links}")
    ids = np.ascontiguousarray(rows[:, 4:4 + 4 * max_links]).view("<u4")
    used = np.arange(max_links) < counts[:, None]
    linked = ids[used].astype(np.int64)
    if not linked.size:
        return
    source = np.broadcast_to(owners[:, None], used.shape)[used]
    at = np.broadcast_to(row_levels[:, None], used.shape)[used]
    outside = np.flatnonzero(linked >= n)
    if outside.size:
        j = outside[0]
        _fail(path, f"element {int(source[j])} links at level {int(at[j])} to element {int(linked[j])}, "
                    f"the graph has {n}")
    short = np.flatnonzero(levels[linked] < at)
    if short.size:
        j = short[0]
        _fail(path, f"element {int(source[j])} links at level {int(at[j])} to element {int(linked[j])}, which only "
                    f"reaches level {int(levels[linked[j]])}")

