"""Data sets: digits, procedural shapes and their measurements, MNIST idx, CelebA layout, image folders."""

from __future__ import annotations

import colorsys
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentatlas import data as lad
from latentatlas.data import Dataset


# ----------------------------------------------------------------------------- Dataset


def _tiny(n: int = 4, **overrides):
    kw = dict(
        images=np.zeros((n, 1, 2, 2), np.float32),
        labels=np.zeros((n, 2), np.uint8),
        label_names=["a", "b"],
        split=np.array(["train"] * n),
    )
    kw.update(overrides)
    return Dataset(**kw)


def test_dataset_subset_by_split_and_mask():
    ds = _tiny(4, split=np.array(["train", "test", "train", "valid"]), classes=np.arange(4))
    train = ds.subset("train")
    assert len(train) == 2 and list(train.classes) == [0, 2]
    masked = ds.subset(np.array([False, True, False, True]))
    assert list(masked.split) == ["test", "valid"]
    assert "n=4" in repr(ds)


@pytest.mark.parametrize(
    "overrides, exc, match",
    [
        ({"images": np.zeros((4, 2, 2), np.float32)}, ValueError, r"images must be NCHW \(N, C, H, W\), got shape \(4, 2, 2\)"),
        ({"images": np.zeros((4, 2, 2, 2), np.float32)}, ValueError, "1 or 3 channels"),
        ({"images": np.zeros((4, 1, 0, 2), np.float32)}, ValueError, "empty images"),
        ({"images": [[0.5]]}, TypeError, "images must be a numpy array, got list"),
        ({"images": np.zeros((4, 1, 2, 2), np.float64)}, TypeError, "float32"),
        ({"images": np.full((4, 1, 2, 2), 1.5, np.float32)}, ValueError, r"within \[0, 1\], got range \[1.5, 1.5\]"),
        ({"images": np.full((4, 1, 2, 2), np.nan, np.float32)}, ValueError, "images contains NaN or Inf"),
        ({"labels": np.zeros((3, 2))}, ValueError, "labels must have shape"),
        ({"labels": np.full((4, 2), 2)}, ValueError, "only 0 and 1"),
        ({"label_names": ["a"]}, ValueError, "label_names has 1 names"),
        ({"label_names": ["a", "a"]}, ValueError, "unique"),
        ({"split": np.array(["train", "train", "dev", "test"])}, ValueError, "dev"),
        ({"split": np.array(["train"])}, ValueError, "split must have shape"),
        ({"classes": np.zeros(4, np.float32)}, ValueError, "classes must be an integer"),
        ({"factors": {"size": np.zeros(3)}}, ValueError, "factor 'size'"),
    ],
)
def test_dataset_validation(overrides, exc, match):
    with pytest.raises(exc, match=match):
        _tiny(4, **overrides)


def test_dataset_rejects_empty_and_bad_subsets():
    with pytest.raises(ValueError, match="at least one image"):
        _tiny(0)
    ds = _tiny(2)
    with pytest.raises(ValueError, match="'test' split .* is empty"):
        ds.subset("test")
    with pytest.raises(ValueError, match="split must be one of"):
        ds.subset("dev")
    with pytest.raises(ValueError, match="boolean mask must have shape"):
        ds.subset(np.array([True]))


# ----------------------------------------------------------------------------- digits


def test_load_digits_matches_sklearn():
    from sklearn.datasets import load_digits

    ref = load_digits()
    ds = lad.load_digits()
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == np.float32
    np.testing.assert_allclose(ds.images[:, 0] * 16.0, ref.images, atol=1e-5)
    np.testing.assert_array_equal(ds.classes, ref.target)
    np.testing.assert_array_equal(ds.labels.argmax(1), ref.target)
    assert ds.labels.sum(1).tolist() == [1] * 1797
    counts = {s: int((ds.split == s).sum()) for s in ("train", "valid", "test")}
    assert counts == {"train": 1438, "valid": 180 - 1, "test": 180}
    # Same seed, same split; other seed, other split.
    np.testing.assert_array_equal(lad.load_digits(seed=0).split, ds.split)
    assert (lad.load_digits(seed=1).split != ds.split).any()


def test_one_digit_classifier_for_quality_experiments_and_demo():
    from latentatlas import experiments
    from latentatlas.data.digits import digit_classifier
    from latentatlas.models import quality

    assert experiments.digit_classifier is digit_classifier and quality.digit_classifier is digit_classifier
    digits = lad.load_digits()
    test = digits.subset("test")
    clf = digit_classifier(digits)
    assert clf.score(test.images.reshape(len(test), -1), test.classes) > 0.9
    with pytest.raises(ValueError, match="needs class ids; the data set 'shapes' has none"):
        digit_classifier(lad.make_shapes(10, seed=0))


def test_load_digits_bad_fractions():
    with pytest.raises(ValueError, match="split fractions"):
        lad.load_digits(split_fractions=(0.5, 0.2, 0.2))


# ----------------------------------------------------------------------------- shapes


def test_make_shapes_structure_and_determinism():
    ds = lad.make_shapes(40, seed=3)
    assert ds.images.shape == (40, 3, 32, 32) and ds.images.dtype == np.float32
    assert ds.label_names == list(lad.SHAPE_ATTRIBUTES)
    assert set(ds.factors) == {"shape", "size", "x", "y", "hue", "brightness", "blur"}
    assert ds.classes is None
    np.testing.assert_array_equal(lad.make_shapes(40, seed=3).images, ds.images)
    assert not np.array_equal(lad.make_shapes(40, seed=4).images, ds.images)
    # Attributes are thresholds of the factors.
    f = ds.factors
    np.testing.assert_array_equal(ds.labels[:, 1], f["shape"] == 0)
    np.testing.assert_array_equal(ds.labels[:, 4], f["x"] < 16)
    grey = lad.make_shapes(5, seed=3, channels=1, size=20)
    assert grey.images.shape == (5, 1, 20, 20)


def test_make_shapes_correlations_are_realised():
    ds = lad.make_shapes(6000, seed=0, size=12, correlations={("blurry", "bright"): -0.8, ("large", "round"): 0.5})
    c = np.corrcoef(ds.labels.T.astype(float))
    names = ds.label_names
    ix = names.index
    assert c[ix("blurry"), ix("bright")] == pytest.approx(-0.8, abs=0.04)
    assert c[ix("large"), ix("round")] == pytest.approx(0.5, abs=0.04)
    assert abs(c[ix("left"), ix("top")]) < 0.05
    assert np.all(np.abs(ds.labels.mean(0) - 0.5) < 0.04)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"correlations": {("large", "shiny"): 0.5}}, "unknown attribute 'shiny'"),
        ({"correlations": {("large", "large"): 0.5}}, "itself"),
        ({"correlations": {("large", "round"): 1.5}}, r"must be in \[-1, 1\]"),
        ({"correlations": {("large", "round"): float("nan")}}, r"must be in \[-1, 1\]"),
        ({"correlations": {("large", "round"): 0.5, ("round", "large"): 0.2}}, "conflicting"),
        ({"correlations": {"large": 0.5}}, "pairs"),
        (
            {"correlations": {("large", "round"): 0.95, ("round", "bright"): 0.95, ("large", "bright"): -0.95}},
            "not jointly possible",
        ),
        ({"size": 4}, "at least 8"),
        ({"channels": 2}, "channels must be 1 or 3"),
    ],
)
def test_make_shapes_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lad.make_shapes(10, **kwargs)


@pytest.mark.parametrize("n, exc, match", [(0, ValueError, "n must be >= 1, got 0"),
                                           (-3, ValueError, "n must be >= 1, got -3"),
                                           (2.5, TypeError, "n must be an int, got float"),
                                           (True, TypeError, "n must be an int, got bool")])
def test_make_shapes_bad_n(n, exc, match):
    with pytest.raises(exc, match=match):
        lad.make_shapes(n)


def test_render_shapes_errors():
    good = {"shape": [0], "size": [3.0], "x": [8.0], "y": [8.0], "hue": [0.1], "brightness": [0.9], "blur": [0.0]}
    with pytest.raises(ValueError, match="missing"):
        lad.render_shapes({k: v for k, v in good.items() if k != "hue"}, size=16)
    with pytest.raises(ValueError, match="'shape' must be 0"):
        lad.render_shapes({**good, "shape": [5]}, size=16)
    with pytest.raises(ValueError, match="factor 'x' must have shape"):
        lad.render_shapes({**good, "x": [1.0, 2.0]}, size=16)
    with pytest.raises(ValueError, match="'blur' contains NaN"):
        lad.render_shapes({**good, "blur": [np.nan]}, size=16)


def _reference_disk(cx, cy, r, side, supersample=16):
    """Independent reference: coverage of a disk by brute-force supersampling each pixel."""
    offs = (np.arange(supersample) + 0.5) / supersample
    ys = (np.arange(side)[:, None] + offs[None, :]).ravel()
    inside = ((ys[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) <= r * r
    return inside.reshape(side, supersample, side, supersample).mean(axis=(1, 3))


def test_render_matches_supersampled_reference_and_colour():
    f = {"shape": [0], "size": [4.3], "x": [9.2], "y": [7.7], "hue": [0.25], "brightness": [0.8], "blur": [0.0]}
    img = lad.render_shapes(f, size=18)[0]
    ref = _reference_disk(9.2, 7.7, 4.3, 18)
    rgb = np.array(colorsys.hsv_to_rgb(0.25, 1.0, 0.8))
    np.testing.assert_allclose(img, ref[None] * rgb[:, None, None], atol=0.08)
    assert img.sum() == pytest.approx(ref.sum() * rgb.sum(), rel=0.01)


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_measurements_recover_factors_exactly(shape):
    f = {
        "shape": [shape] * 3,
        "size": [3.0, 4.5, 5.5],
        "x": [12.0, 20.3, 16.0],
        "y": [14.5, 13.0, 19.2],
        "hue": [0.05, 0.3, 0.6],
        "brightness": [0.4, 0.7, 1.0],
        "blur": [0.0, 0.6, 1.2],
    }
    imgs = lad.render_shapes(f, size=32)
    m = lad.measure_factors(imgs)
    np.testing.assert_allclose(m["size"], f["size"], rtol=0.03)
    np.testing.assert_allclose(m["area"], np.pi * np.square(f["size"]), rtol=0.06)
    np.testing.assert_allclose(m["x"], f["x"], atol=0.05)
    np.testing.assert_allclose(m["y"], f["y"], atol=0.05)
    np.testing.assert_allclose(m["brightness"], f["brightness"], atol=0.02)
    np.testing.assert_allclose(m["hue"], f["hue"], atol=1e-3)
    # Sharpness falls as blur grows.
    assert m["sharpness"][0] > m["sharpness"][1] > m["sharpness"][2]


def test_measurements_accept_torch_single_images_and_blank():
    torch = pytest.importorskip("torch")
    ds = lad.make_shapes(3, seed=0)
    single = lad.measure_brightness(torch.from_numpy(ds.images[0]))
    assert single.shape == (1,) and single[0] == pytest.approx(ds.factors["brightness"][0], abs=0.02)
    blank = np.zeros((1, 3, 8, 8), np.float32)
    m = lad.measure_factors(blank)
    assert m["brightness"][0] == 0.0
    assert all(np.isnan(v).all() for k, v in m.items() if k != "brightness")


@pytest.mark.parametrize(
    "images, exc, match",
    [
        (np.zeros((2, 8, 8)), ValueError, "1 or 3 channels"),
        (np.zeros((8, 8)), ValueError, r"\(N, C, H, W\)"),
        (np.full((1, 1, 4, 4), np.nan), ValueError, "NaN"),
        (np.zeros((1, 1, 4, 4), dtype=object), TypeError, "float32 or float64, got object"),
        (np.zeros((1, 1, 4, 4), dtype=np.uint8), TypeError, "divide uint8 images by 255"),
        ([[1.0]], TypeError, "numpy array or a torch tensor"),
    ],
)
def test_measure_errors(images, exc, match):
    with pytest.raises(exc, match=match):
        lad.measure_brightness(images)


def test_measure_hue_needs_rgb():
    with pytest.raises(ValueError, match="RGB"):
        lad.measure_hue(np.zeros((1, 1, 4, 4)))


# ----------------------------------------------------------------------------- MNIST idx


def _write_idx(path: Path, arr: np.ndarray, *, code: int = 0x08, gz: bool = False, trim: int = 0) -> None:
    raw = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    raw = raw[: len(raw) - trim] if trim else raw
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    parts = {"train": 24, "t10k": 6}
    for prefix, n in parts.items():
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        gz = prefix == "train"  # one pair gzipped, one raw
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{'.gz' if gz else ''}", imgs, gz=gz)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{'.gz' if gz else ''}", labels, gz=gz)
        np.save(tmp_path / f"{prefix}_imgs.npy", imgs)
        np.save(tmp_path / f"{prefix}_labels.npy", labels)
    return tmp_path


def test_load_mnist(mnist_dir):
    ds = lad.load_mnist(mnist_dir, valid_fraction=0.25)
    ref_imgs = np.concatenate([np.load(mnist_dir / "train_imgs.npy"), np.load(mnist_dir / "t10k_imgs.npy")])
    ref_labels = np.concatenate([np.load(mnist_dir / "train_labels.npy"), np.load(mnist_dir / "t10k_labels.npy")])
    assert ds.images.shape == (30, 1, 28, 28)
    np.testing.assert_allclose(ds.images[:, 0] * 255.0, ref_imgs, atol=1e-3)
    np.testing.assert_array_equal(ds.classes, ref_labels)
    assert list(ds.split[24:]) == ["test"] * 6
    assert (ds.split[:24] == "valid").sum() == 6


def test_read_idx_other_dtypes(tmp_path):
    arr = np.arange(6, dtype=">i4").reshape(2, 3)
    _write_idx(tmp_path / "x.idx", arr, code=0x0C)
    out = lad.read_idx(tmp_path / "x.idx")
    np.testing.assert_array_equal(out, arr)
    assert out.dtype.isnative and out.dtype == np.int32


def test_read_idx_errors(tmp_path):
    arr = np.zeros((3, 4, 4), np.uint8)
    _write_idx(tmp_path / "trunc", arr, trim=5)
    with pytest.raises(ValueError, match=r"declares shape \(3, 4, 4\).*holds 43 bytes"):
        lad.read_idx(tmp_path / "trunc")
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04hello")
    with pytest.raises(ValueError, match="not an idx file"):
        lad.read_idx(tmp_path / "junk")
    (tmp_path / "badgz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match="cannot read idx file"):
        lad.read_idx(tmp_path / "badgz")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(ValueError, match="header is truncated"):
        lad.read_idx(tmp_path / "short")


def test_load_mnist_errors(mnist_dir, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        lad.load_mnist(tmp_path / "nope")
    (mnist_dir / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.*not found"):
        lad.load_mnist(mnist_dir)
    _write_idx(mnist_dir / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="test files disagree: 6 images but 5 labels"):
        lad.load_mnist(mnist_dir)
    _write_idx(mnist_dir / "t10k-labels-idx1-ubyte", np.full(6, 12, np.uint8))
    with pytest.raises(ValueError, match="digits 0..9, found 12"):
        lad.load_mnist(mnist_dir)
    _write_idx(mnist_dir / "t10k-labels-idx1-ubyte", np.zeros((6, 2), np.uint8))
    with pytest.raises(ValueError, match="1-D uint8"):
        lad.load_mnist(mnist_dir)
    _write_idx(mnist_dir / "t10k-labels-idx1-ubyte", np.zeros(6, np.uint8))
    _write_idx(mnist_dir / "t10k-images-idx3-ubyte", np.zeros((6, 20, 20), np.uint8))
    with pytest.raises(ValueError, match="differ in size"):
        lad.load_mnist(mnist_dir)
    with pytest.raises(ValueError, match="valid_fraction"):
        lad.load_mnist(mnist_dir, valid_fraction=1.0)


# ----------------------------------------------------------------------------- CelebA


NAMES = [f"Attr_{i}" for i in range(40)]


def _write_celeba(root: Path, n: int = 6, *, size=(30, 36)) -> np.ndarray:
    rng = np.random.default_rng(1)
    (root / "img_align_celeba").mkdir(parents=True)
    labels = rng.integers(0, 2, (n, 40))
    rows = [str(n), " ".join(NAMES)]
    parts = []
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        arr = np.zeros((size[1], size[0], 3), np.uint8)
        arr[..., 0] = 40 * i
        arr[size[1] // 2 :, :, 1] = 200  # bottom half green: lets the crop be checked
        Image.fromarray(arr).save(root / "img_align_celeba" / name, quality=95)
        rows.append(name + "  " + " ".join("1" if v else "-1" for v in labels[i]).replace(" -1", "  -1"))
        parts.append(f"{name} {i % 3}")
    (root / "list_attr_celeba.txt").write_text("\n".join(rows) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return labels


def test_load_celeba(tmp_path):
    labels = _write_celeba(tmp_path)
    ds = lad.load_celeba(tmp_path, size=16, progress=False)
    assert ds.images.shape == (6, 3, 16, 16)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.label_names == NAMES
    assert list(ds.split) == ["train", "valid", "test"] * 2
    # Square centre crop of 30x36 keeps rows 3..33: top half black, bottom half green.
    assert ds.images[0, 1, :6].mean() < 0.05 and ds.images[0, 1, -6:].mean() > 0.7
    np.testing.assert_allclose(ds.images[:, 0].mean(axis=(1, 2)), 40 * np.arange(6) / 255, atol=0.03)
    assert len(lad.load_celeba(tmp_path, size=(8, 12), crop=20, limit=2, progress=False)) == 2


def _edit(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


@pytest.mark.parametrize(
    "target, fn, match",
    [
        ("list_attr_celeba.txt", lambda ls: ["7"] + ls[1:], "count line says 7 images but the file has 6 rows"),
        ("list_attr_celeba.txt", lambda ls: ["six"] + ls[1:], "first line must be the image count"),
        ("list_attr_celeba.txt", lambda ls: ls[:3] + [ls[3].rsplit(" ", 1)[0]] + ls[4:], "line 4: expected a file name and 40 values, got 40"),
        ("list_attr_celeba.txt", lambda ls: ls[:2] + [ls[2].replace("-1", "0", 1).replace(" 1", " 0", 1)] + ls[3:], "values must be 1 or -1, got '0'"),
        ("list_attr_celeba.txt", lambda ls: ls[:3] + [ls[2]] + ls[4:], "not unique"),
        ("list_attr_celeba.txt", lambda ls: ls[:1], "expected a count line and a header"),
        ("list_eval_partition.txt", lambda ls: ls[:-1], "no entry for 1 images"),
        ("list_eval_partition.txt", lambda ls: ls + ["999999.jpg 0"], "lists 1 images that"),
        ("list_eval_partition.txt", lambda ls: ls[:-1] + ["000006.jpg 5"], "expected 'filename 0|1|2'"),
        ("list_eval_partition.txt", lambda ls: ls + [ls[0]], "listed twice"),
    ],
)
def test_load_celeba_malformed_files(tmp_path, target, fn, match):
    _write_celeba(tmp_path)
    _edit(tmp_path / target, fn)
    with pytest.raises(ValueError, match=match):
        lad.load_celeba(tmp_path, size=8, progress=False)


def test_load_celeba_missing_and_unreadable(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        lad.load_celeba(tmp_path / "none")
    _write_celeba(tmp_path)
    (tmp_path / "img_align_celeba" / "000003.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match="cannot read image .*000003.jpg"):
        lad.load_celeba(tmp_path, size=8, progress=False)
    (tmp_path / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(ValueError, match="000003.jpg' does not exist"):
        lad.load_celeba(tmp_path, size=8, progress=False)
    with pytest.raises(ValueError, match="crop 99 does not fit"):
        lad.load_celeba(tmp_path, size=8, crop=99, progress=False)
    with pytest.raises(ValueError, match="limit must be positive"):
        lad.load_celeba(tmp_path, size=8, limit=0, progress=False)
    with pytest.raises(ValueError, match="size must be an int"):
        lad.load_celeba(tmp_path, size="big", progress=False)
    (tmp_path / "list_eval_partition.txt").unlink()
    with pytest.raises(ValueError, match="list_eval_partition.txt' not found"):
        lad.load_celeba(tmp_path, size=8, progress=False)


def test_truncated_jpeg_is_an_error(tmp_path):
    _write_celeba(tmp_path)
    path = tmp_path / "img_align_celeba" / "000002.jpg"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot read image .*000002.jpg"):
        lad.load_celeba(tmp_path, size=8, progress=False)


# ----------------------------------------------------------------------------- image folder


def _write_folder(root: Path, rows: list[str], *, sizes=None) -> Path:
    root.mkdir(exist_ok=True)
    for i in range(4):
        w, h = (sizes or {}).get(i, (10, 12))
        Image.fromarray(np.full((h, w, 3), 60 * i, np.uint8)).save(root / f"im{i}.png")
    csv_path = root / "labels.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    return csv_path


GOOD_ROWS = [
    "filename,smiling,glasses,split,class",
    "im0.png,1,0,train,0",
    "im1.png,0,1,valid,1",
    "im2.png,-1,1,test,2",
    "im3.png,true,false,train,2",
]


def test_load_image_folder(tmp_path):
    csv_path = _write_folder(tmp_path / "imgs", GOOD_ROWS)
    ds = lad.load_image_folder(tmp_path / "imgs", csv_path, progress=False)
    assert ds.images.shape == (4, 3, 12, 10)
    assert ds.label_names == ["smiling", "glasses"]
    np.testing.assert_array_equal(ds.labels, [[1, 0], [0, 1], [0, 1], [1, 0]])
    assert list(ds.split) == ["train", "valid", "test", "train"]
    assert list(ds.classes) == [0, 1, 2, 2]
    np.testing.assert_allclose(ds.images.mean(axis=(1, 2, 3)), 60 * np.arange(4) / 255, atol=1e-6)
    grey = lad.load_image_folder(tmp_path / "imgs", csv_path, size=6, channels=1, progress=False)
    assert grey.images.shape == (4, 1, 6, 6)


def test_load_image_folder_without_split_or_class(tmp_path):
    csv_path = _write_folder(tmp_path / "imgs", ["filename,a", "im0.png,1", "im1.png,0", "im2.png,1", "im3.png,0"])
    ds = lad.load_image_folder(tmp_path / "imgs", csv_path, split_fractions=(0.5, 0.25, 0.25), progress=False)
    assert ds.classes is None and sorted(ds.split) == ["test", "train", "train", "valid"]


@pytest.mark.parametrize(
    "rows, match",
    [
        (["name,a", "im0.png,1"], "no 'filename' column"),
        (["filename,a,a", "im0.png,1,1"], "duplicate column names"),
        (["filename,a"], "header but no rows"),
        (["filename,a", "im0.png,1,0"], "line 2: expected 2 fields, got 3"),
        (["filename,a", "im0.png,1", "im1.png"], "line 3: expected 2 fields, got 1"),
        (["filename,a", "im0.png,maybe"], "column 'a': expected 0/1"),
        (["filename,a,class", "im0.png,1,x"], "'class' must be a non-negative integer"),
        (["filename,a,split", "im0.png,1,dev"], "'split' must be one of"),
        (["filename,a", "im0.png,1", "im0.png,0"], "'im0.png' more than once"),
        (["filename,a", ",1"], "empty 'filename'"),
        (["filename,a", "missing.png,1"], "missing.png' does not exist"),
    ],
)
def test_load_image_folder_errors(tmp_path, rows, match):
    csv_path = _write_folder(tmp_path / "imgs", rows)
    with pytest.raises(ValueError, match=match):
        lad.load_image_folder(tmp_path / "imgs", csv_path, progress=False)


def test_load_image_folder_mixed_sizes_and_missing_paths(tmp_path):
    csv_path = _write_folder(tmp_path / "imgs", GOOD_ROWS, sizes={2: (11, 12)})
    with pytest.raises(ValueError, match="pass size= to resize"):
        lad.load_image_folder(tmp_path / "imgs", csv_path, progress=False)
    assert lad.load_image_folder(tmp_path / "imgs", csv_path, size=(12, 10), progress=False).images.shape[2:] == (12, 10)
    with pytest.raises(ValueError, match="labels CSV .* does not exist"):
        lad.load_image_folder(tmp_path / "imgs", tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="image folder .* does not exist"):
        lad.load_image_folder(tmp_path / "nope", csv_path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        lad.load_image_folder(tmp_path / "imgs", tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        lad.load_image_folder(tmp_path / "imgs", csv_path, channels=4, progress=False)


# ----------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from latentatlas.data._util import random_split  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 500),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_random_split_counts_add_up(n, a, b, seed):
    fr = np.array([a, b, 1.0]) / (a + b + 1.0)
    split = random_split(n, fr, seed)
    counts = [int((split == s).sum()) for s in ("train", "valid", "test")]
    assert sum(counts) == n
    assert all(abs(c - f * n) <= 1 for c, f in zip(counts, fr))


@settings(max_examples=25, deadline=None)
@given(
    shape=st.integers(0, 2),
    size=st.floats(2.88, 6.08),  # the data set's range at 32 px
    x=st.floats(10.0, 22.0),
    y=st.floats(10.0, 22.0),
    brightness=st.floats(0.35, 1.0),
    blur=st.floats(0.0, 1.28),
)
def test_measurements_recover_random_factors(shape, size, x, y, brightness, blur):
    f = {"shape": [shape], "size": [size], "x": [x], "y": [y], "hue": [0.2], "brightness": [brightness], "blur": [blur]}
    m = lad.measure_factors(lad.render_shapes(f, size=32))
    # Within a tenth of a pixel (anti-aliasing at small triangles' corners shifts the centroid slightly).
    assert m["x"][0] == pytest.approx(x, abs=0.1) and m["y"][0] == pytest.approx(y, abs=0.1)
    if blur < 0.5:
        assert m["size"][0] == pytest.approx(size, rel=0.04)
        assert m["brightness"][0] == pytest.approx(brightness, rel=0.02)
    else:
        # A blur comparable to a small object lowers its peak: brightness reads low, size high.
        assert 0.75 * brightness <= m["brightness"][0] <= 1.01 * brightness
        assert 0.99 * size <= m["size"][0] <= 1.15 * size


def test_dataset_subset_by_integer_index():
    ds = _tiny(4, classes=np.array([5, 6, 7, 8]))
    assert list(ds.subset(np.array([3, 0])).classes) == [8, 5]
    with pytest.raises(TypeError, match="1-D integer index"):
        ds.subset(np.array([0.5]))
