"""Latent grids: interpolation grids, analogies and J-Diagrams, anchor grids and MINE grids
(section 2 of "Sampling Generative Networks").

Every grid is built with the batched native interpolation ops (:func:`latentatlas.interpolate`
on whole edges and rows at once, never one Python call per cell), accepts numpy arrays or
torch tensors and returns the same kind and dtype, shaped ``(rows, cols, D)``. Decode a grid
with :func:`latentatlas.sampling.decode_batched` and lay it out with
:func:`latentatlas.render.image_sheet`; :mod:`latentatlas.sheets` does both for the
paper's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import ops
from ._validate import check_int as _check_int

__all__ = ["interpolation_grid", "analogy", "j_diagram", "anchor_grid", "interpolation_strips"]

Array = Any  # numpy.ndarray or torch.Tensor


# ----------------------------------------------------------------------------- helpers


def _check_method(method: Any) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    name = method.replace("-", "_")
    if name not in ops.METHODS:
        raise ValueError(f"method must be one of {sorted(ops.METHODS)}, got {method!r}")
    return name


def _check_latents(pairs: Sequence[tuple[str, Array]], ndim: int) -> str:
    """Checks kind/dtype (shared), shape rank and finiteness; returns the kind."""
    kind = ops._check_data(list(pairs))
    for name, x in pairs:
        if x.ndim != ndim:
            want = "(D,)" if ndim == 1 else ("(K, D)" if ndim == 2 else f"{ndim}-D")
            raise ValueError(f"{name} must be {want}, got shape {tuple(x.shape)}")
        if x.shape[-1] == 0:
            raise ValueError(f"{name} has latent size 0")
        finite = np.isfinite(x).all() if kind == "numpy" else bool(x.isfinite().all())
        if not finite:
            raise ValueError(f"{name} contains NaN or Inf")
    return kind


def _cat(parts: Sequence[Array], axis: int, kind: str) -> Array:
    if kind == "numpy":
        return np.concatenate(parts, axis=axis)
    return ops._torch().cat(list(parts), dim=axis)


def _stack(parts: Sequence[Array], kind: str) -> Array:
    if kind == "numpy":
        return np.stack(parts)
    return ops._torch().stack(list(parts))


def _permute(x: Array, dims: tuple[int, ...], kind: str) -> Array:
    return x.transpose(*dims) if kind == "numpy" else x.permute(*dims)


def _times(n: int) -> list[float]:
    """n evenly spaced times from 0 to 1 inclusive ([0.0] for n = 1)."""
    return [0.0] if n == 1 else [i / (n - 1) for i in range(n)]


# ----------------------------------------------------------------------------- analogy


def analogy(a: Array, b: Array, c: Array) -> Array:
    """Solves the analogy ``A : B :: C : ?`` as ``b + c − a`` (equally ``A : C :: B : ?``).

    Args:
        a, b, c: latents of one shape, ``(D,)`` or ``(N, D)`` (N analogies at once), all
            numpy or all torch, one float dtype.

    Returns:
        ``b + c − a`` (computed as ``(b − a) + c``), same kind, shape and dtype.

    Raises:
        TypeError: mixed kinds or dtypes, non-float dtype.
        ValueError: shapes differ, are not 1-D/2-D, or contain NaN/Inf.
    """
    ops._check_data([("a", a), ("b", b), ("c", c)])
    shapes = {name: tuple(x.shape) for name, x in (("a", a), ("b", b), ("c", c))}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"a, b and c must have the same shape, got {shapes['a']}, {shapes['b']} and {shapes['c']}")
    _check_latents([("a", a), ("b", b), ("c", c)], a.ndim if a.ndim in (1, 2) else 1)
    return (b - a) + c


# ----------------------------------------------------------------------------- grids


def interpolation_grid(anchors: Array, rows: int, cols: int, *, method: str = "slerp") -> Array:
    """A ``rows × cols`` latent grid spanned by 2, 3 or 4 anchor latents.

    - 2 anchors ``(a, b)``: a walk from ``a`` to ``b`` over all ``rows·cols`` cells in
      reading order, at evenly spaced times (``rows=1`` gives the classic strip).
    - 4 anchors ``(top_left, top_right, bottom_left, bottom_right)``: the left and right
      edges are interpolated from the top to the bottom corners (one batched call for
      both), then every row from its left to its right edge cell (one call for all rows):
      cell ``(r, c) = I(I(TL, BL, r/(rows−1)), I(TR, BR, r/(rows−1)), c/(cols−1))``.
    - 3 anchors ``(top_left, top_right, bottom_left)``: as 4 with the bottom-right corner
      the analogy ``top_right + bottom_left − top_left`` (a J-Diagram).

    Corners are the anchors exactly (interpolation endpoints are exact).

    Args:
        anchors: ``(K, D)`` with K in {2, 3, 4}; numpy or torch, float32/float64.
        rows, cols: grid size, each >= 1.
        method: ``"slerp"`` (default), ``"lerp"``, ``"slerp_gaussian"`` or ``"lerp_gaussian"``.

    Returns:
        ``(rows, cols, D)`` latents, same kind and dtype as ``anchors``.

    Raises:
        ValueError: anchors not ``(K, D)`` with K in {2, 3, 4}, NaN/Inf, bad sizes or method.
        TypeError: non-float dtype, not an array/tensor, non-int sizes.
    """
    rows = _check_int("rows", rows, 1)
    cols = _check_int("cols", cols, 1)
    method = _check_method(method)
    kind = _check_latents([("anchors", anchors)], 2)
    k, d = anchors.shape
    if k not in (2, 3, 4):
        raise ValueError(f"anchors must hold 2, 3 or 4 latents, got {k} (shape {tuple(anchors.shape)})")
    if k == 2:
        walk = ops.interpolate(anchors[0:1], anchors[1:2], _times(rows * cols), method)
        return walk.reshape(rows, cols, d)
    if k == 3:
        bottom_right = analogy(anchors[0], anchors[1], anchors[2])
        anchors = _cat([anchors, bottom_right.reshape(1, d)], 0, kind)
    # edges[0]: top-left -> bottom-left, edges[1]: top-right -> bottom-right, each (rows, D)
    edges = ops.interpolate(anchors[0:2], anchors[2:4], _times(rows), method)
    return ops.interpolate(edges[0], edges[1], _times(cols), method)


def j_diagram(a: Array, b: Array, c: Array, rows: int, cols: int, *, method: str = "slerp") -> Array:
    """The J-Diagram's latent grid (Figure 3 of the paper).

    Source ``a`` at the top left, analogy targets ``b`` top right and ``c`` bottom left,
    ``(b + c) − a`` at the bottom right, every other cell interpolated (slerp by default)
    as in :func:`interpolation_grid`. Deterministic in its inputs.

    Args:
        a, b, c: ``(D,)`` latents (e.g. encodings of the first three validation images).
        rows, cols: grid size, each >= 2 so that the four corners are distinct cells.
        method: interpolation method (see :func:`interpolation_grid`).

    Returns:
        ``(rows, cols, D)`` latents, same kind and dtype as ``a``.
    """
    rows = _check_int("rows", rows, 2)
    cols = _check_int("cols", cols, 2)
    kind = _check_latents([("a", a), ("b", b), ("c", c)], 1)
    if not a.shape == b.shape == c.shape:
        raise ValueError(f"a, b and c must have the same shape, got {tuple(a.shape)}, {tuple(b.shape)} "
                         f"and {tuple(c.shape)}")
    return interpolation_grid(_stack([a, b, c], kind), rows, cols, method=method)


def anchor_grid(anchors: Array, spacing: int, *, method: str = "slerp") -> Array:
    """The paper library's anchor grid: anchors every ``spacing`` cells, slerp between.

    Anchor ``(i, j)`` lands on cell ``(i·spacing, j·spacing)``. The anchor rows are filled
    first (each horizontal anchor pair interpolated at ``t = 1/spacing, …``, all pairs in one
    batched call), then every column between two anchor rows (one call for all of them).

    Args:
        anchors: ``(AR, AC, D)`` anchor latents.
        spacing: cells from one anchor to the next (>= 1; 1 returns the anchors).
        method: interpolation method.

    Returns:
        ``((AR − 1)·spacing + 1, (AC − 1)·spacing + 1, D)`` latents with the anchors exactly
        at their cells; same kind and dtype as ``anchors``.
    """
    spacing = _check_int("spacing", spacing, 1)
    method = _check_method(method)
    kind = _check_latents([("anchors", anchors)], 3)
    ar, ac, d = (int(s) for s in anchors.shape)
    if ar == 0 or ac == 0:
        raise ValueError(f"anchors must hold at least one anchor, got shape {tuple(anchors.shape)}")
    t = [i / spacing for i in range(spacing)]  # starts at 0: each segment includes its left anchor
    cols = (ac - 1) * spacing + 1
    if ac > 1:
        seg = ops.interpolate(anchors[:, :-1].reshape(-1, d), anchors[:, 1:].reshape(-1, d), t, method)
        rows_full = _cat([seg.reshape(ar, (ac - 1) * spacing, d), anchors[:, -1:]], 1, kind)
    else:
        rows_full = anchors
    if ar == 1:
        return rows_full
    seg = ops.interpolate(rows_full[:-1].reshape(-1, d), rows_full[1:].reshape(-1, d), t, method)
    seg = _permute(seg.reshape(ar - 1, cols, spacing, d), (0, 2, 1, 3), kind).reshape((ar - 1) * spacing, cols, d)
    return _cat([seg, rows_full[-1:]], 0, kind)


def interpolation_strips(a: Array, b: Array, steps: int,
                         methods: Sequence[str] = ("lerp", "slerp")) -> Array:
    """The same walks with several methods, for side-by-side comparison (Figure 2).

    Args:
        a, b: ``(P, D)`` start and end latents (P pairs), or ``(D,)`` for one pair.
        steps: cells per walk (>= 2), endpoints included.
        methods: interpolation methods, one strip per method and pair.

    Returns:
        ``(P·len(methods), steps, D)``: for each pair, its strips in ``methods`` order
        (``(len(methods), steps, D)`` for 1-D inputs).
    """
    steps = _check_int("steps", steps, 2)
    if isinstance(methods, str) or len(methods) == 0:
        raise ValueError(f"methods must be a non-empty sequence of method names, got {methods!r}")
    names = [_check_method(m) for m in methods]
    kind = ops._check_data([("a", a), ("b", b)])
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    one = a.ndim == 1
    _check_latents([("a", a), ("b", b)], 1 if one else 2)
    a2, b2 = (a.reshape(1, -1), b.reshape(1, -1)) if one else (a, b)
    pairs, d = int(a2.shape[0]), int(a2.shape[1])
    t = _times(steps)
    strips = _stack([ops.interpolate(a2, b2, t, m) for m in names], kind)  # (M, P, steps, D)
    return _permute(strips, (1, 0, 2, 3), kind).reshape(pairs * len(names), steps, d)
