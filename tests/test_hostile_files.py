"""Hostile index files: hnswlib payloads edited by hand (with the checksum recomputed, as
anyone can) must be a ValueError naming the file and the field, never a crash.

The fuzzer mutates a real payload in structured ways (header fields, link counts,
neighbour ids, link-list sizes, flags, vectors, labels, lengths, random bytes), writes
each case as a valid-checksum index file and has a subprocess load and query them all, so
that a crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latentatlas.neighbors import NeighborIndex

PREFIX = struct.Struct("<8sII")
HNSW = struct.Struct("<QQQQQQiIQQQdQ")  # hnswlib 0.8 saveIndex header
FIELD_OFFSETS = [0, 8, 16, 24, 32, 40, 48, 52, 56, 64, 72, 80, 88]
FIELD_FORMATS = ["<Q"] * 6 + ["<i", "<I"] + ["<Q"] * 3 + ["<d", "<Q"]
CASES_PER_FILE = 1500


# ------------------------------------------------------------------ the file format, independently


def split_file(data: bytes) -> tuple[int, dict, bytes, bytes]:
    """(version, header without checksum, hnswlib bytes, bytes after them)."""
    magic, version, length = PREFIX.unpack_from(data)
    assert magic == b"LATLSIDX"
    header = json.loads(data[PREFIX.size:PREFIX.size + length])
    header.pop("sha256")
    payload = data[PREFIX.size + length:]
    cut = header.get("hnsw_bytes", header["payload_bytes"])
    return version, header, payload[:cut], payload[cut:]


def join_file(version: int, header: dict, hnsw: bytes, extras: bytes) -> bytes:
    """An index file with the sizes and the SHA-256 recomputed, as an attacker would."""
    header = dict(header, payload_bytes=len(hnsw) + len(extras))
    if "hnsw_bytes" in header:
        header["hnsw_bytes"] = len(hnsw)
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    digest.update(hnsw)
    digest.update(extras)
    text = json.dumps({**header, "sha256": digest.hexdigest()}, sort_keys=True).encode()
    return PREFIX.pack(b"LATLSIDX", version, len(text)) + text + hnsw + extras


class Layout:
    """Where things are in an hnswlib payload."""

    def __init__(self, hnsw: bytes) -> None:
        h = HNSW.unpack_from(hnsw)
        self.count, self.per_element, self.label_offset, self.offset_data = h[2], h[3], h[4], h[5]
        self.max_m, self.max_m0 = h[8], h[9]
        self.level0 = HNSW.size
        self.sizes: list[int] = []  # offsets of each element's upper-level size field
        offset = HNSW.size + self.count * self.per_element
        for _ in range(self.count):
            self.sizes.append(offset)
            (n,) = struct.unpack_from("<I", hnsw, offset)
            offset += 4 + n
        per = 4 + 4 * self.max_m
        self.blocks = [o + 4 + j * per for o in self.sizes
                       for j in range(min(struct.unpack_from("<I", hnsw, o)[0], len(hnsw) - o) // per)]

    def element(self, i: int) -> int:
        return self.level0 + i * self.per_element


# ------------------------------------------------------------------ structured mutations


def pick(rng: np.random.Generator, values: list) -> object:
    """One of ``values`` (Python ints beyond int64 kept as they are)."""
    return values[int(rng.integers(0, len(values)))]


def _edge(rng: np.random.Generator, count: int, limit: int) -> int:
    """A value below ``limit`` near the edges that matter (the count, the type's range)."""
    return int(pick(rng, [0, 1, count - 1, count, count + 1, limit // 2, limit - 1, 1_000_000_000,
                          int(rng.integers(0, limit, dtype=np.uint64))])) % limit


def mutate(hnsw: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One structured mutation of ``hnsw``: (description, new bytes)."""
    b = bytearray(hnsw)
    lay = Layout(hnsw)
    n = lay.count
    kind = int(rng.integers(0, 12))
    if kind == 0:  # one header field
        f = int(rng.integers(0, 13))
        fmt = FIELD_FORMATS[f]
        if fmt == "<d":
            value = float(pick(rng, [0.0, -1.0, 1e300, float("nan"), float("inf"), rng.normal() * 10]))
        elif fmt == "<i":
            value = int(pick(rng, [-1, 0, 1, 2, 5, 50, 2**31 - 1, -(2**31)]))
        else:
            limit = 2**64 if fmt == "<Q" else 2**32
            value = _edge(rng, n, limit)
        struct.pack_into(fmt, b, FIELD_OFFSETS[f], value)
        return f"header field {f} = {value}", bytes(b)
    if kind == 1 and n:  # a level-0 link count
        i = int(rng.integers(0, n))
        value = int(pick(rng, [0, lay.max_m0, lay.max_m0 + 1, 65535, int(rng.integers(0, 65536))]))
        struct.pack_into("<H", b, lay.element(i), value)
        return f"level-0 count of {i} = {value}", bytes(b)
    if kind == 2 and n:  # level-0 neighbour ids
        for _ in range(int(rng.integers(1, 4))):
            i, slot = int(rng.integers(0, n)), int(rng.integers(0, lay.max_m0))
            struct.pack_into("<I", b, lay.element(i) + 4 + 4 * slot, _edge(rng, n, 2**32))
        return "level-0 neighbour ids", bytes(b)
    if kind == 3 and n:  # level-0 flag bytes
        i = int(rng.integers(0, n))
        b[lay.element(i) + 2 + int(rng.integers(0, 2))] = int(pick(rng, [1, 2, 255]))
        return f"flags of {i}", bytes(b)
    if kind == 4 and n:  # an element's upper-level list size
        i = int(rng.integers(0, n))
        per = 4 + 4 * lay.max_m
        value = int(pick(rng, [0, per, 2 * per, per - 1, 7 * per, 2**32 - 1, int(rng.integers(0, 2**32))]))
        struct.pack_into("<I", b, lay.sizes[i], value)
        return f"upper size of {i} = {value}", bytes(b)
    if kind == 5 and lay.blocks:  # an upper-level count or neighbour id
        o = lay.blocks[int(rng.integers(0, len(lay.blocks)))]
        if rng.random() < 0.5:
            value = int(pick(rng, [lay.max_m, lay.max_m + 1, 65535, int(rng.integers(0, 65536))]))
            struct.pack_into("<H", b, o, value)
        else:
            value = _edge(rng, n, 2**32)
            struct.pack_into("<I", b, o + 4 + 4 * int(rng.integers(0, lay.max_m)), value)
        return f"upper block at {o}: {value}", bytes(b)
    if kind == 6 and n:  # a vector component
        i = int(rng.integers(0, n))
        value = float(pick(rng, [float("nan"), float("inf"), 1e30, rng.normal()]))
        struct.pack_into("<f", b, lay.element(i) + lay.offset_data, value)
        return f"vector of {i}: {value}", bytes(b)
    if kind == 7 and n:  # a label
        i = int(rng.integers(0, n))
        value = int(pick(rng, [0, 1, 2**63, 2**64 - 1, int(rng.integers(0, 2 * n + 1))]))
        struct.pack_into("<Q", b, lay.element(i) + lay.label_offset, value)
        return f"label of {i} = {value}", bytes(b)
    if kind == 8:  # cut or grow
        cut = int(rng.integers(0, len(b)))
        return (f"cut at {cut}", bytes(b[:cut])) if rng.random() < 0.5 else ("grown", bytes(b) + bytes(rng.integers(
            0, 256, int(rng.integers(1, 200)), dtype=np.uint8)))
    if kind == 9 and n:  # the attack from the issue: entry point, ids and counts at once
        struct.pack_into("<I", b, 52, n + int(rng.integers(0, 5)))
        for i in range(n):
            struct.pack_into("<H", b, lay.element(i), 65535)
            struct.pack_into("<I", b, lay.element(i) + 4, 1_000_000_000)
        return "issue attack", bytes(b)
    if kind == 10 and n > 1:  # a valid id in a wrong place (a level-0-only element linked at level 1)
        low = [i for i in range(n) if struct.unpack_from("<I", hnsw, lay.sizes[i])[0] == 0]
        if lay.blocks and low:
            o = lay.blocks[int(rng.integers(0, len(lay.blocks)))]
            struct.pack_into("<H", b, o, max(1, struct.unpack_from("<H", hnsw, o)[0]))
            struct.pack_into("<I", b, o + 4, int(pick(rng, low)))
            return "upper link to a level-0 element", bytes(b)
    positions = rng.integers(0, len(b), int(rng.integers(1, 9)))  # random bytes anywhere
    for p in positions:
        b[int(p)] = int(rng.integers(0, 256))
    return "random bytes", bytes(b)


WORKER = r"""
import sys, numpy as np
from latentatlas.neighbors import NeighborIndex
loaded = refused = 0
rng = np.random.default_rng(0)
for name in sys.stdin.read().split():
    print("start", name, flush=True)
    try:
        index = NeighborIndex.load(name, num_threads=1)
    except ValueError:
        refused += 1
        continue
    loaded += 1
    try:
        if len(index):
            q = rng.normal(size=(4, index.dim))
            index.query(q, k=min(3, len(index)))
            index.query(q, k=min(3, len(index)), exact=True)
        index.add(rng.normal(size=(3, index.dim)))
        index.query(rng.normal(size=(2, index.dim)), k=1)
    except (ValueError, RuntimeError) as exc:
        print("query error", type(exc).__name__, exc, flush=True)
print("summary", loaded, refused, flush=True)
"""


# Indexes that search small sets exactly may keep no graph; ask for one where that exists.
GRAPH_ALWAYS = {"exact_below": 0} if "exact_below" in inspect.signature(NeighborIndex).parameters else {}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Real index files: a cosine graph with several levels, a reduced-dimension one, an empty one."""
    folder = tmp_path_factory.mktemp("orig")
    rng = np.random.default_rng(3)
    made = {}
    full = NeighborIndex(6, "cosine", M=3, ef_construction=20, num_threads=1, **GRAPH_ALWAYS)
    full.add(rng.normal(size=(90, 6)))
    made["full"] = full.save(folder / "full.laidx")
    reduced = NeighborIndex(8, "l2", M=4, num_threads=1, reduce_dim=3, **GRAPH_ALWAYS)
    reduced.add(rng.normal(size=(40, 8)))
    made["reduced"] = reduced.save(folder / "reduced.laidx")
    made["empty"] = NeighborIndex(5, "ip", num_threads=1, **GRAPH_ALWAYS).save(folder / "empty.laidx")
    return {k: Path(v).read_bytes() for k, v in made.items()}


def _graphs(originals) -> dict[str, bytes]:
    """The originals whose files hold hnswlib bytes (a format may store no graph for an empty index)."""
    return {k: v for k, v in originals.items() if len(split_file(v)[2]) >= HNSW.size}


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_unmodified_files_load_and_rebuilt_checksum_is_right(originals, tmp_path):
    for name, data in originals.items():
        again = join_file(*split_file(data))
        assert again == data  # the independent writer reproduces the file byte for byte
        index = NeighborIndex.load(_write(tmp_path / f"{name}.laidx", again))
        assert len(index) == {"full": 90, "reduced": 40, "empty": 0}[name]


def _edited(originals, tmp_path, edit, which="full"):
    version, header, hnsw, extras = split_file(originals[which])
    b = bytearray(hnsw)
    edit(b, Layout(hnsw))
    return _write(tmp_path / "edited.laidx", join_file(version, header, bytes(b), extras))


def test_the_issues_attack_is_a_value_error_naming_file_and_field(originals, tmp_path):
    def attack(b, lay):
        struct.pack_into("<I", b, 52, lay.count + 3)
        for i in range(lay.count):
            struct.pack_into("<H", b, lay.element(i), 65535)
            struct.pack_into("<I", b, lay.element(i) + 4, 1_000_000_000)

    path = _edited(originals, tmp_path, attack)
    with pytest.raises(ValueError, match=r"edited\.laidx.*entry point 93 is not an element"):
        NeighborIndex.load(path)


@pytest.mark.parametrize("edit, message", [
    (lambda b, lay: struct.pack_into("<H", b, lay.element(5), lay.max_m0 + 1),
     r"element 5's level-0 link list holds 7 links, more than its maximum 6"),
    (lambda b, lay: struct.pack_into("<HHI", b, lay.element(5), 1, 0, 1_000_000_000),
     r"element 5 links at level 0 to element 1000000000, the graph has 90"),
    (lambda b, lay: struct.pack_into("<H", b, lay.blocks[0], 65535),
     r"element \d+'s level-1 link list holds 65535 links, more than its maximum 3"),
    (lambda b, lay: struct.pack_into("<i", b, 48, 40), r"max level is 40, the elements' levels reach"),
    (lambda b, lay: struct.pack_into("<Q", b, 72, 4),
     r"the header \(dim 6, count 90, M 3\) does not match the index data: M is 4, the header implies 3"),
    (lambda b, lay: struct.pack_into("<d", b, 80, 1e300), r"mult is 1e\+300"),
    (lambda b, lay: struct.pack_into("<I", b, lay.sizes[7], 2**32 - 1), r"element 7's upper-level links are"),
    (lambda b, lay: struct.pack_into("<f", b, lay.element(2) + lay.offset_data, float("nan")),
     r"element 2 has a NaN or infinite vector"),
    (lambda b, lay: struct.pack_into("<Q", b, lay.element(2) + lay.label_offset, 3), r"two elements share a label"),
    (lambda b, lay: b.__setitem__(lay.element(4) + 2, 9), r"element 4 has unknown flag bytes \[9, 0\]"),
])
def test_each_broken_field_is_named(originals, tmp_path, edit, message):
    with pytest.raises(ValueError, match=r"edited\.laidx'?: invalid hnswlib data: " + message):
        NeighborIndex.load(_edited(originals, tmp_path, edit))


def test_a_link_to_an_element_below_that_level_is_refused(originals, tmp_path):
    def edit(b, lay):
        low = next(i for i in range(lay.count) if struct.unpack_from("<I", b, lay.sizes[i])[0] == 0)
        struct.pack_into("<HHI", b, lay.blocks[0], 1, 0, low)

    with pytest.raises(ValueError, match=r"element \d+ links at level 1 to element \d+, which only reaches level 0"):
        NeighborIndex.load(_edited(originals, tmp_path, edit))


def test_empty_graph_with_an_entry_point_is_refused(originals, tmp_path):
    if "empty" not in _graphs(originals):
        pytest.skip("this index format stores no hnswlib graph for an empty index")
    path = _edited(originals, tmp_path, lambda b, lay: struct.pack_into("<I", b, 52, 0), which="empty")
    with pytest.raises(ValueError, match=r"an empty graph has max level -1 and entry point 0"):
        NeighborIndex.load(path)


def test_fuzzed_payloads_never_crash_the_interpreter(originals, tmp_path):
    """Many seeds of structured mutations, all with valid checksums, loaded and queried in
    one subprocess; a crash (negative return code) names the case that was running."""
    cases: dict[str, str] = {}
    graphs = _graphs(originals)
    assert {"full", "reduced"} <= set(graphs)
    for which, data in graphs.items():
        version, header, hnsw, extras = split_file(data)
        for seed in range(CASES_PER_FILE):
            rng = np.random.default_rng([seed, len(which)])
            what, edited = mutate(hnsw, rng)
            if rng.random() < 0.3:  # stack a second mutation on some cases
                more, edited = mutate(edited, rng) if len(edited) >= HNSW.size and _walkable(edited) else ("", edited)
                what += f" + {more}"
            path = tmp_path / f"{which}-{seed}.laidx"
            path.write_bytes(join_file(version, header, edited, extras))
            cases[str(path)] = f"{which} seed {seed}: {what}"
    proc = subprocess.run([sys.executable, "-c", WORKER], input="\n".join(cases), capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    started = [line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("start ")]
    if proc.returncode != 0:
        last = started[-1] if started else None
        pytest.fail(f"the loader died (return code {proc.returncode}) on {cases.get(last)}\n{proc.stderr[-2000:]}")
    summary = [line for line in proc.stdout.splitlines() if line.startswith("summary ")]
    loaded, refused = (int(v) for v in summary[0].split()[1:])
    assert len(started) == len(cases) == loaded + refused == len(graphs) * CASES_PER_FILE
    # Both outcomes occur: the mutations are not all caught by one check, nor all harmless.
    assert refused > len(cases) // 2 and loaded > 20
    errors = [line for line in proc.stdout.splitlines() if line.startswith("query error")]
    print("\n".join(sorted(set(e[:150] for e in errors))))
    errors = len(errors)
    print(f"fuzz: {len(cases)} cases, {refused} refused, {loaded} loaded and queried ({errors} query errors)")


def _walkable(hnsw: bytes) -> bool:
    """Whether the test's own layout walk can follow ``hnsw`` (to stack a second mutation)."""
    h = HNSW.unpack_from(hnsw)
    if h[2] > 10_000 or h[3] > 10_000 or h[8] > 10_000:
        return False
    try:
        Layout(hnsw)
    except struct.error:
        return False
    return True


def test_deleted_marks_pass_only_when_the_format_allows_them(originals, tmp_path):
    from latentatlas.neighbors._hnsw_payload import check_hnsw_payload

    version, header, hnsw, extras = split_file(originals["full"])
    b = bytearray(hnsw)
    b[Layout(hnsw).element(4) + 2] = 1
    raw = _write(tmp_path / "raw.bin", bytes(b))
    fields = dict(dim=6, count=90, M=3, ef_construction=20)
    check_hnsw_payload(raw, "x.laidx", **fields, allow_deleted=True)
    with pytest.raises(ValueError, match=r"'x.laidx': invalid hnswlib data: element 4 has unknown flag bytes"):
        check_hnsw_payload(raw, "x.laidx", **fields)
    b[Layout(hnsw).element(4) + 2] = 3
    with pytest.raises(ValueError, match=r"element 4 has unknown flag bytes \[3, 0\]"):
        check_hnsw_payload(_write(raw, bytes(b)), "x.laidx", **fields, allow_deleted=True)


# ------------------------------------------------------------------ sizes and file names


def test_parse_json_depth_limit_names_the_file():
    from latentatlas._files import MAX_JSON_DEPTH, parse_json

    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(nested, "ok.json") is not None and parse_json("7", "ok.json") == 7
    for depth in (MAX_JSON_DEPTH + 1, 200_000):  # the second overflows the C parser's recursion
        with pytest.raises(ValueError, match=rf"'deep\.json': JSON nested too deeply \(more than {MAX_JSON_DEPTH}"):
            parse_json("[" * depth + "]" * depth, "deep.json")
    with pytest.raises(ValueError, match=r"'bad\.json': provenance is not valid JSON: Expecting"):
        parse_json("[1,", "bad.json", "provenance")


DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_json_in_every_file_kind_is_a_value_error_naming_it(tmp_path):
    from latentatlas.data import LatentStore, VectorSet

    vectors = tmp_path / "vectors.json"
    vectors.write_text(DEEP)
    with pytest.raises(ValueError, match=r"vectors\.json': JSON nested too deeply"):
        VectorSet.load(vectors)
    ck = la_save_tiny(tmp_path / "ck")
    config = json.loads((ck / "config.json").read_text())
    (ck / "config.json").write_text(json.dumps(config)[:-1] + ', "deep": ' + DEEP + "}")
    with pytest.raises(ValueError, match=r"config\.json': JSON nested too deeply"):
        la_load(ck)
    store = LatentStore(np.zeros((2, 3), np.float32), np.zeros((2, 1)), ["a"], ["train", "valid"])
    store.provenance = {"x": 1}
    path = store.save(tmp_path / "store.npz")
    _rewrite_member(path, "provenance.npy", lambda _: np.array('{"x": ' + "[" * 5000 + "]" * 5000 + "}"))
    with pytest.raises(ValueError, match=r"store\.npz': provenance: JSON nested too deeply"):
        LatentStore.load(path)
    index = NeighborIndex(3, num_threads=1)
    data = index.save(tmp_path / "i.laidx")
    raw = Path(data).read_bytes()
    _, version, length = PREFIX.unpack_from(raw)
    text = b"[" * 30_000 + b"]" * 30_000
    Path(data).write_bytes(PREFIX.pack(b"LATLSIDX", version, len(text)) + text)
    with pytest.raises(ValueError, match=r"i\.laidx': corrupt header"):
        NeighborIndex.load(data)


def la_save_tiny(path):
    import latentatlas as la
    from latentatlas.models import VAE

    return la.models.save(VAE((1, 8, 8), 2, hidden=(4,), seed=0), path)


def la_load(path):
    import latentatlas as la

    return la.models.load(path)


def _rewrite_member(path, member: str, make):
    """Replaces one array of an .npz file (``make(old) -> new``), keeping the others."""
    import io
    import zipfile

    from numpy.lib import format as npy

    with zipfile.ZipFile(path) as zin:
        members = {info.filename: zin.read(info) for info in zin.infolist()}
    old = np.load(io.BytesIO(members[member]), allow_pickle=False)
    new = make(old)
    out = io.BytesIO()
    if isinstance(new, bytes):
        out.write(new)
    else:
        npy.write_array(out, new, allow_pickle=False)
    members[member] = out.getvalue()
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)


def _forged_header(shape, descr="<f4") -> bytes:
    import io

    from numpy.lib import format as npy

    out = io.BytesIO()
    npy.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def test_store_arrays_claiming_more_than_the_file_holds_are_refused_before_allocating(tmp_path):
    from latentatlas.data import LatentStore
    from latentatlas.data.store import MAX_COLS

    store = LatentStore(np.ones((5, 3), np.float32), np.zeros((5, 1)), ["a"], ["train"] * 5)
    cases = [
        ((1_000_000, 100_000), r"array 'latents' claims shape \(1000000, 100000\) \(400,000,000,000 bytes\), "
                               r"beyond the limit"),
        ((5, MAX_COLS + 1), r"array 'latents' claims shape \(5, 1000001\), beyond the limit of 1,000,000 along axis 1"),
        ((6, 3), r"array 'latents' claims shape \(6, 3\) float32 \(72 bytes\) but the file holds 60 bytes of it"),
    ]
    for shape, message in cases:
        path = store.save(tmp_path / "s.npz")
        _rewrite_member(path, "latents.npy", lambda old, shape=shape: _forged_header(shape) + old.tobytes())
        with pytest.raises(ValueError, match=r"s\.npz': " + message):
            LatentStore.load(path)


def test_store_content_errors_name_the_file(tmp_path):
    from latentatlas.data import LatentStore

    path = LatentStore(np.ones((4, 3), np.float32), np.zeros((4, 1)), ["a"], ["train"] * 4).save(tmp_path / "s.npz")
    _rewrite_member(path, "labels.npy", lambda old: np.full((4, 1), 7, np.uint8))
    with pytest.raises(ValueError, match=r"s\.npz': labels must contain only 0 and 1"):
        LatentStore.load(path)


def test_config_sizes_are_checked_before_building_and_fields_name_the_file(tmp_path):
    from latentatlas.models.checkpoint import MAX_PARAMETERS

    ck = la_save_tiny(tmp_path / "ck")
    config = json.loads((ck / "config.json").read_text())
    config["model"]["hidden"] = [12000, 12000]
    (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=rf"config\.json': the model it describes has [\d,]+ parameters, more than "
                                         rf"the limit of {MAX_PARAMETERS:,}"):
        la_load(ck)
    for bad in ("wide", [-5], [0], None):
        config["model"]["hidden"] = bad
        (ck / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=r"ck/config\.json': "):
            la_load(ck)


def test_an_oversized_weights_file_is_refused_before_reading(tmp_path):
    from latentatlas.models import checkpoint

    ck = la_save_tiny(tmp_path / "ck")
    with open(ck / "weights.safetensors", "ab") as fh:
        fh.truncate(checkpoint._SAFETENSORS_HEADER_MAX + 10_000)  # sparse: no real disk used
    with pytest.raises(ValueError, match=r"weights\.safetensors' is [\d,]+ bytes, more than the [\d,]+ its config"):
        la_load(ck)


def test_index_load_of_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder, not a NeighborIndex file"):
        NeighborIndex.load(tmp_path)


def test_a_full_disk_names_the_file(tmp_path):
    import errno

    from latentatlas._files import atomic_open, atomic_write

    def full(_):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"No space left on device while writing: '.*out\.png'"):
        atomic_write(tmp_path / "out.png", full)
    with pytest.raises(OSError, match=r"No space left on device while writing: '.*out\.json'"):
        with atomic_open(tmp_path / "out.json", "w"):
            full(None)
    assert os.listdir(tmp_path) == []  # the temporary files are gone too


def test_sample_sizes_and_memory_errors_are_one_line(capsys, monkeypatch):
    from conftest import assert_one_error_line, run_cli

    from latentatlas import sampling

    for argv, message in [
        (["random", "--rows", "100000", "--cols", "100000", "-o", "x.png"],
         r"--rows 100000 x --cols 100000 is 10,000,000,000 images, more than the limit of 10,000"),
        (["random", "--scale", "100000", "-o", "x.png"],
         r"--rows 8 x --cols 8 at --scale 100000 is [\d,]+ pixels .* more than the limit"),
        (["walk", "--steps", "1000000000", "-o", "x.gif"], r"4 anchors x --steps 1000000000 is 4,000,000,001 images"),
    ]:
        code, _, err = run_cli(capsys, "sample", *argv, "--model", "digits-vae")
        assert_one_error_line(code, err, r"^latentatlas sample: error: " + message)

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 373. GiB for an array with shape (1000000, 100000) and data type float32")

    monkeypatch.setattr(sampling, "sample_grid", exhausted)
    code, _, err = run_cli(capsys, "sample", "random", "--model", "digits-vae", "-o", "x.png")
    assert_one_error_line(code, err, r"^latentatlas sample: error: out of memory \(Unable to allocate 373\. GiB for an "
                                     r"array with shape \(1000000, 100000\)")
