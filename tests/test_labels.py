"""Label tables (la.attributes.label_table, correlated_pairs) against brute-force counts,
the paper's Table 1 reproduced, and ``latentatlas labels`` on a CelebA-format attribute
file, a latent store and the shapes data; ``atvec --balance`` prints the breakdowns."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from conftest import assert_one_error_line, run_cli

from latentatlas import attributes
from latentatlas.data import LatentStore


def _brute(y: np.ndarray, a: int, b: int, w: np.ndarray | None = None) -> dict[str, float]:
    """The table by explicit replication and counting, in float64."""
    if w is not None:
        y = np.repeat(y, w.astype(int), axis=0)
    n = len(y)
    c = {(i, j): sum(1 for row in y if row[a] == i and row[b] == j) for i in (0, 1) for j in (0, 1)}
    phi = float(np.corrcoef(y[:, a].astype(float), y[:, b].astype(float))[0, 1])
    num, den = c[1, 1] * c[0, 0], c[1, 0] * c[0, 1]
    return {"n": n, "c": c, "phi": phi, "odds": num / den if den else (math.inf if num else math.nan),
            "p_b": c[1, 1] / (c[1, 1] + c[0, 1]), "p_not_b": c[1, 0] / (c[1, 0] + c[0, 0])}


def _paper_table_1() -> tuple[np.ndarray, list[str]]:
    """Labels with the breakdown of the paper's Table 1 (smiling x male: 17/31/25/27 %)."""
    y = np.array([[1, 1]] * 17 + [[1, 0]] * 31 + [[0, 1]] * 25 + [[0, 0]] * 27, dtype=np.uint8)
    return y, ["Smiling", "Male"]


def test_label_table_matches_brute_force_counts():
    rng = np.random.default_rng(0)
    y = (rng.random((211, 4)) < [0.3, 0.5, 0.7, 0.2]).astype(np.uint8)
    y[:, 3] |= y[:, 0]  # a correlated pair
    for a, b in itertools.permutations(range(4), 2):
        t = attributes.label_table(y, a, b)
        ref = _brute(y, a, b)
        assert t.n == ref["n"]
        assert t.counts == ((ref["c"][1, 1], ref["c"][1, 0]), (ref["c"][0, 1], ref["c"][0, 0]))
        assert np.allclose(t.fractions, np.array(t.counts) / ref["n"], rtol=1e-15)
        assert t.row_totals == pytest.approx((y[:, a].mean(), 1 - y[:, a].mean()), rel=1e-12)
        assert t.col_totals == pytest.approx((y[:, b].mean(), 1 - y[:, b].mean()), rel=1e-12)
        assert t.phi == pytest.approx(ref["phi"], rel=1e-10)
        assert t.odds_ratio == pytest.approx(ref["odds"], rel=1e-12)  # inf where a cell off the diagonal is empty
        assert t.p_a_given_b == pytest.approx(ref["p_b"]) and t.p_a_given_not_b == pytest.approx(ref["p_not_b"])


def test_weights_equal_explicit_replication():
    rng = np.random.default_rng(1)
    y = (rng.random((60, 3)) < 0.4).astype(np.uint8)
    w, _ = attributes.balance_weights(y, [0, 1])
    t = attributes.label_table(y, 0, 1, weights=w)
    ref = _brute(y, 0, 1, w)
    assert t.n == ref["n"] and t.counts[0][0] == ref["c"][1, 1] and t.counts[1][1] == ref["c"][0, 0]
    assert np.allclose(t.fractions, 0.25) and abs(t.phi) < 1e-12  # balanced: every cell the same size
    t2 = attributes.label_table(y, 0, 2, weights=w)
    assert t2.phi == pytest.approx(_brute(y, 0, 2, w)["phi"], rel=1e-10)


def test_the_papers_table_1():
    y, names = _paper_table_1()
    t = attributes.label_table(y, "Smiling", "Male", label_names=names)
    assert np.allclose(t.fractions, [[0.17, 0.31], [0.25, 0.27]]) and np.allclose(t.row_totals, [0.48, 0.52])
    assert np.allclose(t.col_totals, [0.42, 0.58])
    text = t.format().splitlines()
    assert text[0].split() == ["Male", "not", "Male", "total"]
    assert text[1].split() == ["Smiling", "17.0%", "31.0%", "48.0%"]
    assert text[2].split() == ["not", "Smiling", "25.0%", "27.0%", "52.0%"]
    assert text[3].split() == ["total", "42.0%", "58.0%"]
    assert "phi = -0.128" in text[4] and "P(Smiling | Male) = 40.5%" in text[4]
    d = t.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d and d["a"] == "Smiling"


def test_degenerate_tables_are_inf_or_undefined_not_errors():
    y = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=np.uint8)
    t = attributes.label_table(y, 0, 1)  # identical columns: no off-diagonal rows
    assert t.phi == pytest.approx(1.0) and math.isinf(t.odds_ratio)
    const = np.column_stack([y[:, 0], np.ones(4, np.uint8)])
    t = attributes.label_table(const, 0, 1)
    assert math.isnan(t.phi) and math.isnan(t.odds_ratio) and math.isnan(t.p_a_given_not_b)
    assert t.to_dict()["phi"] is None and "odds ratio = undefined" in t.format()


def test_correlated_pairs_rank_every_pair_by_abs_phi():
    rng = np.random.default_rng(2)
    y = (rng.random((300, 6)) < 0.5).astype(np.uint8)
    y[:, 1] = np.where(rng.random(300) < 0.9, y[:, 0], 1 - y[:, 0])   # strongly correlated with 0
    y[:, 4] = np.where(rng.random(300) < 0.75, 1 - y[:, 2], y[:, 2])  # anti-correlated with 2
    y[:, 5] = 1                                                         # constant: phi undefined
    names = list("abcdef")
    ranked = attributes.correlated_pairs(y, names)
    assert len(ranked) == 15
    ref = []
    for i, j in itertools.combinations(range(6), 2):
        phi = np.nan if j == 5 else float(np.corrcoef(y[:, i], y[:, j])[0, 1])
        ref.append((names[i], names[j], phi))
    defined = sorted((r for r in ref if not math.isnan(r[2])), key=lambda r: -abs(r[2]))
    assert [(t.a, t.b) for t in ranked[:10]] == [(a, b) for a, b, _ in defined]
    assert all(t.phi == pytest.approx(p, rel=1e-10) for t, (_, _, p) in zip(ranked, defined))
    assert [(t.a, t.b) for t in ranked[:2]] == [("a", "b"), ("c", "e")]
    assert all(math.isnan(t.phi) and t.b == "f" for t in ranked[10:])
    assert [(t.a, t.b) for t in attributes.correlated_pairs(y, names, top=3)] == [(t.a, t.b) for t in ranked[:3]]
    assert attributes.correlated_pairs(y[:, :3])[0].a in ("0", "1", "2")


@pytest.mark.parametrize("call,err,match", [
    (lambda y: attributes.label_table(y, "a", "a", label_names=["a", "b"]), ValueError, "attributes must be distinct"),
    (lambda y: attributes.label_table(y, "a", "z", label_names=["a", "b"]), ValueError, "unknown attribute 'z'"),
    (lambda y: attributes.label_table(y, 0, 5), ValueError, "attribute index 5 is out of range"),
    (lambda y: attributes.label_table(y, 0, 1.5), TypeError, "by index or name"),
    (lambda y: attributes.label_table(y * 2, 0, 1), ValueError, "only 0 and 1"),
    (lambda y: attributes.label_table(y[:0], 0, 1), ValueError, "labels is empty"),
    (lambda y: attributes.label_table(y, 0, 1, weights=np.ones(3)), ValueError, "one value per row"),
    (lambda y: attributes.label_table(y, 0, 1, weights=-np.ones(4)), ValueError, "non-negative"),
    (lambda y: attributes.label_table(y, 0, 1, label_names=["a"]), ValueError, "must name the 2 label columns"),
    (lambda y: attributes.correlated_pairs(y[:, :1]), ValueError, "at least two label columns"),
    (lambda y: attributes.correlated_pairs(y, top=0), ValueError, "top must be >= 1"),
])
def test_label_table_errors(call, err, match):
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.uint8)
    with pytest.raises(err, match=match):
        call(y)


# ----------------------------------------------------------------------------- the command


@pytest.fixture
def celeba(tmp_path):
    """A tiny CelebA folder in the real text formats (attribute file and partition, no images needed)."""
    y, _ = _paper_table_1()
    # Mouth_Slightly_Open with the paper's Table 2 against Smiling: 36 / 12 / 12 / 40 %
    open_ = np.array([1] * 36 + [0] * 12 + [1] * 12 + [0] * 40)
    names = ["Male", "Mouth_Slightly_Open", "Smiling"]
    rows = [f"{i:06d}.jpg " + " ".join("1" if v else "-1" for v in (y[i, 1], open_[i], y[i, 0]))
            for i in range(100)]
    (tmp_path / "list_attr_celeba.txt").write_text("100\n" + " ".join(names) + "\n" + "\n".join(rows) + "\n")
    (tmp_path / "list_eval_partition.txt").write_text(
        "\n".join(f"{i:06d}.jpg {0 if i % 10 < 8 else (1 if i % 10 == 8 else 2)}" for i in range(100)) + "\n")
    labels = np.column_stack([y[:, 1], open_, y[:, 0]]).astype(np.uint8)
    return tmp_path, labels, names


def test_labels_on_a_celeba_attribute_file(capsys, tmp_path, celeba):
    root, labels, names = celeba
    js = tmp_path / "t.json"
    code, out, err = run_cli(capsys, "labels", "--data", "celeba", "--data-root", root, "--pair", "Smiling,Male",
                             "--pair", "Smiling,Mouth_Slightly_Open", "--top", "2", "--json", js)
    assert code == 0, err
    lines = out.splitlines()
    i, j = [k for k, ln in enumerate(lines) if ln.startswith("Smiling ")]
    assert lines[i].split() == ["Smiling", "17.0%", "31.0%", "48.0%"]  # the paper's Table 1
    assert lines[i + 2].split() == ["total", "42.0%", "58.0%"]
    assert lines[j].split() == ["Smiling", "36.0%", "12.0%", "48.0%"]  # and its Table 2
    assert lines[j + 1].split() == ["not", "Smiling", "12.0%", "40.0%", "52.0%"]
    ranking = [ln for ln in lines if ln.lstrip().startswith(("1.", "2."))]
    ref = attributes.correlated_pairs(labels, names, top=2)
    assert [ln.split()[1:4] for ln in ranking] == [[t.a, "x", t.b] for t in ref]
    record = json.loads(js.read_text())
    assert record["rows"] == 100 and record["pairs"][0]["counts"] == [[17, 31], [25, 27]]
    assert [r["phi"] for r in record["ranking"]] == pytest.approx([t.phi for t in ref])
    assert out.rstrip().endswith(f"wrote {js}")
    # one split, counted from list_eval_partition.txt
    code, out, _ = run_cli(capsys, "labels", "--data", "celeba", "--data-root", root, "--pair", "Smiling,Male",
                           "--split", "train")
    train = np.array([i % 10 < 8 for i in range(100)])
    t = attributes.label_table(labels[train], "Smiling", "Male", label_names=names)
    assert code == 0 and "80 rows (train)" in out and t.format() in out


def test_labels_from_a_store_and_from_shapes(capsys, tmp_path):
    rng = np.random.default_rng(3)
    y = (rng.random((40, 3)) < 0.5).astype(np.uint8)
    path = tmp_path / "s.npz"
    LatentStore(rng.standard_normal((40, 2)).astype(np.float32), y, ["p", "q", "r"],
                np.array(["train"] * 30 + ["test"] * 10)).save(path)
    code, out, _ = run_cli(capsys, "labels", "--store", path, "--split", "test", "--pair", "q,r")
    assert code == 0 and attributes.label_table(y[30:], "q", "r", label_names=["p", "q", "r"]).format() in out
    code, out, _ = run_cli(capsys, "labels", "--data", "shapes", "--n", 300, "--top", 3)
    assert code == 0 and out.count(" x ") == 3 and "of 21 pairs" in out


def test_labels_errors(capsys, tmp_path, celeba):
    root, _, _ = celeba
    cases = [
        (["--data", "celeba", "--data-root", root], "give --pair A,B"),
        (["--data", "celeba", "--data-root", root, "--pair", "Smiling"], "--pair takes two attributes"),
        (["--data", "celeba", "--data-root", root, "--pair", "Smiling,Bald"], "unknown attribute 'Bald'"),
        (["--data", "celeba", "--data-root", tmp_path / "nope", "--top", "2"], "does not exist"),
        (["--data", "celeba", "--top", "2"], "needs --data-root"),
        (["--top", "2"], "give either --store or --data"),
        (["--data", "celeba", "--data-root", root, "--top", "2", "--json", tmp_path / "x.txt"], "must end in .json"),
    ]
    for argv, pattern in cases:
        code, _, err = run_cli(capsys, "labels", *argv)
        assert_one_error_line(code, err, pattern)
    (root / "list_attr_celeba.txt").write_text("3\nA B\nx.jpg 1 -1\n")
    code, _, err = run_cli(capsys, "labels", "--data", "celeba", "--data-root", root, "--top", "1")
    assert_one_error_line(code, err, "count line says 3 images but the file has 1 rows")


def test_atvec_balance_prints_the_breakdown_before_and_after(capsys, tmp_path):
    rng = np.random.default_rng(4)
    y = np.zeros((80, 2), np.uint8)
    y[:, 0] = rng.random(80) < 0.5
    y[:, 1] = np.where(rng.random(80) < 0.8, y[:, 0], 1 - y[:, 0])
    path = tmp_path / "s.npz"
    LatentStore(rng.standard_normal((80, 3)).astype(np.float32), y, ["large", "bright"],
                np.array(["train"] * 80)).save(path)
    code, out, _ = run_cli(capsys, "atvec", "--store", path, "--balance", "large,bright", "-o", tmp_path / "v.npz")
    assert code == 0
    before = attributes.label_table(y, "large", "bright", label_names=["large", "bright"])
    w, _ = attributes.balance_weights(y, ["large", "bright"], label_names=["large", "bright"])
    after = attributes.label_table(y, "large", "bright", label_names=["large", "bright"], weights=w)
    assert "before replication" in out and before.format() in out
    assert "after replication" in out and after.format() in out
    assert out.index(before.format()) < out.index(after.format())
