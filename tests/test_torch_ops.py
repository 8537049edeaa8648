"""The torch.library registrations: opcheck, float64 gradcheck per mode, torch.compile.

``torch.ops.latentatlas.{interpolate,offset,score}`` run the native kernels forward and
the analytic formulas of ``latentatlas._torch_impl`` backward, so gradcheck here checks
the hand-written gradients against finite differences of the C++ core itself.
"""

from __future__ import annotations

import math
from typing import Callable

import pytest
import torch

import latentatlas as la
from latentatlas import torch_ops  # noqa: F401  (registers torch.ops.latentatlas.*)
from devices import DEVICES, METHODS

F64 = torch.float64


def _interp(method: str) -> Callable[..., torch.Tensor]:
    return lambda a, b, t: torch.ops.latentatlas.interpolate(a, b, t, method)


def _rand(*shape: int, seed: int, scale: float = 1.0, device: str = "cpu") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=F64) * scale).to(device)


def _away_from_zero(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Entries of size 0.6..2.4 with random signs and distinct magnitudes per row."""
    g = torch.Generator().manual_seed(seed)
    mag = 0.6 + 1.8 * torch.rand(shape, generator=g, dtype=F64) + 0.01 * torch.arange(shape[-1], dtype=F64)
    sign = torch.where(torch.rand(shape, generator=g) > 0.5, 1.0, -1.0).to(F64)
    return mag * sign


# --------------------------------------------------------------------------------------
# opcheck
# --------------------------------------------------------------------------------------

INTERP_SHAPES = [
    ((5,), ()),  # a (D,), scalar t -> (D,)
    ((5,), (3,)),  # -> (T, D)
    ((4, 5), (3,)),  # -> (B, T, D)
    ((4, 5), (4, 3)),  # per-pair times
    ((4, 5), (1, 3)),  # one row of times for every pair
]


def _interp_args(method: str, dtype: torch.dtype, shapes: tuple, device: str) -> tuple:
    a_shape, t_shape = shapes
    a = _rand(*a_shape, seed=1, device=device).to(dtype).requires_grad_()
    b = _rand(*a_shape, seed=2, device=device).to(dtype).requires_grad_()
    t = torch.rand(t_shape, generator=torch.Generator().manual_seed(3), dtype=F64) * 1.4 - 0.2
    return a, b, t.to(device=device, dtype=dtype).requires_grad_(), method


# The full opcheck (its AOT-dispatch test traces the backward with dynamic shapes: seconds
# per case on a small machine) once per method, alternating dtypes and t forms ...
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("method", "dtype", "shapes"),
    [
        ("slerp", torch.float32, INTERP_SHAPES[3]),
        ("lerp", torch.float64, INTERP_SHAPES[1]),
        ("slerp_gaussian", torch.float64, INTERP_SHAPES[4]),
        ("lerp_gaussian", torch.float32, INTERP_SHAPES[2]),
    ],
    ids=str,
)
def test_opcheck_interpolate(method: str, dtype: torch.dtype, shapes: tuple, device: str) -> None:
    torch.library.opcheck(torch.ops.latentatlas.interpolate.default, _interp_args(method, dtype, shapes, device))


# ... and schema, autograd registration and fake tensor for every form of t.
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shapes", INTERP_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", METHODS)
def test_opcheck_interpolate_shapes(method: str, dtype: torch.dtype, shapes: tuple, device: str) -> None:
    torch.library.opcheck(
        torch.ops.latentatlas.interpolate.default,
        _interp_args(method, dtype, shapes, device),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "shapes",
    [((6, 5), (3, 5), (4, 3)), ((5,), (3, 5), (4, 3)), ((6, 5), (5,), (4,)), ((0, 5), (3, 5), (2, 3))],
    ids=str,
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck_offset(dtype: torch.dtype, shapes: tuple, device: str) -> None:
    z, v, al = (_rand(*s, seed=i, device=device).to(dtype).requires_grad_() for i, s in enumerate(shapes))
    torch.library.opcheck(torch.ops.latentatlas.offset.default, (z, v, al))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("shapes", [((6, 5), (3, 5)), ((5,), (3, 5)), ((6, 5), (5,))], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck_score(dtype: torch.dtype, shapes: tuple, normalize: bool, device: str) -> None:
    z, v = (_rand(*s, seed=i, device=device).to(dtype).requires_grad_() for i, s in enumerate(shapes))
    torch.library.opcheck(torch.ops.latentatlas.score.default, (z, v, normalize))


# --------------------------------------------------------------------------------------
# gradcheck, mode by mode
# --------------------------------------------------------------------------------------

T_MIXED = [0.0, 0.3, 1.0, 1.5, -0.4]  # endpoints exact, interior, extrapolation both ways


def _pair(mode: str, method: str, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(a, b, eps): a pair in ``mode`` that finite differences of size eps do not leave.

    Nearly parallel rows are lerped below 1e-7 rad and antipodal ones are those within
    1e-6 of pi: the perturbations eps must turn the directions by less than that.
    """
    gaussian = method.endswith("gaussian")
    a = _away_from_zero(shape, 11)
    if mode == "generic":
        return a, _rand(*shape, seed=12, scale=1.5), 1e-6
    if mode == "parallel":
        if not gaussian:  # |a| ~ 150: a step of 1e-6 turns it by < 1e-8
            return 60.0 * a, 120.0 * a, 1e-6
        # Phi(b) - 1/2 = 0.8 (Phi(a) - 1/2): parallel in Phi space; steps of 1e-7 turn
        # u by < 5e-8 and v by < 6e-8
        from latentatlas import _torch_impl as impl

        return a, torch.special.ndtri(0.5 + 0.8 * impl._centered_cdf(a)), 1e-7
    if mode == "antipodal":
        # slerp: b = -3a with |a| ~ 7; Gaussian: b = -a gives v = -u exactly
        return (a, -a, 1e-7) if gaussian else (3.0 * a, -9.0 * a, 1e-6)
    assert mode == "zero"
    return torch.zeros(shape, dtype=F64), _rand(*shape, seed=13), 1e-6


def _mode_of(a: torch.Tensor, b: torch.Tensor, method: str) -> list[str]:
    from latentatlas import _torch_impl as impl

    a2, b2 = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    if method.endswith("gaussian"):
        a2, b2 = impl._centered_cdf(a2), impl._centered_cdf(b2)
    geo = impl._geometry(a2, b2)
    return ["lerp" if lp else "antipodal" if ap else "slerp" for lp, ap in zip(geo.lerp.tolist(), geo.antip.tolist())]


MODES = ("generic", "parallel", "antipodal", "zero")
EXPECTED = {"generic": "slerp", "parallel": "lerp", "antipodal": "antipodal", "zero": "lerp"}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_gradcheck_interpolate(method: str, mode: str, device: str) -> None:
    a, b, eps = _pair(mode, method, (3, 5))
    assert set(_mode_of(a, b, method)) == {EXPECTED[mode]}  # the inputs exercise the mode
    t = torch.tensor([T_MIXED, T_MIXED[::-1], [0.5, 0.1, 0.9, 2.0, 0.0]], dtype=F64)
    a, b, t = a.to(device), b.to(device), t.to(device)
    # zero rows are a jump (lerp at 0, slerp next to it): no derivative w.r.t. a there
    a.requires_grad_(mode != "zero")
    b.requires_grad_()
    t.requires_grad_()
    assert torch.autograd.gradcheck(_interp(method), (a, b, t), eps=eps, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_gradcheck_interpolate_shared_and_scalar_times(method: str) -> None:
    """t of shape (T,) (and (1, T)) broadcasts over rows: its gradient sums over them."""
    a = _rand(4, 3, seed=5).requires_grad_()
    b = _rand(4, 3, seed=6).requires_grad_()
    t = torch.tensor(T_MIXED, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(_interp(method), (a, b, t))
    assert torch.autograd.gradcheck(_interp(method), (a, b, t.detach()[None].requires_grad_()))
    a1 = _rand(3, seed=7).requires_grad_()
    b1 = _rand(3, seed=8).requires_grad_()
    for tv in (0.35, 1.25):
        assert torch.autograd.gradcheck(_interp(method), (a1, b1, torch.tensor(tv, dtype=F64, requires_grad=True)))


@pytest.mark.parametrize("method", ["slerp", "slerp_gaussian"])
def test_gradcheck_slerp_small_angle_and_near_antipodal(method: str) -> None:
    """Slerp rows just outside the lerp and antipodal thresholds keep accurate gradients."""
    a = _away_from_zero((2, 4), 21)
    perp = torch.tensor([[1.0, -1.0, 0.5, 0.0]], dtype=F64)
    if method == "slerp":
        b = torch.cat([2.0 * a[:1] + 1e-4 * perp, -a[1:] + 1e-3 * perp])
    else:  # the same geometry in Phi space
        b = torch.cat([a[:1] + 1e-3 * perp, -a[1:] + 1e-2 * perp])
    assert _mode_of(a, b, method) == ["slerp", "slerp"]
    t = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.2], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(_interp(method), (a.requires_grad_(), b.requires_grad_(), t), atol=1e-6, rtol=1e-4)


def test_antipodal_endpoint_gradient_is_exact() -> None:
    """At t == 1 the output is b itself: d/db is the identity and d/da zero, even though
    the antipodal great circle ends at -|b| a/|a|, not exactly at b."""
    a = torch.tensor([3.0, -1.0, 2.0], dtype=F64, requires_grad=True)
    b = (-2.0 * a.detach() + torch.tensor([0.0, 1e-7, 0.0], dtype=F64)).requires_grad_()
    assert _mode_of(a.detach(), b.detach(), "slerp") == ["antipodal"]
    out = la.slerp(a, b, torch.tensor([1.0], dtype=F64))
    assert torch.equal(out[0], b.detach())
    ga, gb = torch.autograd.grad(out.sum(), (a, b))
    assert torch.equal(ga, torch.zeros(3, dtype=F64))
    assert torch.equal(gb, torch.ones(3, dtype=F64))


def test_gaussian_gradient_is_zero_where_clamped() -> None:
    a = torch.tensor([[0.5, -1.0]], dtype=F64, requires_grad=True)
    b = torch.tensor([[1.5, 2.0]], dtype=F64, requires_grad=True)
    t = torch.tensor([[-60.0, 0.5]], dtype=F64, requires_grad=True)  # p < 0 at t = -60
    out = torch.ops.latentatlas.interpolate(a, b, t, "lerp_gaussian")
    out[0, 0].sum().backward()
    assert torch.equal(a.grad, torch.zeros_like(a)) and torch.equal(t.grad, torch.zeros_like(t))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shapes", [((6, 5), (3, 5), (4, 3)), ((5,), (3, 5), (4, 3)), ((6, 5), (5,), (4,))], ids=str)
def test_gradcheck_offset(shapes: tuple, device: str) -> None:
    z, v, al = (_rand(*s, seed=i, device=device).requires_grad_() for i, s in enumerate(shapes))
    assert torch.autograd.gradcheck(torch.ops.latentatlas.offset, (z, v, al))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("shapes", [((6, 5), (3, 5)), ((5,), (3, 5)), ((6, 5), (5,)), ((5,), (5,))], ids=str)
def test_gradcheck_score(shapes: tuple, normalize: bool, device: str) -> None:
    z, v = (_rand(*s, seed=i, scale=1.0 + i, device=device).requires_grad_() for i, s in enumerate(shapes))
    assert torch.autograd.gradcheck(lambda x, y: torch.ops.latentatlas.score(x, y, normalize), (z, v))


def test_score_normalize_zero_rows_have_zero_gradient() -> None:
    z = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]], dtype=F64, requires_grad=True)
    v = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=F64, requires_grad=True)
    out = la.score(z, v, normalize=True)
    assert torch.equal(out.detach(), torch.tensor([[0.0, 0.0], [1.0 / 3.0, 0.0]], dtype=F64))
    gz, gv = torch.autograd.grad(out.sum(), (z, v))
    assert torch.isfinite(gz).all() and torch.isfinite(gv).all()
    assert torch.equal(gz[0], torch.zeros(3, dtype=F64)) and torch.equal(gv[1], torch.zeros(3, dtype=F64))
    # d cos / dz for z = (1, 2, 2), v = e_0: (e_0 - cos * z/|z|) / |z|
    torch.testing.assert_close(gz[1], (torch.tensor([1.0, 0, 0], dtype=F64) - (1 / 3) * z[1].detach() / 3) / 3)


# --------------------------------------------------------------------------------------
# the public layer routes grad-requiring tensors here
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_public_ops_differentiate_and_match_nograd(method: str) -> None:
    a, b = _rand(3, 4, seed=1), _rand(3, 4, seed=2)
    t = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    plain = la.interpolate(a, b, t, method)
    ar, br, tr = (x.clone().requires_grad_() for x in (a, b, t))
    graded = la.interpolate(ar, br, tr, method)
    assert graded.grad_fn is not None and torch.equal(graded.detach(), plain)
    graded.pow(2).sum().backward()
    assert ar.grad.shape == a.shape and br.grad.shape == b.shape and tr.grad.shape == t.shape
    # t as a Python float: gradients still reach a and b
    ar.grad = None
    la.interpolate(ar, b, 0.25, method).sum().backward()
    assert ar.grad is not None and torch.isfinite(ar.grad).all()


def test_public_offset_and_score_differentiate() -> None:
    z = _rand(5, 4, seed=1).requires_grad_()
    v = _rand(2, 4, seed=2)
    alphas = torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=F64, requires_grad=True)
    out = la.offset(z, v, alphas)
    assert out.shape == (5, 2, 4)
    torch.testing.assert_close(out.detach(), z.detach()[:, None] + (alphas.detach() @ v)[None])
    out.sum().backward()
    torch.testing.assert_close(z.grad, torch.full_like(z, 2.0))  # each latent appears in A = 2 outputs
    torch.testing.assert_close(alphas.grad, (5 * v.sum(dim=1)).expand(2, 2))
    s = la.score(z, v, normalize=False)
    (gv,) = torch.autograd.grad(s.sum(), (z,))
    torch.testing.assert_close(gv, v.sum(dim=0).expand(5, 4))


# --------------------------------------------------------------------------------------
# torch.compile
# --------------------------------------------------------------------------------------


# inductor's own imports raise this DeprecationWarning (torch 2.13), not our code
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_fullgraph_inductor_matches_eager() -> None:
    # Only the three ops and views: inductor has no C++ of its own to generate and build,
    # which keeps this test to seconds on a small machine.
    def walk(
        a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, v: torch.Tensor, alphas: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        path = la.slerp(a, b, t)  # (B, T, D)
        moved = la.offset(path.reshape(-1, a.shape[1]), v, alphas)  # (B*T, A, D)
        return path, moved, la.score(moved.reshape(-1, a.shape[1]), v, normalize=True)

    torch._dynamo.reset()
    a, b, v = _rand(3, 6, seed=1), _rand(3, 6, seed=2), _rand(2, 6, seed=3)
    t = torch.linspace(-0.25, 1.0, 5, dtype=F64)
    alphas = torch.tensor([[0.5, -1.0], [1.0, 0.0]], dtype=F64)
    eager = walk(a, b, t, v, alphas)
    compiled = torch.compile(walk, fullgraph=True)(a, b, t, v, alphas)
    assert [x.shape for x in compiled] == [(3, 5, 6), (15, 2, 6), (30, 2)]
    for got, want in zip(compiled, eager):
        assert torch.equal(got, want)  # the same kernels run, compiled or not


def test_compile_fullgraph_backward_matches_eager() -> None:
    # aot_eager: the same AOTAutograd forward/backward graphs as inductor, without the
    # C++ code generation of the backward formulas (slow on small CI machines)
    def loss(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        path = la.slerp_gaussian(a, b, t)
        return (la.offset(path.reshape(-1, a.shape[1]), a, alphas) ** 2).sum() + la.score(path[:, 0], b).sum()

    torch._dynamo.reset()
    a = _rand(4, 5, seed=1).to(torch.float32).requires_grad_()
    b = _rand(4, 5, seed=2).to(torch.float32).requires_grad_()
    t = torch.tensor([0.2, 0.7], requires_grad=True)
    alphas = torch.tensor([[0.1, 0.0, 0.2, 0.0], [0.0, -0.3, 0.0, 0.1]], requires_grad=True)
    args = (a, b, t, alphas)
    eager = loss(*args)
    eager_grads = torch.autograd.grad(eager, args)
    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")(*args)
    compiled_grads = torch.autograd.grad(compiled, args)
    torch.testing.assert_close(compiled, eager)
    for got, want in zip(compiled_grads, eager_grads):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------------------
# errors and fake tensors
# --------------------------------------------------------------------------------------


def test_interpolate_op_errors() -> None:
    a = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"method must be one of \['lerp', 'lerp_gaussian', 'slerp', 'slerp_gaussian'\], got 'cubic'"):
        torch.ops.latentatlas.interpolate(a, a, torch.tensor(0.5), "cubic")
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(2, 3\) and \(2, 4\)"):
        torch.ops.latentatlas.interpolate(a, torch.zeros(2, 4), torch.tensor(0.5), "slerp")
    with pytest.raises(TypeError, match=r"interpolate: b must have the dtype of a \(torch.float32\), got torch.float64"):
        torch.ops.latentatlas.interpolate(a, a.double(), torch.tensor(0.5), "slerp")
    with pytest.raises(TypeError, match=r"interpolate: t must have the dtype of a \(torch.float32\), got torch.float64"):
        torch.ops.latentatlas.interpolate(a, a, torch.tensor(0.5, dtype=F64), "lerp")
    with pytest.raises(TypeError, match=r"interpolate: a must be float32 or float64, got torch.int64"):
        torch.ops.latentatlas.interpolate(a.long(), a.long(), torch.tensor(0), "lerp")
    with pytest.raises(ValueError, match=r"t must be a float, \(T,\) or \(B, T\) with B = 2, got shape \(3, 2\)"):
        torch.ops.latentatlas.interpolate(a, a, torch.zeros(3, 2), "lerp")
    with pytest.raises(ValueError, match=r"a contains NaN or Inf"):
        torch.ops.latentatlas.interpolate(torch.full((2, 3), math.nan), a, torch.tensor(0.5), "slerp")


def test_offset_and_score_op_errors() -> None:
    with pytest.raises(ValueError, match=r"alphas must be \(A, K\) with K = 2 vectors, got shape \(3, 3\)"):
        torch.ops.latentatlas.offset(torch.zeros(4, 5), torch.zeros(2, 5), torch.zeros(3, 3))
    with pytest.raises(TypeError, match=r"offset: alphas must have the dtype of z \(torch.float32\), got torch.float64"):
        torch.ops.latentatlas.offset(torch.zeros(4, 5), torch.zeros(2, 5), torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"vectors must have the latent size of z \(5\), got shapes \(2, 4\) and \(4, 5\)"):
        torch.ops.latentatlas.score(torch.zeros(4, 5), torch.zeros(2, 4), False)
    with pytest.raises(TypeError, match=r"score: vectors must have the dtype of z \(torch.float64\), got torch.float32"):
        torch.ops.latentatlas.score(torch.zeros(4, 5, dtype=F64), torch.zeros(2, 5), True)


def test_fake_kernels_on_meta_tensors() -> None:
    """Shape inference without data (what torch.compile sees), with the real op's errors."""
    meta = {"device": "meta", "dtype": torch.float32}
    a = torch.empty(4, 5, **meta)
    assert torch.ops.latentatlas.interpolate(a, a, torch.empty(3, **meta), "slerp").shape == (4, 3, 5)
    assert torch.ops.latentatlas.interpolate(a[0], a[0], torch.empty((), **meta), "lerp").shape == (5,)
    assert torch.ops.latentatlas.offset(a, torch.empty(2, 5, **meta), torch.empty(7, 2, **meta)).shape == (4, 7, 5)
    assert torch.ops.latentatlas.score(a, torch.empty(2, 5, **meta), True).shape == (4, 2)
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(4, 5\) and \(4, 6\)"):
        torch.ops.latentatlas.interpolate(a, torch.empty(4, 6, **meta), torch.empty(3, **meta), "slerp")
    with pytest.raises(ValueError, match=r"method must be one of .*, got 'slurp'"):
        torch.ops.latentatlas.interpolate(a, a, torch.empty(3, **meta), "slurp")
    with pytest.raises(TypeError, match=r"interpolate: t must have the dtype of a"):
        torch.ops.latentatlas.interpolate(a, a, torch.empty(3, device="meta", dtype=F64), "slerp")
    with pytest.raises(ValueError, match=r"alphas must be \(A, K\) with K = 2 vectors, got shape \(7, 3\)"):
        torch.ops.latentatlas.offset(a, torch.empty(2, 5, **meta), torch.empty(7, 3, **meta))
