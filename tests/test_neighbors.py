"""NeighborIndex and exact search: against float64 numpy brute force, recall on 20k × 64,
ids, save/load round trips, corrupt and foreign files, thread rules, error paths."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading

import numpy as np
import pytest
import torch

from latentatlas import neighbors
from latentatlas.neighbors import NeighborIndex, exact_search, recall_at_k
from latentatlas.neighbors.exact import exact_distances, unit_rows

SPACES = ["cosine", "l2", "ip"]


def numpy_distances(x: np.ndarray, q: np.ndarray, space: str) -> np.ndarray:
    """Independent float64 brute-force distances in hnswlib's conventions."""
    x, q = x.astype(np.float64), q.astype(np.float64)
    if space == "l2":
        return ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    if space == "ip":
        return 1.0 - q @ x.T
    xn = np.linalg.norm(x, axis=1)
    qn = np.linalg.norm(q, axis=1)
    cos = (q @ x.T) / np.where(qn[:, None] * xn[None, :] == 0, 1, qn[:, None] * xn[None, :])
    return 1.0 - cos


def data(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


# ----------------------------------------------------------------------------- exact search


def test_exact_search_hand_computed():
    x = np.array([[0, 0], [3, 0], [0, 1], [5, 5]], np.float32)
    ids, dist = exact_search(x, np.array([1.0, 0.0], np.float32), 3, "l2")
    np.testing.assert_array_equal(ids, [[0, 2, 1]])
    np.testing.assert_allclose(dist, [[1, 2, 4]])
    ids, dist = exact_search(x[1:], np.array([[2.0, 0.0]], np.float32), 2, "cosine", ids=np.array([10, 20, 30]))
    np.testing.assert_array_equal(ids, [[10, 30]])
    np.testing.assert_allclose(dist[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(dist[0, 1], 1 - 1 / np.sqrt(2), atol=1e-6)


@pytest.mark.parametrize("space", SPACES)
def test_exact_search_matches_numpy_float64(space):
    x, q = data(500, 13, seed=1), data(37, 13, seed=2)
    ids, dist = exact_search(x, q, 7, space)
    ref = numpy_distances(x, q, space)
    order = np.argsort(ref, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(ids, order)
    np.testing.assert_allclose(dist, np.take_along_axis(ref, order, axis=1), rtol=1e-5, atol=1e-5)
    all_ids, _ = exact_search(x[:5], q, 5, space)  # k == N
    np.testing.assert_array_equal(np.sort(all_ids, axis=1), np.tile(np.arange(5), (37, 1)))


@pytest.mark.parametrize("space", SPACES)
def test_exact_distances_to_all_rows_and_to_candidates_match_float64(space):
    """The one conversion from native dot products to distances, in both of its modes (every
    row, as exact search uses it; each query's own candidate rows, as the re-rank uses it)."""
    x, q = data(60, 11, seed=7), data(9, 11, seed=8)
    x[3] = 0.0  # no direction: cosine 0 with everything
    q[0] = x[5]  # distance 0 (l2 must not go negative by rounding)
    ref = numpy_distances(x, q, space)
    out = exact_distances(q, x, space)
    assert out.dtype == np.float32 and out.shape == (9, 60)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    if space == "l2":
        assert out.min() >= 0.0
    rows = np.random.default_rng(0).integers(0, 60, (9, 7))
    rows[0, 0] = 5
    stored = unit_rows(x) if space == "cosine" else x  # the index keeps unit rows for cosine
    cand = exact_distances(q, stored, space, rows=rows)
    assert cand.dtype == np.float32 and cand.shape == (9, 7)
    np.testing.assert_allclose(cand, np.take_along_axis(ref, rows, axis=1), rtol=1e-5, atol=1e-5)
    kept = np.einsum("ij,ij->i", x.astype(np.float64), x.astype(np.float64))
    np.testing.assert_array_equal(exact_distances(q, stored, space, rows=rows, data_sq=kept), cand)


def test_exact_search_errors():
    x = data(5, 3)
    with pytest.raises(ValueError, match="k = 6 is larger"):
        exact_search(x, x, 6)
    with pytest.raises(ValueError, match="vectors is empty"):
        exact_search(np.zeros((0, 3), np.float32), x, 1)
    with pytest.raises(ValueError, match="queries must have 3 columns"):
        exact_search(x, data(2, 4), 1)
    with pytest.raises(ValueError, match="space must be one of"):
        exact_search(x, x, 1, "hamming")
    with pytest.raises(ValueError, match="queries contains NaN"):
        exact_search(x, np.full((1, 3), np.nan, np.float32), 1)
    with pytest.raises(ValueError, match="ids contains duplicates"):
        exact_search(x, x, 1, ids=[1, 1, 2, 3, 4])


def test_recall_at_k_hand_computed_and_errors():
    assert recall_at_k(np.array([[1, 2], [3, 4]]), np.array([[2, 9], [4, 3]])) == 0.75
    with pytest.raises(ValueError, match="same Q"):
        recall_at_k(np.zeros((2, 2)), np.zeros((3, 2)))


# ----------------------------------------------------------------------------- the index


def test_recall_at_10_on_20k_by_64():
    x, q = data(20_000, 64, seed=3), data(200, 64, seed=4)
    index = NeighborIndex(64, "cosine", M=16, ef_construction=100, num_threads=1)
    index.add(x)
    assert len(index) == 20_000
    truth, _ = exact_search(x, q, 10, "cosine")
    found, _ = index.query(q, 10, ef=256)
    assert recall_at_k(found, truth) >= 0.95


@pytest.mark.parametrize("space", SPACES)
def test_small_index_is_exact_and_rerank_distances_are_exact(space):
    x, q = data(300, 8, seed=5), data(20, 8, seed=6)
    index = NeighborIndex(8, space, ef=300)
    index.add(x[:100])
    index.add(torch.from_numpy(x[100:]))  # batches, numpy or torch
    ref = numpy_distances(x, q, space)
    truth = np.argsort(ref, axis=1, kind="stable")[:, :5]
    for kwargs in ({}, {"rerank": True}, {"exact": True}):
        ids, dist = index.query(q, 5, **kwargs)
        assert ids.dtype == np.int64 and dist.dtype == np.float32 and ids.shape == (20, 5)
        np.testing.assert_array_equal(ids, truth)
        np.testing.assert_allclose(dist, np.take_along_axis(ref, truth, axis=1), rtol=1e-5, atol=1e-5)


def test_single_query_and_empty_query_batch():
    x = data(50, 4)
    index = NeighborIndex(4, "l2")
    index.add(x)
    ids, dist = index.query(x[7], 1)
    assert ids.tolist() == [[7]] and dist.tolist() == [[0.0]]
    ids, dist = index.query(np.zeros((0, 4), np.float32), 3)
    assert ids.shape == (0, 3) and dist.shape == (0, 3)


def test_ids_given_and_continued():
    index = NeighborIndex(3, "l2")
    x = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], np.float32)
    assert index.add(x, ids=np.array([100, 7, 42])).tolist() == [100, 7, 42]
    assert index.add(np.array([[0, 0, 9]], np.float32)).tolist() == [101]
    ids, _ = index.query(np.array([9, 1, 0], np.float32), 2)
    assert ids.tolist() == [[7, 100]]
    assert len(index) == 4


def test_grows_past_initial_capacity():
    index = NeighborIndex(5, "ip")
    for start in range(0, 3000, 700):
        index.add(data(3000, 5)[start:start + 700])
    assert len(index) == 3000
    ids, _ = index.query(data(3000, 5)[2999], 1, rerank=True)
    assert ids[0, 0] in range(3000)


@pytest.mark.parametrize("call, err, match", [
    (lambda ix: ix.add(data(2, 5)), ValueError, "must have 4 columns"),
    (lambda ix: ix.add(np.zeros((2, 4), np.int32)), TypeError, "float32 or float64"),
    (lambda ix: ix.add(np.full((1, 4), np.inf, np.float32)), ValueError, "NaN or Inf"),
    (lambda ix: ix.add(np.zeros(4, np.float32)), ValueError, r"must be \(N, D\)"),
    (lambda ix: ix.add(data(2, 4), ids=[3, 3]), ValueError, "duplicates"),
    (lambda ix: ix.add(data(2, 4), ids=[0, 50]), ValueError, r"already in the index: \[0\]"),
    (lambda ix: ix.add(data(2, 4), ids=[-1, 50]), ValueError, "non-negative"),
    (lambda ix: ix.add(data(2, 4), ids=[1.0, 50.0]), TypeError, "ids must be integers"),
    (lambda ix: ix.add(data(2, 4), ids=[60]), ValueError, r"shape \(2,\)"),
    (lambda ix: ix.query(data(1, 4), 11), ValueError, "k = 11 is larger .* \\(10\\)"),
    (lambda ix: ix.query(data(1, 4), 0), ValueError, "k must be >= 1"),
    (lambda ix: ix.query(data(1, 3), 1), ValueError, "q must have 4 columns"),
    (lambda ix: ix.query([0.0] * 4, 1), TypeError, "numpy array or a torch tensor"),
    (lambda ix: ix.query(data(1, 4), 1, ef=0), ValueError, "ef must be >= 1"),
    (lambda ix: ix.query(data(1, 4), 1, rerank="yes"), TypeError, "must be bools"),
])
def test_index_errors(call, err, match):
    index = NeighborIndex(4, "cosine")
    index.add(data(10, 4))
    with pytest.raises(err, match=match):
        call(index)
    assert len(index) == 10  # a rejected add changes nothing


def test_constructor_errors_and_empty_index():
    with pytest.raises(ValueError, match="space must be one of"):
        NeighborIndex(4, "euclid")
    with pytest.raises(ValueError, match="dim must be >= 1"):
        NeighborIndex(0)
    with pytest.raises(ValueError, match="num_threads must be -1"):
        NeighborIndex(4, num_threads=0)
    with pytest.raises(ValueError, match="index is empty"):
        NeighborIndex(4).query(data(1, 4), 1)


# ----------------------------------------------------------------------------- thread rules


class BlockingAdds:
    """Wraps the hnswlib index so that add_items waits until released."""

    def __init__(self, inner):
        self.inner, self.started, self.release = inner, threading.Event(), threading.Event()

    def add_items(self, *args, **kwargs):
        self.started.set()
        assert self.release.wait(10)
        return self.inner.add_items(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_query_or_second_add_during_add_raises():
    index = NeighborIndex(4, "l2")
    index.add(data(20, 4))
    blocker = BlockingAdds(index._index)
    index._index = blocker
    worker = threading.Thread(target=index.add, args=(data(5, 4, seed=9),))
    worker.start()
    try:
        assert blocker.started.wait(10)
        with pytest.raises(RuntimeError, match=r"query\(\) called while add\(\) is running"):
            index.query(data(1, 4), 1)
        with pytest.raises(RuntimeError, match=r"add\(\) called while another add\(\)"):
            index.add(data(1, 4))
    finally:
        blocker.release.set()
        worker.join(10)
    assert len(index) == 25
    assert index.query(data(1, 4), 3)[0].shape == (1, 3)  # fine again afterwards


def test_add_during_query_raises():
    index = NeighborIndex(4, "l2")
    index.add(data(20, 4))
    inside = threading.Event()
    release = threading.Event()
    real = index._index

    class BlockingQuery:
        def knn_query(self, *args, **kwargs):
            inside.set()
            assert release.wait(10)
            return real.knn_query(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    index._index = BlockingQuery()
    results = []
    worker = threading.Thread(target=lambda: results.append(index.query(data(1, 4), 2)))
    worker.start()
    try:
        assert inside.wait(10)
        with pytest.raises(RuntimeError, match=r"add\(\) called while 1 query/save"):
            index.add(data(1, 4))
        assert index.query(data(1, 4), 1, exact=True)[0].shape == (1, 1)  # readers run together
    finally:
        release.set()
        worker.join(10)
    assert results[0][0].shape == (1, 2)


def test_concurrent_queries_with_different_ef_match_sequential_ones():
    x, q = data(3000, 16, seed=12), data(30, 16, seed=13)
    index = NeighborIndex(16, "cosine", M=8, ef_construction=40)
    index.add(x)
    expected = {ef: index.query(q, 10, ef=ef)[0] for ef in (10, 300)}
    assert not np.array_equal(expected[10], expected[300])  # the breadth matters here
    mismatches, errors = [], []

    def worker(ef: int) -> None:
        try:
            for _ in range(15):
                if not np.array_equal(index.query(q, 10, ef=ef)[0], expected[ef]):
                    mismatches.append(ef)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ef,)) for ef in (10, 300, 10, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and mismatches == []


# ----------------------------------------------------------------------------- files


@pytest.fixture
def saved(tmp_path):
    index = NeighborIndex(6, "l2", M=8, ef_construction=50, ef=40)
    index.add(data(200, 6), ids=np.arange(1000, 1200))
    path = tmp_path / "latents.laidx"
    index.save(path)
    return index, path


def test_save_load_round_trip(saved, tmp_path):
    index, path = saved
    loaded = NeighborIndex.load(path)
    assert (len(loaded), loaded.dim, loaded.space, loaded.ef) == (200, 6, "l2", 40)
    q = data(15, 6, seed=11)
    for a, b in zip(index.query(q, 5), loaded.query(q, 5)):
        np.testing.assert_array_equal(a, b)
    assert loaded.add(data(1, 6)).tolist() == [1200]  # ids continue after a load
    index.save(path)  # overwrite in place, atomically
    assert os.listdir(tmp_path) == ["latents.laidx"]


def rewrite(path, mutate):
    raw = bytearray(path.read_bytes())
    raw = mutate(raw)
    path.write_bytes(bytes(raw))


def header_of(raw: bytes) -> tuple[dict, int]:
    _, _, length = struct.unpack("<8sII", raw[:16])
    return json.loads(raw[16:16 + length]), 16 + length


def with_header(raw: bytes, change) -> bytes:
    header, end = header_of(raw)
    change(header)
    blob = json.dumps(header).encode()
    return struct.pack("<8sII", b"LATLSIDX", 1, len(blob)) + blob + raw[end:]


@pytest.mark.parametrize("mutate, match", [
    (lambda r: r[:-100], r"truncated: \d+ of \d+ bytes"),
    (lambda r: r[:20], "truncated: the header"),
    (lambda r: r[:5], "bad magic"),
    (lambda r: b"", "bad magic"),
    (lambda r: b"\x89PNG\r\n\x1a\n" + bytes(r[8:]), "not a latentatlas NeighborIndex file"),
    (lambda r: r + b"extra", "5 unexpected trailing bytes"),
    (lambda r: r[:-1] + bytes([r[-1] ^ 0xFF]), "checksum mismatch"),
    (lambda r: r[:8] + struct.pack("<I", 3) + r[12:], "version 3 is not supported"),
    (lambda r: r[:16] + b"{" * (header_of(r)[1] - 16) + r[header_of(r)[1]:], "corrupt header"),
    (lambda r: with_header(r, lambda h: h.pop("dim")), "corrupt header"),
    (lambda r: with_header(r, lambda h: h.update(space="hamming")), "corrupt header"),
    (lambda r: with_header(r, lambda h: h.update(count=201)), "checksum mismatch"),  # the header is covered
    (lambda r: with_header(r, lambda h: h.update(ef=99)), "checksum mismatch"),
    (lambda r: r[:12] + struct.pack("<I", 1 << 30) + r[16:], "corrupt header"),
])
def test_corrupt_truncated_and_foreign_files(saved, mutate, match):
    _, path = saved
    rewrite(path, mutate)
    with pytest.raises(ValueError, match=match):
        NeighborIndex.load(path)


def forged(raw: bytes, change, version: int = 1) -> bytes:
    """A file whose header is changed and whose checksum is recomputed to match (the format
    written out independently: SHA-256 over the sorted-key JSON of the other fields, then
    the payload)."""
    header, end = header_of(raw)
    header.pop("sha256")
    change(header)
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode() + raw[end:]).hexdigest()
    blob = json.dumps({**header, "sha256": digest}).encode()
    return struct.pack("<8sII", b"LATLSIDX", version, len(blob)) + blob + raw[end:]


def test_forged_checksum_still_refused_when_the_header_contradicts_the_data(saved):
    index, path = saved
    raw = path.read_bytes()
    path.write_bytes(forged(raw, lambda h: None))
    assert len(NeighborIndex.load(path)) == 200  # the independent checksum agrees
    for change in (lambda h: h.update(dim=600), lambda h: h.update(dim=3), lambda h: h.update(count=150),
                   lambda h: h.update(M=12)):
        path.write_bytes(forged(raw, change))
        with pytest.raises(ValueError, match="does not match the index data"):
            NeighborIndex.load(path)


def test_load_and_save_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        NeighborIndex.load(tmp_path / "missing.laidx")
    index = NeighborIndex(2)
    index.add(data(3, 2))
    with pytest.raises(ValueError, match="does not exist"):
        index.save(tmp_path / "no" / "x.laidx")


def test_module_exports():
    assert set(neighbors.__all__) == {"SPACES", "NeighborIndex", "exact_search", "gather_scores", "recall_at_k"}


# ----------------------------------------------------------------------------- gathered scores


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 3, 7, 97, 129, 512])
def test_gather_scores_matches_float64(dtype, d):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((40, d)).astype(dtype)
    q = rng.standard_normal((2 * 9, d)).astype(dtype)[::2]  # non-contiguous queries
    rows = rng.integers(0, 40, (9, 6))
    out = neighbors.gather_scores(q, x, rows)
    ref = np.einsum("qd,qcd->qc", q.astype(np.float64), x.astype(np.float64)[rows])
    assert out.dtype == dtype and out.shape == (9, 6)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * np.sqrt(d))
    assert neighbors.gather_scores(q[:0], x, rows[:0]).shape == (0, 6)
    assert neighbors.gather_scores(q, x, rows[:, :0]).shape == (9, 0)


def test_gather_scores_errors():
    q, x = data(3, 4), data(5, 4)
    rows = np.zeros((3, 2), np.int64)
    with pytest.raises(ValueError, match=r"outside \[0, len\(data\)\) \(query 1\)"):
        neighbors.gather_scores(q, x, np.array([[0, 1], [4, 5], [0, 0]]))
    with pytest.raises(ValueError, match="outside"):
        neighbors.gather_scores(q, x, np.array([[0, 1], [-1, 2], [0, 0]]))
    with pytest.raises(TypeError, match="data must have the dtype of q"):
        neighbors.gather_scores(q, x.astype(np.float64), rows)
    with pytest.raises(TypeError, match="rows must be integers"):
        neighbors.gather_scores(q, x, rows.astype(np.float32))
    with pytest.raises(ValueError, match="one row per query"):
        neighbors.gather_scores(q, x, rows[:2])
    with pytest.raises(ValueError, match="vector size of q"):
        neighbors.gather_scores(q, data(5, 3), rows)
    with pytest.raises(ValueError, match="must be 2-D"):
        neighbors.gather_scores(q[0], x, rows)


# ----------------------------------------------------------------------------- reduced-dimension graph


def low_rank(n: int, d: int, rank: int, seed: int, noise: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).standard_normal((rank, d))
    z = rng.standard_normal((n, rank)) @ basis + 3.0  # an offset, so centring matters for l2
    return (z + noise * rng.standard_normal((n, d))).astype(np.float32)


@pytest.mark.parametrize("space", SPACES)
def test_reduced_index_recall_and_exact_distances(space):
    x, q = low_rank(3000, 48, 6, seed=1), low_rank(60, 48, 6, seed=2)
    index = NeighborIndex(48, space, reduce_dim=8, ef=64)
    index.add(x[:2000])
    index.add(x[2000:], ids=np.arange(5000, 6000))  # the projection is learned once, ids map back
    labels = np.concatenate([np.arange(2000), np.arange(5000, 6000)])
    ref = numpy_distances(x, q, space)
    truth = labels[np.argsort(ref, axis=1, kind="stable")[:, :10]]
    ids, dist = index.query(q, 10)
    assert ids.dtype == np.int64 and dist.dtype == np.float32 and index.reduce_dim == 8
    assert recall_at_k(ids, truth) >= 0.95
    rows = np.searchsorted(labels, ids)
    np.testing.assert_allclose(dist, np.take_along_axis(ref, rows, axis=1), rtol=2e-5, atol=2e-4)
    assert np.all(np.diff(dist, axis=1) >= 0)
    exact_ids, _ = index.query(q, 10, exact=True)
    np.testing.assert_array_equal(exact_ids, truth)


def test_reduced_index_save_load_round_trip_and_corruption(tmp_path):
    x, q = low_rank(500, 16, 3, seed=3), low_rank(20, 16, 3, seed=4)
    index = NeighborIndex(16, "l2", M=8, ef=50, reduce_dim=4)
    index.add(x, ids=np.arange(100, 600))
    path = tmp_path / "reduced.laidx"
    index.save(path)
    raw = path.read_bytes()
    assert struct.unpack("<8sII", raw[:16])[1] == 2 and header_of(raw)[0]["reduce_dim"] == 4
    loaded = NeighborIndex.load(path)
    assert loaded.reduce_dim == 4 and len(loaded) == 500 and "reduce_dim=4" in repr(loaded)
    np.testing.assert_array_equal(loaded._variant.basis, index._variant.basis)  # the projection travels in the file
    for a, b in zip(index.query(q, 5), loaded.query(q, 5)):
        np.testing.assert_array_equal(a, b)
    assert loaded.add(x[:2]).tolist() == [600, 601]
    # the vectors section (the file's tail) is covered by the checksum
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum mismatch"):
        NeighborIndex.load(path)
    path.write_bytes(raw[:-8])
    with pytest.raises(ValueError, match="truncated"):
        NeighborIndex.load(path)
    for change, match in ((lambda h: h.update(reduce_dim=5), "payload of"),
                          (lambda h: h.update(M=12), "does not match the index data"),
                          (lambda h: h.update(reduce_dim=17), r"reduce_dim 17 > dim 16"),
                          (lambda h: h.update(hnsw_bytes=10), "payload of"),
                          (lambda h: h.pop("hnsw_bytes"), "reduce_dim / hnsw_bytes")):
        path.write_bytes(forged(raw, change, version=2))
        with pytest.raises(ValueError, match=match):
            NeighborIndex.load(path)
    path.write_bytes(forged(raw, lambda h: None, version=2))
    assert len(NeighborIndex.load(path)) == 500


def test_reduced_index_many_small_adds(tmp_path):
    """Adds in many uneven batches (spare buffer rows in between) answer, save and load like
    one add: exact distances against float64, saved rows exactly the rows added."""
    x, q = low_rank(700, 24, 4, seed=5), low_rank(15, 24, 4, seed=6)
    index = NeighborIndex(24, "cosine", reduce_dim=6, ef=200)
    edges = [0, 10, 11, 40, 41, 120, 300, 301, 700]
    for a, b in zip(edges[:-1], edges[1:]):
        index.add(x[a:b])
    assert len(index) == 700
    ref = numpy_distances(x, q, "cosine")
    ids, dist = index.query(q, 5)
    np.testing.assert_allclose(dist, np.take_along_axis(ref, ids, axis=1), rtol=2e-5, atol=2e-5)
    np.testing.assert_array_equal(index.query(q, 5, exact=True)[0], np.argsort(ref, axis=1, kind="stable")[:, :5])
    index.save(tmp_path / "small.laidx")
    loaded = NeighborIndex.load(tmp_path / "small.laidx")
    np.testing.assert_array_equal(loaded._variant.row_ids, np.arange(700))
    unit = x / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(loaded._variant.vectors, unit, rtol=1e-6, atol=1e-7)
    for a, b in zip(index.query(q, 5), loaded.query(q, 5)):
        np.testing.assert_array_equal(a, b)


def test_reduced_index_errors(tmp_path):
    with pytest.raises(ValueError, match="reduce_dim must be at most dim = 4, got 5"):
        NeighborIndex(4, reduce_dim=5)
    with pytest.raises(ValueError, match="reduce_dim must be >= 1"):
        NeighborIndex(4, reduce_dim=0)
    with pytest.raises(TypeError, match="reduce_dim must be an int"):
        NeighborIndex(4, reduce_dim=2.0)
    index = NeighborIndex(4, reduce_dim=3)
    with pytest.raises(ValueError, match="needs at least that many vectors, got 2"):
        index.add(data(2, 4))
    index.save(tmp_path / "empty.laidx")  # before the projection is learned
    empty = NeighborIndex.load(tmp_path / "empty.laidx")
    assert len(empty) == 0 and empty.add(data(5, 4)).tolist() == [0, 1, 2, 3, 4]
