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
    index = NeighborIndex(4, "l2", exact_below=0)
    index.add(data(20, 4))
    blocker = BlockingAdds(index._index)
    index._index = blocker
    worker = threading.Thread(target=index.add, args=(data(5, 4, seed=9),))
    worker.start()
    try:
        assert blocker.started.wait(10)
        with pytest.raises(RuntimeError, match=r"query\(\) called while add\(\) or remove\(\) is running"):
            index.query(data(1, 4), 1)
        with pytest.raises(RuntimeError, match=r"add\(\) called while another add\(\)"):
            index.add(data(1, 4))
    finally:
        blocker.release.set()
        worker.join(10)
    assert len(index) == 25
    assert index.query(data(1, 4), 3)[0].shape == (1, 3)  # fine again afterwards


def test_add_during_query_raises():
    index = NeighborIndex(4, "l2", exact_below=0)
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
        with pytest.raises(RuntimeError, match=r"remove\(\) called while 1 query/save"):
            index.remove([0])
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
    index = NeighborIndex(6, "l2", M=8, ef_construction=50, ef=40, exact_below=0)
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
    return struct.pack("<8sII", b"LATLSIDX", 3, len(blob)) + blob + raw[end:]


@pytest.mark.parametrize("mutate, match", [
    (lambda r: r[:-100], r"truncated: \d+ of \d+ bytes"),
    (lambda r: r[:20], "truncated: the header"),
    (lambda r: r[:5], "bad magic"),
    (lambda r: b"", "bad magic"),
    (lambda r: b"\x89PNG\r\n\x1a\n" + bytes(r[8:]), "not a latentatlas NeighborIndex file"),
    (lambda r: r + b"extra", "5 unexpected trailing bytes"),
    (lambda r: r[:-1] + bytes([r[-1] ^ 0xFF]), "checksum mismatch"),
    (lambda r: r[:8] + struct.pack("<I", 4) + r[12:], "version 4 is not supported"),
    (lambda r: r[:16] + b"{" * (header_of(r)[1] - 16) + r[header_of(r)[1]:], "corrupt header"),
    (lambda r: with_header(r, lambda h: h.pop("dim")), "corrupt header"),
    (lambda r: with_header(r, lambda h: h.update(space="hamming")), "corrupt header"),
    (lambda r: with_header(r, lambda h: h.update(count=199)), "checksum mismatch"),  # the header is covered
    (lambda r: with_header(r, lambda h: h.update(ef=99)), "checksum mismatch"),
    (lambda r: r[:12] + struct.pack("<I", 1 << 30) + r[16:], "corrupt header"),
])
def test_corrupt_truncated_and_foreign_files(saved, mutate, match):
    _, path = saved
    rewrite(path, mutate)
    with pytest.raises(ValueError, match=match):
        NeighborIndex.load(path)


def forged(raw: bytes, change, version: int = 3) -> bytes:
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
    for change, match in ((lambda h: h.update(dim=600), "payload of"), (lambda h: h.update(dim=3), "payload of"),
                          (lambda h: h.update(count=150), "header says 150 vectors, the file holds 200"),
                          (lambda h: h.update(graph_count=150), "does not match the index data"),
                          (lambda h: h.update(M=12), "does not match the index data"),
                          (lambda h: h.update(recall=1.5), "invalid rows, graph"),
                          (lambda h: h.update(calibration={"x": 1}), "invalid calibration")):
        path.write_bytes(forged(raw, change))
        with pytest.raises(ValueError, match=match):
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
    index = NeighborIndex(16, "l2", M=8, ef=50, reduce_dim=4, exact_below=0)
    index.add(x, ids=np.arange(100, 600))
    path = tmp_path / "reduced.laidx"
    index.save(path)
    raw = path.read_bytes()
    assert struct.unpack("<8sII", raw[:16])[1] == 3 and header_of(raw)[0]["reduce_dim"] == 4
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
                          (lambda h: h.update(reduce_dim=17), "invalid rows, graph, reduce_dim"),
                          (lambda h: h.update(hnsw_bytes=10), "payload of"),
                          (lambda h: h.pop("hnsw_bytes"), "invalid rows, graph, reduce_dim")):
        path.write_bytes(forged(raw, change))
        with pytest.raises(ValueError, match=match):
            NeighborIndex.load(path)
    path.write_bytes(forged(raw, lambda h: None))
    assert len(NeighborIndex.load(path)) == 500


def test_reduced_index_many_small_adds(tmp_path):
    """Adds in many uneven batches (spare buffer rows in between) answer, save and load like
    one add: exact distances against float64, saved rows exactly the rows added."""
    x, q = low_rank(700, 24, 4, seed=5), low_rank(15, 24, 4, seed=6)
    index = NeighborIndex(24, "cosine", reduce_dim=6, ef=200, exact_below=0)
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
    np.testing.assert_array_equal(loaded._rows.ids, np.arange(700))
    unit = x / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(loaded._rows.vectors, unit, rtol=1e-6, atol=1e-7)
    for a, b in zip(index.query(q, 5), loaded.query(q, 5)):
        np.testing.assert_array_equal(a, b)


def test_reduced_index_errors(tmp_path):
    with pytest.raises(ValueError, match="reduce_dim must be at most dim = 4, got 5"):
        NeighborIndex(4, reduce_dim=5)
    with pytest.raises(ValueError, match="reduce_dim must be >= 1"):
        NeighborIndex(4, reduce_dim=0)
    with pytest.raises(TypeError, match="reduce_dim must be an int"):
        NeighborIndex(4, reduce_dim=2.0)
    index = NeighborIndex(4, reduce_dim=3, exact_below=0)
    with pytest.raises(ValueError, match="needs at least that many, got 2"):
        index.add(data(2, 4))
    index.save(tmp_path / "empty.laidx")  # before the projection is learned
    empty = NeighborIndex.load(tmp_path / "empty.laidx")
    assert len(empty) == 0 and empty.add(data(5, 4)).tolist() == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------- recall by default, exact, filters


@pytest.fixture(scope="module")
def gaussian_20k():
    """A default index over 20k × 64 i.i.d. Gaussian latents (what a VAE's latents look like
    by design), shared by the tests below, with fresh queries and their float64 truth."""
    x, q = data(20_000, 64, seed=21), data(300, 64, seed=22)
    index = NeighborIndex(64)
    index.add(x)
    return x, q, index


def float64_truth(x: np.ndarray, q: np.ndarray, k: int, space: str = "cosine", ids: np.ndarray | None = None):
    order = np.argsort(numpy_distances(x, q, space), axis=1, kind="stable")[:, :k]
    return order if ids is None else ids[order]


def test_default_index_reaches_its_recall_target_on_iid_gaussian_20k_by_64(gaussian_20k):
    x, q, index = gaussian_20k
    assert index.has_graph and index.ef is None and index.recall == 0.95
    found, _ = index.query(q, 10)
    measured = recall_at_k(found, float64_truth(x, q, 10))
    assert measured >= 0.95
    estimate = index.estimated_recall(10)
    assert estimate >= 0.95 and index.calibration()[10]["queries"] == 300
    assert index.calibration()[10]["seconds"] > 0
    assert "k=10: ef=" in repr(index) or "k=10: exact" in repr(index)  # exact if it measured faster
    # a filtered query through hnswlib's filter (half the ids allowed) meets the target too
    allowed = np.random.default_rng(5).random(20_000) < 0.5
    ids, dist = index.query(q, 10, where=allowed)
    assert allowed[ids].all()
    subset = np.flatnonzero(allowed)
    assert recall_at_k(ids, float64_truth(x[subset], q, 10, ids=subset)) >= 0.95
    np.testing.assert_array_equal(index.query(q[:5], 10, where=subset)[0], ids[:5])  # ids == mask
    graph_ids, _ = index.query(q, 10, where=allowed, ef=250)  # a fixed ef: hnswlib's filter for sure
    assert allowed[graph_ids].all() and recall_at_k(graph_ids, float64_truth(x[subset], q, 10, ids=subset)) >= 0.95


def test_small_filter_is_exact_on_the_allowed_rows(gaussian_20k):
    x, q, index = gaussian_20k
    subset = np.arange(3, 20_000, 17)  # 1,177 rows: below exact_below, searched exactly
    ids, dist = index.query(q, 7, where=subset)
    np.testing.assert_array_equal(ids, float64_truth(x[subset], q, 7, ids=subset))
    ref = numpy_distances(x[ids[0]], q[:1], "cosine")[0]
    np.testing.assert_allclose(dist[0], ref, rtol=1e-5, atol=1e-5)


def test_exact_path_below_the_crossover_and_the_switch_to_a_graph():
    from latentatlas.neighbors.index import EXACT_BELOW
    assert EXACT_BELOW > 1797  # the digits store never builds a graph
    x, q = data(900, 12, seed=23), data(25, 12, seed=24)
    for space in SPACES:
        index = NeighborIndex(12, space, exact_below=1000)
        index.add(x)
        assert not index.has_graph and "search=exact (recall 1.0)" in repr(index)
        assert index.estimated_recall(10) == 1.0 and index.calibrate() == {10: 1.0}
        np.testing.assert_array_equal(index.query(q, 10)[0], float64_truth(x, q, 10, space))
    most = np.flatnonzero(np.random.default_rng(6).random(900) < 0.7)  # a large filter, still exact
    np.testing.assert_array_equal(index.query(q, 10, where=most)[0], float64_truth(x[most], q, 10, "ip", ids=most))
    index.add(data(200, 12, seed=25))
    assert index.has_graph and "search=graph" in repr(index)
    assert len(index.query(q, 10)[0]) == 25


def test_user_ef_overrides_calibration_and_explicit_queries():
    x, q = data(4000, 16, seed=26), data(50, 16, seed=27)
    index = NeighborIndex(16, ef=12, exact_below=0)
    index.add(x)
    assert index.estimated_recall(10) < 1.0 and index.calibration()[10]["ef"] == 12
    index.ef = None
    recalls = index.calibrate(q, ks=(5, 10))
    assert set(recalls) == {5, 10} and recalls[10] >= 0.95
    found, _ = index.query(q, 10)
    assert recall_at_k(found, float64_truth(x, q, 10)) >= 0.95  # measured on these very queries


def test_calibrated_ef_near_the_set_size_means_exact_search():
    x, q = data(3000, 64, seed=28), data(20, 64, seed=29)
    index = NeighborIndex(64, recall=1.0, M=4, ef_construction=8, exact_below=0)
    index.add(x)
    assert index.estimated_recall(10) == 1.0 and index.calibration()[10]["ef"] is None
    assert "k=10: exact" in repr(index)
    np.testing.assert_array_equal(index.query(q, 10)[0], float64_truth(x, q, 10))


# ----------------------------------------------------------------------------- removal and replacement


@pytest.mark.parametrize("exact_below", [0, 10_000])
def test_removed_ids_never_return_also_after_save_load(tmp_path, exact_below):
    x, q = data(3000, 8, seed=30), data(40, 8, seed=31)
    index = NeighborIndex(8, "l2", exact_below=exact_below)
    index.add(x)
    near = np.unique(index.query(q, 5, exact=True)[0])  # the ones queries would find first
    index.remove(near)
    assert len(index) == 3000 - len(near)
    keep = np.setdiff1d(np.arange(3000), near)
    path = tmp_path / "removed.laidx"
    index.save(path)
    loaded = NeighborIndex.load(path)
    assert len(loaded) == len(keep) and 5 not in loaded or 5 in keep
    for ix in (index, loaded):
        for kwargs in ({}, {"exact": True}, {"where": np.arange(0, 3000, 2)[np.isin(np.arange(0, 3000, 2), keep)]}):
            ids, _ = ix.query(q, 5, **kwargs)
            assert not np.isin(ids, near).any()
        ids, _ = ix.query(q, 5, exact=True)
        np.testing.assert_array_equal(ids, float64_truth(x[keep], q, 5, "l2", ids=keep))
    with pytest.raises(ValueError, match=r"ids not in the index: \[%d\]" % near[0]):
        loaded.remove([near[0]])
    with pytest.raises(ValueError, match="where names ids not in the index"):
        loaded.query(q, 1, where=[int(near[0])])


def test_add_with_an_existing_id_replaces_it(tmp_path):
    x = data(2500, 6, seed=32)
    index = NeighborIndex(6, "l2", exact_below=0)
    index.add(x)
    new = np.full((2, 6), 40.0, np.float32)
    new[1] = -40.0
    assert index.add(new, ids=[7, 2000]).tolist() == [7, 2000]
    assert len(index) == 2500
    ids, dist = index.query(new, 1, ef=100)  # far outliers: a broad search
    assert ids.tolist() == [[7], [2000]] and dist.max() == 0.0
    assert not np.isin(index.query(x[7], 3, exact=True)[0], [7]).any()  # the old vector is gone
    index.save(tmp_path / "r.laidx")
    assert NeighborIndex.load(tmp_path / "r.laidx").query(new, 1, ef=100)[0].tolist() == [[7], [2000]]


# ----------------------------------------------------------------------------- files: calibration and old versions


def test_calibration_survives_save_load(tmp_path):
    x, q = data(3000, 16, seed=33), data(30, 16, seed=34)
    index = NeighborIndex(16, recall=0.9, exact_below=0)
    index.add(x)
    index.estimated_recall(10)
    index.save(tmp_path / "c.laidx")
    loaded = NeighborIndex.load(tmp_path / "c.laidx")
    assert loaded.calibration() == index.calibration() and loaded.recall == 0.9
    assert repr(loaded) == repr(index)
    for a, b in zip(index.query(q, 10), loaded.query(q, 10)):
        np.testing.assert_array_equal(a, b)


def old_file(fields: dict, payload: bytes, version: int) -> bytes:
    """An index file of an older version, written independently of the library."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode() + payload).hexdigest()
    blob = json.dumps({**fields, "sha256": digest}).encode()
    return struct.pack("<8sII", b"LATLSIDX", version, len(blob)) + blob + payload


def test_version_1_and_2_files_still_load(tmp_path):
    import hnswlib
    x, q = data(600, 10, seed=35), data(12, 10, seed=36)
    ids = np.arange(1000, 1600)
    graph = hnswlib.Index(space="l2", dim=10)
    graph.init_index(max_elements=600, M=8, ef_construction=50)
    graph.add_items(x, ids.astype(np.uint64))
    graph.save_index(str(tmp_path / "g.bin"))
    raw = (tmp_path / "g.bin").read_bytes()
    common = {"dim": 10, "space": "l2", "count": 600, "M": 8, "ef_construction": 50, "ef": 30, "seed": 100,
              "next_id": 1600}
    (tmp_path / "v1.laidx").write_bytes(old_file({**common, "payload_bytes": len(raw)}, raw, 1))
    v1 = NeighborIndex.load(tmp_path / "v1.laidx")
    assert len(v1) == 600 and v1.add(data(1, 10)).tolist() == [1600]
    np.testing.assert_array_equal(v1.query(q, 4, exact=True)[0], float64_truth(x, q, 4, "l2", ids=ids))

    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((10, 3)))[0].T.astype(np.float32)
    mean = x.mean(axis=0).astype(np.float32)
    reduced = hnswlib.Index(space="l2", dim=3)
    reduced.init_index(max_elements=600, M=8, ef_construction=50)
    reduced.add_items((x - mean) @ basis.T, np.arange(600, dtype=np.uint64))
    reduced.save_index(str(tmp_path / "r.bin"))
    graph_bytes = (tmp_path / "r.bin").read_bytes()
    tail = basis.tobytes() + mean.tobytes() + ids.astype("<i8").tobytes() + x.astype("<f4").tobytes()
    fields = {**common, "reduce_dim": 3, "hnsw_bytes": len(graph_bytes), "payload_bytes": len(graph_bytes) + len(tail)}
    (tmp_path / "v2.laidx").write_bytes(old_file(fields, graph_bytes + tail, 2))
    v2 = NeighborIndex.load(tmp_path / "v2.laidx")
    assert len(v2) == 600 and v2.reduce_dim == 3 and v2.has_graph
    np.testing.assert_array_equal(v2.query(q, 4, ef=600)[0], float64_truth(x, q, 4, "l2", ids=ids))
    v2.save(tmp_path / "v3.laidx")  # and is written back as version 3
    assert struct.unpack("<8sII", (tmp_path / "v3.laidx").read_bytes()[:16])[1] == 3


# ----------------------------------------------------------------------------- error paths of the new calls


@pytest.mark.parametrize("call, err, match", [
    (lambda ix: ix.query(data(1, 4), 1, where=np.zeros(30, bool)), ValueError, "where allows no vectors"),
    (lambda ix: ix.query(data(1, 4), 1, where=[]), ValueError, "where allows no vectors"),
    (lambda ix: ix.query(data(1, 4), 1, where=[3, 99]), ValueError, r"where names ids not in the index: \[99\]"),
    (lambda ix: ix.query(data(1, 4), 3, where=[1, 2]), ValueError, "k = 3 is larger than the 2 vectors that where"),
    (lambda ix: ix.query(data(1, 4), 1, where=np.ones((2, 2), bool)), ValueError, "where must be a 1-D"),
    (lambda ix: ix.query(data(1, 4), 1, where=np.ones(3)), TypeError, "boolean mask or integer ids"),
    (lambda ix: ix.remove([1, 77]), ValueError, r"ids not in the index: \[77\]"),
    (lambda ix: ix.remove([-1]), ValueError, "non-negative"),
    (lambda ix: ix.calibrate(ks=()), ValueError, "ks is empty"),
    (lambda ix: ix.calibrate(ks=(31,)), ValueError, r"k = 31 is larger .* \(30\)"),
    (lambda ix: ix.calibrate(np.zeros((0, 4), np.float32)), ValueError, "queries is empty"),
    (lambda ix: ix.estimated_recall(0), ValueError, "k must be >= 1"),
    (lambda ix: ix.estimated_recall(31), ValueError, r"k = 31 is larger"),
])
def test_filter_remove_and_calibration_errors(call, err, match):
    index = NeighborIndex(4, exact_below=0)
    index.add(data(30, 4))
    with pytest.raises(err, match=match):
        call(index)
    assert len(index) == 30  # nothing removed by a refused call


def test_recall_and_exact_below_errors():
    for bad in (0.0, 1.5, "high", True):
        with pytest.raises(ValueError, match="recall must be a number in"):
            NeighborIndex(4, recall=bad)
    with pytest.raises(ValueError, match="exact_below must be >= 0"):
        NeighborIndex(4, exact_below=-1)
    with pytest.raises(ValueError, match="index is empty"):
        NeighborIndex(4).estimated_recall(1)
