"""The one conversion/validation layer: ints, arrays and tensors, image batches, batching."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from latentatlas import _arrays as A


def test_importing_the_layer_does_not_import_torch():
    code = "import sys, latentatlas._arrays; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("value, expected", [(3, True), (np.int64(3), True), (np.uint8(0), True), (True, False),
                                             (np.bool_(True), False), (3.0, False), ("3", False), (None, False)])
def test_is_int(value, expected):
    assert A.is_int(value) is expected


@pytest.mark.parametrize("value, expected", [(3, True), (2.5, True), (np.float32(1), True), (np.int8(1), True),
                                             (False, False), ("1", False), (1j, False)])
def test_is_number(value, expected):
    assert A.is_number(value) is expected


def test_check_int_returns_python_ints():
    got = A.check_int("k", np.int32(4), 1)
    assert got == 4 and type(got) is int
    assert A.check_int("k", 0, 0) == 0
    assert A.check_int("k", 9, 0, 9) == 9


@pytest.mark.parametrize("value, minimum, maximum, exc, match", [
    (0, 1, None, ValueError, "k must be >= 1, got 0"),
    (-5, 0, None, ValueError, "k must be >= 0, got -5"),
    (10, 0, 9, ValueError, r"k must be in \[0, 9\], got 10"),
    (-1, 0, 9, ValueError, r"k must be in \[0, 9\], got -1"),
    (True, 0, None, TypeError, "k must be an int, got bool"),
    (2.0, 0, None, TypeError, "k must be an int, got float"),
    ("2", 0, None, TypeError, "k must be an int, got str"),
])
def test_check_int_errors(value, minimum, maximum, exc, match):
    with pytest.raises(exc, match=match):
        A.check_int("k", value, minimum, maximum)


def test_to_numpy_and_as_numpy_on_arrays_lists_and_tensors():
    torch = pytest.importorskip("torch")
    x = np.arange(6.0).reshape(2, 3)
    assert A.to_numpy(x, "x") is x
    t = torch.arange(6.0, requires_grad=True).reshape(2, 3)
    got = A.to_numpy(t, "t")
    assert isinstance(got, np.ndarray) and got.shape == (2, 3)
    np.testing.assert_array_equal(got, x)
    np.testing.assert_array_equal(A.as_numpy([[0, 1, 2], [3, 4, 5]], np.float64), x)
    np.testing.assert_array_equal(A.as_numpy(t, np.float32), x.astype(np.float32))
    # numpy has no bfloat16: such tensors come out as float32
    bf = A.as_numpy(torch.tensor([1.5, 2.0], dtype=torch.bfloat16))
    assert bf.dtype == np.float32 and bf.tolist() == [1.5, 2.0]
    # a lazily negated view is resolved, not refused
    neg = torch.tensor([1.0, -2.0])._neg_view()
    np.testing.assert_array_equal(A.to_numpy(neg, "neg"), [-1.0, 2.0])
    assert A.is_tensor(t) and not A.is_tensor(x)


def test_to_numpy_refuses_other_objects():
    with pytest.raises(TypeError, match="x must be a numpy array or a torch tensor, got list"):
        A.to_numpy([1.0], "x")


@pytest.mark.parametrize("x, exc, match", [
    (np.array([1, 2]), TypeError, "x must be float32 or float64, got int64 -- hint"),
    (np.array([1.0, np.nan]), ValueError, "x contains NaN or Inf"),
    (np.array([np.inf]), ValueError, "x contains NaN or Inf"),
])
def test_finite_floats_errors(x, exc, match):
    with pytest.raises(exc, match=match):
        A.finite_floats(x, "x", hint=" -- hint")


def test_finite_floats_accepts_empty_and_float_arrays():
    assert A.finite_floats(np.zeros((0, 3), np.float32), "x").shape == (0, 3)


def test_check_images_converts_and_clips():
    x = np.linspace(-0.5, 1.5, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    got = A.check_images(x)
    assert got.dtype == np.float32 and got.min() < 0  # values as given unless clipped
    clipped = A.check_images(x, clip=True)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    single = A.check_images(np.zeros((1, 4, 4)), dtype=np.float64, single=True)
    assert single.shape == (1, 1, 4, 4) and single.dtype == np.float64
    assert A.check_images(np.zeros((0, 1, 4, 4), np.float32)).shape == (0, 1, 4, 4)


@pytest.mark.parametrize("images, kwargs, exc, match", [
    ([[0.5]], {}, TypeError, "images must be a numpy array or a torch tensor, got list"),
    (np.zeros((1, 1, 4, 4), np.uint8), {}, TypeError, "images must be float32 or float64, got uint8 .*divide uint8"),
    (np.zeros((1, 4, 4), np.float32), {}, ValueError, r"images must be NCHW \(N, C, H, W\), got shape \(1, 4, 4\)"),
    (np.zeros((4, 4), np.float32), {"single": True}, ValueError, r"or one image \(C, H, W\), got shape \(4, 4\)"),
    (np.zeros((1, 2, 4, 4), np.float32), {}, ValueError, "1 or 3 channels .*C = 2"),
    (np.zeros((1, 1, 0, 4), np.float32), {"name": "frames"}, ValueError, "frames has empty images of size 0x4"),
    (np.full((1, 1, 2, 2), np.nan, np.float32), {}, ValueError, "images contains NaN or Inf"),
])
def test_check_images_errors(images, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        A.check_images(images, **kwargs)


def test_check_images_takes_tensors():
    torch = pytest.importorskip("torch")
    got = A.check_images(torch.full((2, 3, 2, 2), 0.25, dtype=torch.float64))
    assert got.dtype == np.float32 and got.shape == (2, 3, 2, 2) and (got == 0.25).all()


def test_map_rows_blocks_in_order_and_the_empty_case():
    seen = []

    def double(block):
        seen.append(len(block))
        return block * 2

    out = A.map_rows(double, np.arange(7), 3)
    assert seen == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(out), np.arange(7) * 2)
    seen.clear()
    assert len(A.map_rows(double, np.zeros((0, 2)), 3)) == 1 and seen == [0]


def test_map_rows_errors():
    with pytest.raises(ValueError, match=r"f returned shape \(4,\) for a batch of 3 rows"):
        A.map_rows(lambda b: np.zeros(len(b) + 1), np.arange(3), 5, what="f")
    with pytest.raises(ValueError, match=r"f returned shape \(\) for a batch of 3 rows"):
        A.map_rows(lambda b: 1.0, np.arange(3), 5, what="f")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        A.map_rows(lambda b: b, np.arange(3), 0)


def test_run_batched_gives_float32_numpy_from_tensor_results():
    torch = pytest.importorskip("torch")
    calls = []

    def fn(t):
        calls.append((t.dtype, torch.is_grad_enabled()))
        return (t * 2).double()

    out = A.run_batched(fn, np.arange(10, dtype=np.float64).reshape(5, 2), 2, device="cpu", what="fn")
    assert out.dtype == np.float32 and out.shape == (5, 2)
    np.testing.assert_array_equal(out, np.arange(10).reshape(5, 2) * 2)
    assert calls == [(torch.float32, False)] * 3
    with pytest.raises(TypeError, match="the result of fn must be a numpy array or a torch tensor"):
        A.run_batched(lambda t: t.tolist(), np.zeros((2, 2)), 2, what="fn")
