"""latentatlas.distributed on one local Ray cluster (num_cpus=2) shared by the module:
distributed encode equals encode_dataset row for row, resume after a failed worker or a
stopped driver keeps verified shards and writes every row exactly once, reductions equal
the single-machine functions, sharded search equals exact search within the recall target."""

from __future__ import annotations

import gzip
import json
import struct
import warnings

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import latentatlas as la  # noqa: E402
from latentatlas import attributes, distributed as dist  # noqa: E402
from latentatlas.cli import main  # noqa: E402
from latentatlas.data import LatentStore  # noqa: E402
from latentatlas.neighbors import exact_search, recall_at_k  # noqa: E402

BATCH = 64
SHARD = 384  # a multiple of BATCH: the workers' encode calls see the batches encode_dataset sees


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    with warnings.catch_warnings():  # Ray's own deprecation notices while it sets its defaults
        warnings.simplefilter("ignore")
        ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def digits():
    return la.data.load_digits()


@pytest.fixture(scope="module")
def vae():
    return la.models.load("digits-vae", device="cpu")


@pytest.fixture(scope="module")
def reference(vae, digits):
    return la.encode_dataset(vae, digits, batch_size=BATCH, progress=False)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, digits):
    return dist.encode("digits-vae", digits, output_dir=tmp_path_factory.mktemp("enc") / "store",
                       batch_size=BATCH, shard_size=SHARD, device="cpu")


def _same_store(got: LatentStore, want: LatentStore) -> None:
    np.testing.assert_allclose(got.latents, want.latents, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.split, want.split)
    assert got.label_names == want.label_names
    if want.classes is None:
        assert got.classes is None
    else:
        np.testing.assert_array_equal(got.classes, want.classes)


# ----------------------------------------------------------------------------- encode


def test_encode_equals_encode_dataset(encoded, reference):
    assert len(encoded) == len(reference) == 1797
    assert encoded.num_shards == 5 and encoded.latent_dim == reference.latent_dim
    m = encoded.manifest
    assert m["complete"] and m["n"] == 1797 and m["model"] == {"name": "digits-vae"}
    assert [e["start"] for e in encoded.entries] == list(range(0, 1797, SHARD))
    assert all(len(e["sha256"]) == 64 for e in encoded.entries)
    _same_store(encoded.load(), reference)
    # lazily, shard by shard, at the manifest's row offsets
    for i in range(encoded.num_shards):
        s, start = encoded.shard(i), encoded.shard_start(i)
        np.testing.assert_array_equal(s.labels, reference.labels[start:start + len(s)])


def _shard_times(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("shard-*.npz")}


def test_resume_after_failed_worker_keeps_verified_shards(tmp_path, digits, reference):
    out = tmp_path / "store"
    with pytest.raises(Exception, match="injected failure"):
        dist.encode("digits-vae", digits, output_dir=out, batch_size=BATCH, shard_size=SHARD, device="cpu",
                    num_workers=1, _fail_rows=(1500,))
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"]
    kept = _shard_times(out)
    assert 0 < len(kept) < 5 and "shard-00003.npz" not in kept
    with pytest.raises(ValueError, match="incomplete"):
        dist.ShardedStore(out)
    written = []
    store = dist.encode("digits-vae", digits, output_dir=out, batch_size=BATCH, shard_size=SHARD, device="cpu",
                        on_shard=written.append)
    after = _shard_times(out)
    assert {k: after[k] for k in kept} == kept  # verified shards are kept, not rewritten
    assert sorted(e["index"] for e in written) == sorted(set(range(5)) - {int(k[6:11]) for k in kept})
    _same_store(store.load(), reference)


def test_resume_after_stopped_driver_and_damaged_files(tmp_path, digits, reference):
    out = tmp_path / "store"

    class Stop(BaseException):
        pass

    def stop_after_two(entry, seen=[]):
        seen.append(entry)
        if len(seen) == 2:
            raise Stop  # the driver dies here: manifest holds two shards

    with pytest.raises(Stop):
        dist.encode("digits-vae", digits, output_dir=out, batch_size=BATCH, shard_size=SHARD, device="cpu",
                    num_workers=1, on_shard=stop_after_two)
    listed = json.loads((out / "manifest.json").read_text())["shards"]
    assert len(listed) == 2
    # damage: a truncated shard, a stray temporary file of a killed writer, a shard of another plan
    victim = out / listed[0]["name"]
    victim.write_bytes(victim.read_bytes()[:100])
    (out / ".shard-00004.npz.abc.tmp").write_bytes(b"partial")
    written = []
    store = dist.encode("digits-vae", digits, output_dir=out, batch_size=BATCH, shard_size=SHARD, device="cpu",
                        on_shard=written.append)
    assert listed[0]["index"] in {e["index"] for e in written}  # the truncated shard was redone
    assert not list(out.glob("*.tmp"))
    rows = sorted((e["start"], e["rows"]) for e in store.entries)
    assert sum(r for _, r in rows) == 1797 and [s for s, _ in rows] == list(range(0, 1797, SHARD))
    _same_store(store.load(), reference)


def test_encode_refuses_another_runs_folder_and_bad_arguments(tmp_path, digits, encoded):
    with pytest.raises(ValueError, match="different run"):
        dist.encode("digits-vae", digits, output_dir=encoded.folder, shard_size=100)
    with pytest.raises(ValueError, match="shard_size"):
        dist.encode("digits-vae", digits, output_dir=tmp_path / "x", shard_size=0)
    with pytest.raises(ValueError, match="num_gpus_per_worker"):
        dist.encode("digits-vae", digits, output_dir=tmp_path / "x", num_gpus_per_worker=-1)
    with pytest.raises(TypeError, match="no encode"):
        dist.encode(object(), digits, output_dir=tmp_path / "x")
    with pytest.raises(TypeError, match="Dataset or a row source"):
        dist.encode("digits-vae", np.zeros((3, 1, 8, 8)), output_dir=tmp_path / "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        dist.encode("digits-vae", digits, output_dir=tmp_path / "file")


def test_sharded_store_checks_its_files(tmp_path, encoded):
    with pytest.raises(ValueError, match="no manifest.json"):
        dist.ShardedStore(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        dist.ShardedStore(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "other"}))
    with pytest.raises(ValueError, match="not a latentatlas sharded store"):
        dist.ShardedStore(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in encoded.folder.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    shard = copy / encoded.entries[1]["name"]
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))
    store = dist.ShardedStore(copy)
    store.shard(0)
    with pytest.raises(ValueError, match="SHA-256"):
        store.shard(1)
    with pytest.raises(ValueError, match="shard index"):
        store.shard(5)
    shard.unlink()
    with pytest.raises(ValueError, match="is missing"):
        dist.ShardedStore(copy)
    assert isinstance(dist.open_store(encoded.folder), dist.ShardedStore)


# ----------------------------------------------------------------------------- lazy sources


def _write_idx(path, arr, gz=False):
    codes = {np.dtype(np.uint8): 0x08}
    head = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = head + arr.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_sources_read_what_the_loaders_load(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    # MNIST (one file gzipped)
    for part, n, gz in (("train", 30, True), ("t10k", 7, False)):
        _write_idx(tmp_path / f"{part}-images-idx3-ubyte{'.gz' if gz else ''}",
                   rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
        _write_idx(tmp_path / f"{part}-labels-idx1-ubyte{'.gz' if gz else ''}",
                   rng.integers(0, 10, n, dtype=np.uint8), gz)
    src, ds = dist.mnist_source(tmp_path, seed=3), la.data.load_mnist(tmp_path, seed=3)
    np.testing.assert_array_equal(src.read(0, 37), ds.images)
    np.testing.assert_array_equal(src.read(25, 33), ds.images[25:33])  # across the train/test files
    np.testing.assert_array_equal(src.split, ds.split)
    np.testing.assert_array_equal(src.classes, ds.classes)
    # CelebA layout
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 6)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (22, 18, 3), dtype=np.uint8)).save(root / "img_align_celeba" / name)
    attrs = "\n".join(f"{n} {' '.join(rng.choice(['1', '-1'], 2))}" for n in names)
    (root / "list_attr_celeba.txt").write_text(f"5\nSmiling Male\n{attrs}\n")
    (root / "list_eval_partition.txt").write_text("\n".join(f"{n} {i % 3}" for i, n in enumerate(names)))
    src, ds = dist.celeba_source(root, size=8, limit=4), la.data.load_celeba(root, size=8, limit=4, progress=False)
    np.testing.assert_array_equal(src.read(0, 4), ds.images)
    np.testing.assert_array_equal(src.labels, ds.labels)
    np.testing.assert_array_equal(src.split, ds.split)
    with pytest.raises(ValueError, match="does not exist"):
        dist.mnist_source(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="outside its"):
        dist.mnist_source(tmp_path).read(30, 40)


def test_encode_image_folder_lazily_equals_encode_dataset(tmp_path, vae):
    from PIL import Image

    rng = np.random.default_rng(1)
    lines = ["filename,class,round"]
    for i in range(50):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png,{i % 3},{i % 2}")
    (tmp_path / "labels.csv").write_text("\n".join(lines))
    ds = la.data.load_image_folder(tmp_path, tmp_path / "labels.csv", channels=1, progress=False)
    want = la.encode_dataset(vae, ds, batch_size=8, progress=False)
    src = dist.folder_source(tmp_path, tmp_path / "labels.csv", channels=1)
    got = dist.encode(vae, src, output_dir=tmp_path / "out", batch_size=8, shard_size=16, device="cpu")
    assert got.num_shards == 4
    _same_store(got.load(), want)


# ----------------------------------------------------------------------------- reductions


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Random latents with correlated labels, cut into shards of unequal cell mixes."""
    rng = np.random.default_rng(7)
    n, d = 1001, 7
    y0 = rng.random(n) < 0.3
    y1 = np.where(y0, rng.random(n) < 0.8, rng.random(n) < 0.2)
    y2 = rng.random(n) < 0.5
    labels = np.stack([y0, y1, y2], axis=1).astype(np.uint8)
    z = rng.normal(size=(n, d)) + labels @ rng.normal(size=(3, d))
    store = LatentStore(z.astype(np.float32), labels, ["a", "b", "c"], np.array(["train"] * n),
                        classes=rng.integers(0, 4, n))
    return store, dist.shard_store(store, tmp_path_factory.mktemp("lab") / "store", 250)


def test_reductions_equal_single_machine(labelled):
    store, sharded = labelled
    assert sharded.num_shards == 5
    np.testing.assert_allclose(dist.mean_difference(sharded), attributes.mean_difference(store),
                               rtol=1e-12, atol=1e-12)
    for attrs in (["a"], ["a", "b"], ["b", "c", "a"]):
        np.testing.assert_allclose(dist.balanced(sharded, attrs),
                                   attributes.balanced(store.latents, store.labels, attrs, label_names=["a", "b", "c"]),
                                   rtol=1e-12, atol=1e-12)
    want = attributes.centroid_vectors(store.latents, store.classes)
    got = dist.centroid_vectors(sharded.folder)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12)


def test_balanced_weights_reference(labelled):
    """The weighted balanced vector against literally replicating rows (independent reference)."""
    store, sharded = labelled
    w, _ = attributes.balance_weights(store.labels, ["a", "b"], label_names=["a", "b", "c"])
    z = np.repeat(store.latents.astype(np.float64), w, axis=0)
    y = np.repeat(store.labels, w, axis=0)
    ref = np.stack([z[y[:, k] == 1].mean(0) - z[y[:, k] == 0].mean(0) for k in (0, 1)])
    np.testing.assert_allclose(dist.balanced(sharded, ["a", "b"]), ref, rtol=1e-10, atol=1e-10)


def test_fit_atdot_equals_single_machine(labelled):
    store, sharded = labelled
    for balance in (None, ["a", "b"]):
        want = la.AtDot().fit(store.latents, store.labels, label_names=["a", "b", "c"], balance=balance)
        got = dist.fit_atdot(sharded, balance=balance)
        np.testing.assert_allclose(got.vectors, want.vectors, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.thresholds, want.thresholds, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(got.train_accuracy, want.train_accuracy)
        np.testing.assert_array_equal(got.predict(store.latents), want.predict(store.latents))


def test_reduction_errors(tmp_path, labelled):
    store, sharded = labelled
    with pytest.raises(ValueError, match="unknown attribute 'zzz'"):
        dist.balanced(sharded, ["zzz"])
    one = LatentStore(store.latents[:40], np.ones((40, 1), np.uint8), ["on"], store.split[:40])
    ones = dist.shard_store(one, tmp_path / "ones", 16)
    with pytest.raises(ValueError, match="'on' has no negative example"):
        dist.mean_difference(ones)
    with pytest.raises(ValueError, match="empty cell"):
        dist.balanced(dist.shard_store(LatentStore(store.latents[:40], np.c_[one.labels, one.labels * 0],
                                                   ["on", "off"], store.split[:40]), tmp_path / "cells", 16),
                      ["on", "off"])
    with pytest.raises(TypeError, match="ShardedStore or the path"):
        dist.mean_difference(store)
    with pytest.raises(ValueError, match="already holds"):
        dist.shard_store(store, sharded.folder, 10)


# ----------------------------------------------------------------------------- sharded neighbours


def test_sharded_index_equals_exact_within_recall(tmp_path, labelled):
    store, sharded = labelled
    index = dist.ShardedNeighborIndex.build(sharded, tmp_path / "index", M=16, ef=64)
    assert len(index) == len(store) and index.num_shards == 5
    q = np.random.default_rng(3).normal(size=(40, store.latent_dim)).astype(np.float32)
    truth, truth_d = exact_search(store.latents, q, 10, "cosine")
    ids, d = index.query(q, 10)
    assert recall_at_k(ids, truth) >= 0.95
    eids, ed = index.query(q, 10, exact=True)  # fan-out of exact searches: the exact answer itself
    np.testing.assert_array_equal(eids, truth)
    np.testing.assert_allclose(ed, truth_d, rtol=1e-5, atol=1e-6)
    again = dist.ShardedNeighborIndex.load(tmp_path / "index")
    np.testing.assert_array_equal(again.query(q, 10, exact=True)[0], truth)
    with pytest.raises(ValueError, match="larger than the number of vectors"):
        index.query(q, len(store) + 1)
    with pytest.raises(ValueError, match="must have 7 columns"):
        index.query(np.zeros((2, 3), np.float32), 3)
    first = tmp_path / "index" / "index-00000.laidx"
    first.write_bytes(first.read_bytes()[:-5] + b"xxxxx")
    with pytest.raises(ValueError, match="SHA-256"):
        dist.ShardedNeighborIndex.load(tmp_path / "index")
    with pytest.raises(ValueError, match="not a sharded neighbour index"):
        dist.ShardedNeighborIndex.load(tmp_path)


# ----------------------------------------------------------------------------- export and CLI


def test_export_jsonl_and_parquet(tmp_path, labelled):
    store, sharded = labelled
    path = dist.to_jsonl(sharded, tmp_path / "points.jsonl")
    lines = path.read_text().splitlines()
    assert len(lines) == len(store)
    p = json.loads(lines[777])
    assert p["id"] == 777
    np.testing.assert_array_equal(np.array(p["vector"], np.float32), store.latents[777])
    assert p["payload"] == {"split": "train", "class": int(store.classes[777]),
                            **{n: int(v) for n, v in zip(store.label_names, store.labels[777])}}
    import pyarrow.parquet as pq

    table = pq.read_table(dist.to_parquet(sharded, tmp_path / "points.parquet"))
    np.testing.assert_array_equal(table["id"].to_numpy(), np.arange(len(store)))
    np.testing.assert_array_equal(np.stack(table["vector"].to_numpy(zero_copy_only=False)), store.latents)
    np.testing.assert_array_equal(table["b"].to_numpy(), store.labels[:, 1])
    with pytest.raises(TypeError, match="LatentStore or a ShardedStore"):
        dist.to_jsonl(store.latents, tmp_path / "x.jsonl")


def test_cli_encode_ray(tmp_path, capsys, encoded, reference):
    out = tmp_path / "shards"  # a copy of the encoded store with one shard missing: the CLI resumes it
    out.mkdir()
    for p in encoded.folder.iterdir():
        if p.name != "shard-00002.npz":
            (out / p.name).write_bytes(p.read_bytes())
    assert main(["encode", "--model", "digits-vae", "--data", "digits", "--output", str(out), "--ray",
                 "--shard-size", str(SHARD), "--batch-size", str(BATCH), "--device", "cpu", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "into 5 shards (1 written by this run, 4 kept)" in text and "manifest.json" in text
    _same_store(dist.ShardedStore(out).load(), reference)
    assert main(["encode", "--model", "digits-vae", "--data", "digits", "--output", str(tmp_path / "x.npz"),
                 "--ray"]) == 1
    assert "the output is a folder" in capsys.readouterr().err
    assert main(["encode", "--model", "digits-vae", "--data", "mnist", "--output", str(tmp_path / "m"),
                 "--ray"]) == 1
    assert "--data mnist needs --data-root" in capsys.readouterr().err


def test_manifests_nested_too_deeply_are_refused_naming_the_file(tmp_path) -> None:
    """A store or index manifest from someone else goes through the library's one JSON
    reader: deep nesting is a ValueError naming the file, not a RecursionError."""
    from latentatlas.distributed import ShardedNeighborIndex, open_store

    for name, opener in (("store", open_store), ("index", ShardedNeighborIndex.load)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "manifest.json").write_text("[" * 100000 + "]" * 100000)
        with pytest.raises(ValueError, match=r"manifest\.json.*nested too deeply"):
            opener(folder)
