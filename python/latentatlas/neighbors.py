"""Nearest neighbours of latents: an HNSW index (hnswlib) with exact re-ranking, and exact
brute-force search on the native ``score`` kernel.

Distances follow hnswlib's conventions in every path (approximate, re-ranked, exact):

- ``"cosine"``: ``1 − cos(q, x)`` (a zero vector has cosine 0 with everything);
- ``"ip"``: ``1 − q·x``;
- ``"l2"``: the squared Euclidean distance ``|q − x|²``.

Thread rules (enforced): any number of threads may call :meth:`NeighborIndex.query` and
:meth:`~NeighborIndex.save` at once (graph searches take turns inside, since hnswlib keeps
one search breadth per index; each batch is still searched in parallel by hnswlib's own
threads); :meth:`~NeighborIndex.add` needs the index to itself. A query or save that starts
while an add is running, or an add that starts while another add or any query or save is
running, raises ``RuntimeError`` instead of racing (hnswlib releases the GIL, so such calls
would otherwise overlap). Serialise adds and queries yourself, e.g. build first and then
serve queries.

Index files: ``MAGIC`` (8 bytes), format version (uint32 LE), header length (uint32 LE),
a UTF-8 JSON header (dim, space, count, HNSW parameters, payload size, and a SHA-256 over
the other header fields and the payload), then hnswlib's own index bytes.
:meth:`NeighborIndex.load` checks all of it, and cross-checks hnswlib's own header against
dim, count and M, before hnswlib reads a byte, so a truncated, corrupt or foreign file is a
``ValueError`` naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from . import ops
from ._files import atomic_write
from ._validate import check_int, finite_floats, to_numpy

__all__ = ["SPACES", "NeighborIndex", "exact_search", "recall_at_k"]

SPACES = ("cosine", "l2", "ip")
MAGIC = b"LATLSIDX"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_MAX_HEADER = 1 << 16
_CHUNK = 1 << 20
# Score blocks hold at most this many (query, vector) pairs (64 MiB of float32).
_BLOCK_PAIRS = 1 << 24

Array = Any  # numpy.ndarray or torch.Tensor


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:  # pragma: no cover - hnswlib is a dependency
        raise ImportError("NeighborIndex needs hnswlib: pip install hnswlib") from exc
    return hnswlib


def _check_space(space: Any) -> str:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    return space


def _as_vectors(name: str, x: Array, dim: int | None, *, allow_1d: bool = False) -> np.ndarray:
    """A C-contiguous float32 (N, dim) copy or view of an array/tensor, checked."""
    x = finite_floats(x, name)
    if allow_1d and x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        want = "(D,) or (N, D)" if allow_1d else "(N, D)"
        raise ValueError(f"{name} must be {want}, got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (the index's dim), got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has dimension 0")
    out = np.ascontiguousarray(x, dtype=np.float32)
    if out.size and not np.isfinite(out).all():
        raise ValueError(f"{name} has values too large for float32")
    return out


def _distances_from_scores(scores: np.ndarray, space: str, qq: np.ndarray | None,
                           xx: np.ndarray | None) -> np.ndarray:
    """hnswlib-convention distances from dot products (cosines for "cosine")."""
    if space == "l2":
        d = qq[:, None] + xx[None, :] - 2.0 * scores.astype(np.float64)
        return np.maximum(d, 0.0).astype(np.float32)
    return (1.0 - scores.astype(np.float64)).astype(np.float32)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    return np.einsum("ij,ij->i", x64, x64)


def exact_search(vectors: Array, queries: Array, k: int, space: str = "cosine", *,
                 ids: Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by brute force on the native ``score`` kernel (dot
    products accumulated in double precision), in blocks of queries.

    For small sets, and as the ground truth when measuring an index's recall.

    Args:
        vectors: ``(N, D)`` data, float32/float64 (used as float32).
        queries: ``(Q, D)`` or ``(D,)``.
        k: neighbours per query, ``1 <= k <= N``.
        space: ``"cosine"``, ``"l2"`` or ``"ip"`` (distances as in the module docstring).
        ids: optional ``(N,)`` integer labels for the rows of ``vectors`` (default: row numbers).

    Returns:
        ``(ids, distances)``, each ``(Q, k)`` (int64, float32), nearest first; equal
        distances are listed by row number.
    """
    space = _check_space(space)
    data = _as_vectors("vectors", vectors, None)
    q = _as_vectors("queries", queries, data.shape[1], allow_1d=True)
    n = data.shape[0]
    if n == 0:
        raise ValueError("vectors is empty: nothing to search")
    k = check_int("k", k, 1)
    if k > n:
        raise ValueError(f"k = {k} is larger than the number of vectors ({n})")
    labels = np.arange(n, dtype=np.int64) if ids is None else _check_ids(ids, n)
    xx = _sq_norms(data) if space == "l2" else None
    block = max(1, _BLOCK_PAIRS // n)
    out_ids = np.empty((q.shape[0], k), dtype=np.int64)
    out_d = np.empty((q.shape[0], k), dtype=np.float32)
    for start in range(0, q.shape[0], block):
        qb = q[start:start + block]
        scores = ops.score(qb, data, normalize=(space == "cosine"))
        dist = _distances_from_scores(scores, space, _sq_norms(qb) if space == "l2" else None, xx)
        top = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(qb), 1))
        top_d = np.take_along_axis(dist, top, axis=1)
        order = np.lexsort((top, top_d), axis=1)
        rows = np.take_along_axis(top, order, axis=1)
        out_ids[start:start + len(qb)] = labels[rows]
        out_d[start:start + len(qb)] = np.take_along_axis(top_d, order, axis=1)
    return out_ids, out_d


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true k nearest ids (``truth``, ``(Q, k)``) present among the
    ids ``found`` (``(Q, k')``) per query."""
    found, truth = np.asarray(found), np.asarray(truth)
    if found.ndim != 2 or truth.ndim != 2 or found.shape[0] != truth.shape[0]:
        raise ValueError(f"found and truth must be (Q, k) arrays with the same Q, got {found.shape} and {truth.shape}")
    if truth.shape[0] == 0 or truth.shape[1] == 0:
        raise ValueError("truth is empty")
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size


def _check_ids(ids: Array, n: int) -> np.ndarray:
    ids = ids if isinstance(ids, (list, tuple)) else to_numpy(ids, "ids")
    ids = np.asarray(ids)
    if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    if ids.shape != (n,):
        raise ValueError(f"ids must have shape ({n},), one per vector, got {ids.shape}")
    if n and (ids.min() < 0 or ids.max() > np.iinfo(np.int64).max):
        raise ValueError("ids must be non-negative 64-bit integers")
    ids = ids.astype(np.int64)
    if len(np.unique(ids)) != n:
        raise ValueError("ids contains duplicates")
    return ids


class NeighborIndex:
    """An HNSW index over latent vectors (hnswlib), with exact re-ranking and brute force.

    Example::

        index = NeighborIndex(64, space="cosine")
        index.add(latents)                  # ids 0..N-1
        ids, distances = index.query(z, k=10)
        index.save("latents.laidx"); index = NeighborIndex.load("latents.laidx")

    Args:
        dim: vector size (>= 1).
        space: ``"cosine"`` (default), ``"l2"`` or ``"ip"``; see the module docstring for
            the distances.
        M: HNSW graph degree (hnswlib's M; 16 is a good default, larger for high recall
            in high dimension).
        ef_construction: candidate list size while building (quality vs build time).
        ef: default candidate list size while searching (raised to k when smaller).
        seed: hnswlib's random seed for the level assignment (builds are reproducible
            single-threaded).
        num_threads: threads for add and query (-1: all cores).

    See the module docstring for the thread rules and the file format.
    """

    def __init__(self, dim: int, space: str = "cosine", *, M: int = 16, ef_construction: int = 200,
                 ef: int = 64, seed: int = 100, num_threads: int = -1) -> None:
        self._dim = check_int("dim", dim, 1)
        self._space = _check_space(space)
        self._M = check_int("M", M, 2)
        self._ef_construction = check_int("ef_construction", ef_construction, 1)
        self._ef = check_int("ef", ef, 1)
        self._seed = check_int("seed", seed, 0)
        self.num_threads = num_threads
        self._index = _hnswlib().Index(space=self._space, dim=self._dim)
        self._index.init_index(max_elements=1024, M=self._M, ef_construction=self._ef_construction,
                               random_seed=self._seed)
        self._index.set_ef(self._ef)
        self._ids: set[int] = set()
        self._next_id = 0
        self._state = threading.Lock()
        self._search = threading.Lock()  # set_ef + knn_query must not interleave
        self._readers = 0
        self._writing = False

    # -------------------------------------------------------------- properties

    @property
    def dim(self) -> int:
        """The vector size."""
        return self._dim

    @property
    def space(self) -> str:
        """``"cosine"``, ``"l2"`` or ``"ip"``."""
        return self._space

    @property
    def ef(self) -> int:
        """The default search candidate list size."""
        return self._ef

    @ef.setter
    def ef(self, value: int) -> None:
        self._ef = check_int("ef", value, 1)

    @property
    def num_threads(self) -> int:
        """Threads hnswlib uses for add and query (-1: all cores)."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value: int) -> None:
        value = check_int("num_threads", value, -1)
        if value == 0:
            raise ValueError("num_threads must be -1 (all cores) or >= 1, got 0")
        self._num_threads = value

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return (f"NeighborIndex(dim={self._dim}, space={self._space!r}, count={len(self)}, M={self._M}, "
                f"ef_construction={self._ef_construction}, ef={self._ef})")

    # -------------------------------------------------------------- thread rules

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        with self._state:
            if self._writing:
                raise RuntimeError(f"NeighborIndex.{what}() called while add() is running in another thread; "
                                   "adds need the index to themselves (see the thread rules)")
            self._readers += 1
        try:
            yield
        finally:
            with self._state:
                self._readers -= 1

    @contextmanager
    def _writing_lock(self) -> Iterator[None]:
        with self._state:
            if self._writing or self._readers:
                busy = "another add()" if self._writing else f"{self._readers} query/save call(s)"
                raise RuntimeError(f"NeighborIndex.add() called while {busy} is running in another thread; "
                                   "adds need the index to themselves (see the thread rules)")
            self._writing = True
        try:
            yield
        finally:
            with self._state:
                self._writing = False

    # -------------------------------------------------------------- building

    def add(self, vectors: Array, ids: Array | None = None) -> np.ndarray:
        """Adds a batch of vectors.

        Args:
            vectors: ``(N, dim)`` float32/float64 array or tensor (stored as float32).
            ids: ``(N,)`` non-negative integer labels, unique and not yet in the index;
                default: consecutive numbers after the largest id so far.

        Returns:
            The ids given to the vectors, ``(N,)`` int64.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, duplicate or negative ids.
            TypeError: non-float vectors or non-integer ids.
            RuntimeError: called while another thread adds or queries.
        """
        data = _as_vectors("vectors", vectors, self._dim)
        n = data.shape[0]
        with self._writing_lock():
            if ids is None:
                labels = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
            else:
                labels = _check_ids(ids, n)
                clash = self._ids.intersection(labels.tolist())
                if clash:
                    raise ValueError(f"ids already in the index: {sorted(clash)[:5]}"
                                     + (" ..." if len(clash) > 5 else ""))
            if n == 0:
                return labels
            needed = len(self._ids) + n
            capacity = self._index.get_max_elements()
            if needed > capacity:
                self._index.resize_index(max(needed, 2 * capacity))
            self._index.add_items(data, labels.astype(np.uint64), num_threads=self._num_threads)
            self._ids.update(labels.tolist())
            self._next_id = max(self._next_id, int(labels.max()) + 1)
            return labels

    # -------------------------------------------------------------- search

    def query(self, q: Array, k: int = 10, *, ef: int | None = None, rerank: bool = False,
              exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest neighbours of each query.

        Args:
            q: ``(Q, dim)`` or ``(dim,)`` queries.
            k: neighbours per query, ``1 <= k <= len(index)``.
            ef: search candidate list size for this call (default :attr:`ef`, at least k);
                larger is slower and more accurate.
            rerank: fetch ``2k`` HNSW candidates and re-rank them by distances recomputed
                with the native ``score`` kernel (double-precision accumulation), so the
                order and the distances returned are exact for the candidates found.
            exact: brute-force search over every stored vector instead of the graph
                (:func:`exact_search`); the reference for recall.

        Returns:
            ``(ids, distances)``: ``(Q, k)`` int64 and float32, nearest first.

        Raises:
            ValueError: wrong shape or dim, NaN/Inf, bad k or ef, an empty index.
            RuntimeError: called while another thread adds.
        """
        data = _as_vectors("q", q, self._dim, allow_1d=True)
        k = check_int("k", k, 1)
        ef = self._ef if ef is None else check_int("ef", ef, 1)
        if not isinstance(rerank, (bool, np.bool_)) or not isinstance(exact, (bool, np.bool_)):
            raise TypeError("rerank and exact must be bools")
        with self._reading("query"):
            count = len(self._ids)
            if count == 0:
                raise ValueError("the index is empty: add vectors before querying")
            if k > count:
                raise ValueError(f"k = {k} is larger than the number of vectors in the index ({count})")
            if data.shape[0] == 0:
                return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
            if exact:
                labels = np.array(self._index.get_ids_list(), dtype=np.uint64)
                stored = np.asarray(self._index.get_items(labels, return_type="numpy"), dtype=np.float32)
                return exact_search(stored, data, k, self._space, ids=labels.astype(np.int64))
            fetch = min(count, 2 * k) if rerank else k
            try:
                with self._search:
                    self._index.set_ef(max(ef, fetch))
                    labels, dist = self._index.knn_query(data, k=fetch, num_threads=self._num_threads)
            except RuntimeError as exc:
                raise RuntimeError(f"hnswlib could not return {fetch} neighbours per query ({exc}); "
                                   "raise ef or M") from exc
            if not rerank:
                return labels.astype(np.int64), dist
            return self._rerank(data, labels, k)

    def _rerank(self, q: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        flat = labels.reshape(-1)
        stored = np.asarray(self._index.get_items(flat, return_type="numpy"), dtype=np.float32)
        stored = stored.reshape(labels.shape[0], labels.shape[1], self._dim)
        out_ids = np.empty((q.shape[0], k), dtype=np.int64)
        out_d = np.empty((q.shape[0], k), dtype=np.float32)
        for i in range(q.shape[0]):
            scores = ops.score(q[i], stored[i], normalize=(self._space == "cosine"))
            dist = _distances_from_scores(scores[None, :], self._space,
                                          _sq_norms(q[i:i + 1]) if self._space == "l2" else None,
                                          _sq_norms(stored[i]) if self._space == "l2" else None)[0]
            order = np.lexsort((labels[i], dist))[:k]
            out_ids[i] = labels[i, order]
            out_d[i] = dist[order]
        return out_ids, out_d

    # -------------------------------------------------------------- files

    def _header(self, payload_bytes: int) -> dict[str, Any]:
        return {"dim": self._dim, "space": self._space, "count": len(self), "M": self._M,
                "ef_construction": self._ef_construction, "ef": self._ef, "seed": self._seed,
                "next_id": self._next_id, "payload_bytes": payload_bytes}

    def save(self, path: str | os.PathLike) -> str:
        """Writes the index to ``path`` atomically (header + hnswlib bytes; see the module
        docstring). Returns the path."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"cannot write {path!r}: folder {folder!r} does not exist")
        with self._reading("save"):
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                raw = os.path.join(tmp, "hnsw.bin")
                self._index.save_index(raw)
                fields = self._header(os.path.getsize(raw))
                digest = _header_digest(fields)
                with open(raw, "rb") as f:
                    for chunk in iter(lambda: f.read(_CHUNK), b""):
                        digest.update(chunk)
                header = json.dumps({**fields, "sha256": digest.hexdigest()}, sort_keys=True).encode()

                def write(target: str) -> None:
                    with open(target, "wb") as out, open(raw, "rb") as src:
                        out.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
                        out.write(header)
                        shutil.copyfileobj(src, out, _CHUNK)
                        out.flush()
                        os.fsync(out.fileno())

                return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike, *, num_threads: int = -1) -> "NeighborIndex":
        """Reads an index written by :meth:`save`, checking magic, version, header fields,
        size and checksum before hnswlib reads it.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not an index file, unsupported version, corrupt header, truncated
                or trailing data, checksum mismatch, or contents that contradict the header.
        """
        path = os.fspath(path)
        with open(path, "rb") as f:
            header = _read_header(f, path)
            expected = header.pop("sha256")
            with tempfile.TemporaryDirectory() as tmp:
                raw = os.path.join(tmp, "hnsw.bin")
                digest = _header_digest(header)
                with open(raw, "wb") as out:
                    for chunk in iter(lambda: f.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != expected:
                    raise ValueError(f"{path!r}: checksum mismatch, the index file is corrupt")
                _check_hnsw_payload(raw, header, path)
                index = cls(header["dim"], header["space"], M=header["M"], ef_construction=header["ef_construction"],
                            ef=header["ef"], seed=header["seed"], num_threads=num_threads)
                index._index = _hnswlib().Index(space=header["space"], dim=header["dim"])
                try:
                    index._index.load_index(raw, max_elements=max(header["count"], 1))
                except RuntimeError as exc:
                    raise ValueError(f"{path!r}: hnswlib could not read the index data ({exc})") from exc
        index._index.set_ef(index._ef)
        labels = index._index.get_ids_list()
        if index._index.dim != header["dim"] or len(labels) != header["count"]:
            raise ValueError(f"{path!r}: the index data hold {len(labels)} vectors of dim {index._index.dim}, "
                             f"the header says {header['count']} of dim {header['dim']}")
        index._ids = set(int(i) for i in labels)
        index._next_id = header["next_id"]
        return index


def _header_digest(fields: dict[str, Any]) -> Any:
    """A SHA-256 already fed with the header fields, to be fed the payload next: the
    checksum covers both."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode())


# hnswlib's own header (hnswalg.h, saveIndex): offsetLevel0, max_elements, count,
# size_data_per_element, label_offset, offsetData (size_t), maxlevel (int),
# enterpoint (uint32), maxM, maxM0, M (size_t), mult (double), ef_construction (size_t).
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")


def _check_hnsw_payload(raw: str, header: dict[str, Any], path: str) -> None:
    """Cross-checks hnswlib's header against ours before hnswlib reads the data, so a
    file whose header describes other data (another dim, count or M) is refused instead
    of being read out of bounds."""
    with open(raw, "rb") as f:
        head = f.read(_HNSW_HEADER.size)
    if len(head) < _HNSW_HEADER.size:
        raise ValueError(f"{path!r}: the index data are too short to be an hnswlib index")
    (_, _, count, per_element, label_offset, offset_data, _, _, max_m, max_m0, m, _,
     _) = _HNSW_HEADER.unpack(head)
    links = max_m0 * 4 + 4
    vector_bytes = header["dim"] * 4
    consistent = (count == header["count"] and m == header["M"] and max_m == m and offset_data == links
                  and label_offset == links + vector_bytes and per_element == links + vector_bytes + 8
                  and header["payload_bytes"] >= _HNSW_HEADER.size + count * per_element)
    if not consistent:
        raise ValueError(f"{path!r}: the header (dim {header['dim']}, count {header['count']}, M {header['M']}) "
                         f"does not match the index data (count {count}, M {m}, "
                         f"{per_element - links - 8} bytes per vector)")


def _read_header(f: Any, path: str) -> dict[str, Any]:
    """Reads and validates the prefix and JSON header; leaves ``f`` at the payload."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        raise ValueError(f"{path!r} is not a latentatlas NeighborIndex file (bad magic bytes)")
    _, version, length = _PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise ValueError(f"{path!r}: index file format version {version} is not supported (this build reads "
                         f"version {FORMAT_VERSION})")
    if length > _MAX_HEADER:
        raise ValueError(f"{path!r}: corrupt header (length {length})")
    raw = f.read(length)
    if len(raw) < length:
        raise ValueError(f"{path!r} is truncated: the header is cut short")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r}: corrupt header ({exc})") from exc
    ints = ("dim", "count", "M", "ef_construction", "ef", "seed", "next_id", "payload_bytes")
    if not isinstance(header, dict) or any(not isinstance(header.get(key), int) or isinstance(header.get(key), bool)
                                           or header[key] < 0 for key in ints):
        raise ValueError(f"{path!r}: corrupt header (missing or invalid fields)")
    if header.get("space") not in SPACES or not isinstance(header.get("sha256"), str) or header["dim"] < 1:
        raise ValueError(f"{path!r}: corrupt header (bad space, dim or checksum field)")
    start = f.tell()
    size = os.fstat(f.fileno()).st_size
    have = size - start
    if have < header["payload_bytes"]:
        raise ValueError(f"{path!r} is truncated: {have} of {header['payload_bytes']} bytes of index data")
    if have > header["payload_bytes"]:
        raise ValueError(f"{path!r} has {have - header['payload_bytes']} unexpected trailing bytes")
    return header
