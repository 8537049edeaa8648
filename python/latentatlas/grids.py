"""Latent grids: interpolation grids, analogies and J-Diagrams, anchor grids and MINE grids
(section 2 of "Sampling Generative Networks").

Every grid is built with the batched native interpolation ops (:func:`latentatlas.interpolate`
on whole edges and rows at once, never one Python call per cell), accepts numpy arrays or
torch tensors and returns the same kind and dtype, shaped ``(rows, cols, D)`` — or
``(rows, cols, *S)`` for latents of any shape ``S`` (a diffusion VAE's ``(4, h, w)``): each
latent is one vector of ``prod(S)`` numbers, as in the ops. Decode a grid
with :func:`latentatlas.sampling.decode_batched` and lay it out with
:func:`latentatlas.render.image_sheet`; :mod:`latentatlas.sheets` does both for the
paper's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import ops
from ._arrays import check_data, check_int as _check_int, finite_floats, kind_of, torch_module
from ._contract import method_name

__all__ = ["interpolation_grid", "analogy", "j_diagram", "anchor_grid", "interpolation_strips",
           "MineGrid", "mine_layout", "mine_grid"]

Array = Any  # numpy.ndarray or torch.Tensor


# ----------------------------------------------------------------------------- helpers


def _check_latents(pairs: Sequence[tuple[str, Array]], ndim: int) -> str:
    """Checks kind/dtype (shared), shape rank (at least ``ndim``: the leading axes, then
    one latent of any shape) and finiteness; returns the kind."""
    kind = check_data(list(pairs))
    for name, x in pairs:
        if x.ndim < ndim:
            want = "(D,)" if ndim == 1 else ("(K, D)" if ndim == 2 else f"{ndim}-D")
            raise ValueError(f"{name} must be {want} (or with a latent of any shape S in place of D), "
                             f"got shape {tuple(x.shape)}")
        if 0 in tuple(x.shape)[ndim - 1:]:
            raise ValueError(f"{name} has latent size 0 (shape {tuple(x.shape)})")
        finite = np.isfinite(x).all() if kind == "numpy" else bool(x.isfinite().all())
        if not finite:
            raise ValueError(f"{name} contains NaN or Inf")
    return kind


def _cat(parts: Sequence[Array], axis: int, kind: str) -> Array:
    if kind == "numpy":
        return np.concatenate(parts, axis=axis)
    return torch_module().cat(list(parts), dim=axis)


def _stack(parts: Sequence[Array], kind: str) -> Array:
    if kind == "numpy":
        return np.stack(parts)
    return torch_module().stack(list(parts))


def _permute(x: Array, dims: tuple[int, ...], kind: str) -> Array:
    return x.transpose(*dims) if kind == "numpy" else x.permute(*dims)


def _times(n: int) -> list[float]:
    """n evenly spaced times from 0 to 1 inclusive ([0.0] for n = 1)."""
    return [0.0] if n == 1 else [i / (n - 1) for i in range(n)]


# ----------------------------------------------------------------------------- analogy


def analogy(a: Array, b: Array, c: Array) -> Array:
    """Solves the analogy ``A : B :: C : ?`` as ``b + c − a`` (equally ``A : C :: B : ?``).

    Args:
        a, b, c: latents of one shape, ``(D,)`` or ``(N, D)`` (N analogies at once), or
            latents of any shape; all numpy or all torch, one float dtype.

    Returns:
        ``b + c − a`` (computed as ``(b − a) + c``), same kind, shape and dtype.

    Raises:
        TypeError: mixed kinds or dtypes, non-float dtype.
        ValueError: shapes differ, are 0-D, or contain NaN/Inf.
    """
    check_data([("a", a), ("b", b), ("c", c)])
    shapes = {name: tuple(x.shape) for name, x in (("a", a), ("b", b), ("c", c))}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"a, b and c must have the same shape, got {shapes['a']}, {shapes['b']} and {shapes['c']}")
    if a.ndim == 0:
        raise ValueError(f"a, b and c must be (D,), (N, D) or latents of any shape, got shape {shapes['a']}")
    _check_latents([("a", a), ("b", b), ("c", c)], 1)
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
        anchors: ``(K, D)`` (or ``(K, *S)``) with K in {2, 3, 4}; numpy or torch, float32/float64.
        rows, cols: grid size, each >= 1.
        method: ``"slerp"`` (default), ``"lerp"``, ``"slerp_gaussian"`` or ``"lerp_gaussian"``.

    Returns:
        ``(rows, cols, D)`` (or ``(rows, cols, *S)``) latents, same kind and dtype as ``anchors``.

    Raises:
        ValueError: anchors not ``(K, D)``/``(K, *S)`` with K in {2, 3, 4}, NaN/Inf, bad sizes or method.
        TypeError: non-float dtype, not an array/tensor, non-int sizes.
    """
    rows = _check_int("rows", rows, 1)
    cols = _check_int("cols", cols, 1)
    method = method_name(method)
    kind = _check_latents([("anchors", anchors)], 2)
    k, shape = int(anchors.shape[0]), tuple(anchors.shape[1:])
    if k not in (2, 3, 4):
        raise ValueError(f"anchors must hold 2, 3 or 4 latents, got {k} (shape {tuple(anchors.shape)})")
    if k == 2:
        walk = ops.interpolate(anchors[0:1], anchors[1:2], _times(rows * cols), method)
        return walk.reshape(rows, cols, *shape)
    if k == 3:
        bottom_right = analogy(anchors[0], anchors[1], anchors[2])
        anchors = _cat([anchors, bottom_right.reshape(1, *shape)], 0, kind)
    # edges[0]: top-left -> bottom-left, edges[1]: top-right -> bottom-right, each (rows, *S)
    edges = ops.interpolate(anchors[0:2], anchors[2:4], _times(rows), method)
    # each row's ends as a batch of `rows` latents (kept 2-D for a flat latent of one row)
    left, right = edges[0].reshape(rows, *shape), edges[1].reshape(rows, *shape)
    return ops.interpolate(left, right, _times(cols), method).reshape(rows, cols, *shape)


def j_diagram(a: Array, b: Array, c: Array, rows: int, cols: int, *, method: str = "slerp") -> Array:
    """The J-Diagram's latent grid (Figure 3 of the paper).

    Source ``a`` at the top left, analogy targets ``b`` top right and ``c`` bottom left,
    ``(b + c) − a`` at the bottom right, every other cell interpolated (slerp by default)
    as in :func:`interpolation_grid`. Deterministic in its inputs.

    Args:
        a, b, c: ``(D,)`` latents, or latents of any one shape ``S`` (e.g. encodings of
            the first three validation images).
        rows, cols: grid size, each >= 2 so that the four corners are distinct cells.
        method: interpolation method (see :func:`interpolation_grid`).

    Returns:
        ``(rows, cols, D)`` (or ``(rows, cols, *S)``) latents, same kind and dtype as ``a``.
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
        anchors: ``(AR, AC, D)`` (or ``(AR, AC, *S)``) anchor latents.
        spacing: cells from one anchor to the next (>= 1; 1 returns the anchors).
        method: interpolation method.

    Returns:
        ``((AR − 1)·spacing + 1, (AC − 1)·spacing + 1, D)`` latents with the anchors exactly
        at their cells; same kind and dtype as ``anchors``.
    """
    spacing = _check_int("spacing", spacing, 1)
    method = method_name(method)
    kind = _check_latents([("anchors", anchors)], 3)
    ar, ac = (int(s) for s in anchors.shape[:2])
    shape = tuple(int(s) for s in anchors.shape[2:])
    d = int(np.prod(shape))
    if ar == 0 or ac == 0:
        raise ValueError(f"anchors must hold at least one anchor, got shape {tuple(anchors.shape)}")
    t = [i / spacing for i in range(spacing)]  # starts at 0: each segment includes its left anchor
    cols = (ac - 1) * spacing + 1
    # The segments run on the flattened latents (N, prod(S)): the same vectors as the ops' (N, *S).
    if ac > 1:
        seg = ops.interpolate(anchors[:, :-1].reshape(-1, d), anchors[:, 1:].reshape(-1, d), t, method)
        rows_full = _cat([seg.reshape(ar, (ac - 1) * spacing, *shape), anchors[:, -1:]], 1, kind)
    else:
        rows_full = anchors
    if ar == 1:
        return rows_full
    seg = ops.interpolate(rows_full[:-1].reshape(-1, d), rows_full[1:].reshape(-1, d), t, method)
    seg = _permute(seg.reshape(ar - 1, cols, spacing, d), (0, 2, 1, 3), kind).reshape((ar - 1) * spacing, cols, *shape)
    return _cat([seg, rows_full[-1:]], 0, kind)


def interpolation_strips(a: Array, b: Array, steps: int,
                         methods: Sequence[str] = ("lerp", "slerp")) -> Array:
    """The same walks with several methods, for side-by-side comparison (Figure 2).

    Args:
        a, b: ``(P, D)`` (or ``(P, *S)``) start and end latents (P pairs), or ``(D,)`` for one pair.
        steps: cells per walk (>= 2), endpoints included.
        methods: interpolation methods, one strip per method and pair.

    Returns:
        ``(P·len(methods), steps, D)`` (or ``(…, steps, *S)``): for each pair, its strips in
        ``methods`` order (``(len(methods), steps, D)`` for 1-D inputs).
    """
    steps = _check_int("steps", steps, 2)
    if isinstance(methods, str) or len(methods) == 0:
        raise ValueError(f"methods must be a non-empty sequence of method names, got {methods!r}")
    names = [method_name(m) for m in methods]
    kind = check_data([("a", a), ("b", b)])
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    one = a.ndim == 1
    _check_latents([("a", a), ("b", b)], 1 if one else 2)
    a2, b2 = (a.reshape(1, -1), b.reshape(1, -1)) if one else (a, b)
    pairs, shape = int(a2.shape[0]), tuple(int(s) for s in a2.shape[1:])
    d = int(np.prod(shape))
    t = _times(steps)
    # (M, P, steps, D) on the flattened latents, then back to the latent shape
    strips = _stack([ops.interpolate(a2.reshape(pairs, d), b2.reshape(pairs, d), t, m) for m in names], kind)
    return _permute(strips, (1, 0, 2, 3), kind).reshape(pairs * len(names), steps, *shape)


# ----------------------------------------------------------------------------- MINE grids


@dataclass(frozen=True)
class MineGrid:
    """A Manifold Interpolated Neighbor Embedding grid (:func:`mine_grid`).

    Attributes:
        latents: ``(rows, cols, D)`` grid latents, same kind and dtype as the data set's.
        anchor_ids: ``(AR, AC)`` int64 row numbers (in the data set) of the neighbour at
            each anchor cell; anchor ``(i, j)`` sits on cell ``(i·spacing, j·spacing)``.
        anchor_distances: ``(AR, AC)`` float32 distance of each anchor to the seed (in the
            search space's convention, see :mod:`latentatlas.neighbors`).
        spacing: cells between anchors.
    """

    latents: Any
    anchor_ids: np.ndarray
    anchor_distances: np.ndarray
    spacing: int

    def anchor_mask(self) -> np.ndarray:
        """``(rows, cols)`` bool, True on the anchor cells (actual encodings)."""
        mask = np.zeros(tuple(self.latents.shape[:2]), dtype=bool)
        mask[::self.spacing, ::self.spacing] = True
        return mask


def mine_layout(points: Array, rows: int, cols: int, *, space: str = "cosine") -> np.ndarray:
    """Assigns ``rows·cols`` points to the cells of a grid so that points close in latent
    space land in nearby cells.

    The points (unit-normalised first for ``space="cosine"``) are embedded in 2-D by PCA;
    the axis of larger variance goes along the longer side of the grid (rows for a tall
    grid, columns otherwise), and component signs are fixed (largest loading positive) so
    the layout is deterministic. Both embedding axes are standardised to the spread of the
    cell coordinates, and an optimal assignment (Hungarian algorithm, minimum total
    squared distance between embedded points and cell centres) puts one point per cell.

    Args:
        points: ``(rows·cols, D)`` latents.
        rows, cols: grid size.
        space: ``"cosine"``, ``"l2"`` or ``"ip"`` (only cosine changes the embedding).

    Returns:
        ``(rows, cols)`` int64: the index (into ``points``) of the point in each cell.
    """
    from scipy.optimize import linear_sum_assignment

    from .neighbors import SPACES

    rows = _check_int("rows", rows, 1)
    cols = _check_int("cols", cols, 1)
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    x = finite_floats(points, "points").astype(np.float64)
    if x.ndim != 2 or x.shape[0] != rows * cols or x.shape[1] == 0:
        raise ValueError(f"points must be (rows*cols, D) = ({rows * cols}, D), got shape {x.shape}")
    if space == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms == 0, 1.0, norms)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = np.zeros((2, x.shape[1]))
    comps[:min(2, vt.shape[0])] = vt[:2]
    for c in comps:  # deterministic signs: the largest loading positive
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    emb = x @ comps.T  # (K, 2), major axis first
    cells = np.stack(np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64),
                                 indexing="ij"), axis=-1).reshape(-1, 2)  # (K, 2) as (row, col)
    major, minor = (0, 1) if rows > cols else (1, 0)
    target = np.empty_like(emb)
    for axis, cell_axis in ((0, major), (1, minor)):
        e, c = emb[:, axis], cells[:, cell_axis]
        spread = e.std()
        target[:, cell_axis] = (e - e.mean()) / spread * c.std() + c.mean() if spread > 1e-12 else c.mean()
    cost = ((target[:, None, :] - cells[None, :, :]) ** 2).sum(-1)
    point_idx, cell_idx = linear_sum_assignment(cost)
    layout = np.empty(rows * cols, dtype=np.int64)
    layout[cell_idx] = point_idx
    return layout.reshape(rows, cols)


def _allowed_rows(where: Any, n: int) -> np.ndarray:
    """The row numbers a ``where`` (an ``(n,)`` boolean mask or row numbers) allows, checked."""
    w = np.asarray(where)
    if w.dtype == np.bool_:
        if w.shape != (n,):
            raise ValueError(f"where must be a ({n},) mask over the rows of latents, got shape {w.shape}")
        return np.flatnonzero(w)
    if w.ndim != 1 or not (np.issubdtype(w.dtype, np.integer) or w.size == 0):
        raise ValueError(f"where must be a boolean mask or 1-D row numbers, got {w.dtype} of shape {w.shape}")
    rows = np.unique(w.astype(np.int64))
    if rows.size and (rows[0] < 0 or rows[-1] >= n):
        raise ValueError(f"where holds row numbers outside 0..{n - 1}")
    return rows


def mine_grid(seed: Array, latents: Array, rows: int, cols: int, *, spacing: int = 1, method: str = "slerp",
              space: str = "cosine", index: Any = None, ef: int | None = None, where: Any = None) -> MineGrid:
    """A MINE grid (Figure 5 of the paper): the nearest neighbours of a seed latent in a set
    of encoded out-of-sample data, laid out on a grid so that latent neighbours are grid
    neighbours (:func:`mine_layout`), then spread with interpolation between anchor cells
    every ``spacing`` cells (:func:`anchor_grid`).

    With ``spacing=1`` every cell is an actual encoding (Figure 5a); with ``spacing=s`` the
    ``AR × AC = ((rows−1)/s + 1) × ((cols−1)/s + 1)`` nearest neighbours sit on the anchor
    cells and the cells between them are interpolated (Figure 5b).

    Args:
        seed: ``(D,)`` latent to centre the patch on (e.g. the encoding of one image).
        latents: ``(N, D)`` encoded data set, numpy or torch (the result follows its kind
            and dtype); ``N >= AR·AC``. Latents of any shape ``(N, *S)`` (with a seed of
            shape ``S``) are searched as flattened vectors.
        rows, cols: grid size; ``rows − 1`` and ``cols − 1`` must be multiples of ``spacing``.
        spacing: cells from anchor to anchor (>= 1).
        method: interpolation between anchors (slerp by default).
        space: neighbour space, ``"cosine"`` (default), ``"l2"`` or ``"ip"``.
        index: optional :class:`~latentatlas.neighbors.NeighborIndex` built over ``latents``
            with the default ids (row numbers); without one the search is exact.
        ef: HNSW search breadth when ``index`` is given (default: the index's calibrated one).
        where: only these rows of ``latents`` may be neighbours (e.g. the "smiling" or
            "digit 3" encodings): an ``(N,)`` boolean mask or an array of row numbers.

    Returns:
        A :class:`MineGrid`.

    Raises:
        ValueError: sizes not compatible with ``spacing``, too few latents, NaN/Inf, a seed
            or index of the wrong dimension, an index of another size or space, a ``where``
            that is not a mask or rows of ``latents`` or allows fewer rows than the grid needs.
    """
    from .neighbors import NeighborIndex, exact_search

    rows = _check_int("rows", rows, 1)
    cols = _check_int("cols", cols, 1)
    spacing = _check_int("spacing", spacing, 1)
    method = method_name(method)
    for name, size in (("rows", rows), ("cols", cols)):
        if (size - 1) % spacing:
            below = (size - 1) // spacing * spacing + 1
            raise ValueError(f"{name} - 1 must be a multiple of spacing = {spacing}, got {name} = {size} "
                             f"(try {below} or {below + spacing})")
    ar, ac = (rows - 1) // spacing + 1, (cols - 1) // spacing + 1
    data = finite_floats(latents, "latents")
    if data.ndim < 2 or 0 in data.shape[1:]:
        raise ValueError(f"latents must be (N, D) or (N, *S), got shape {data.shape}")
    shape = tuple(data.shape[1:])
    data = data.reshape(data.shape[0], -1)  # neighbours on the flattened latents
    n, d = data.shape
    if n < ar * ac:
        raise ValueError(f"a {rows}x{cols} MINE grid with spacing {spacing} needs {ar * ac} neighbours, "
                         f"but latents has only {n}")
    q = finite_floats(seed, "seed")
    if q.shape != shape:
        raise ValueError(f"seed must be a {shape} latent like the rows of latents, got shape {q.shape}")
    q = q.reshape(d)
    allowed = None if where is None else _allowed_rows(where, n)
    if allowed is not None and allowed.size < ar * ac:
        raise ValueError(f"a {rows}x{cols} MINE grid with spacing {spacing} needs {ar * ac} neighbours, "
                         f"but where allows only {allowed.size} rows")
    if index is None:
        ids, dist = (exact_search(data, q, ar * ac, space) if allowed is None
                     else exact_search(data[allowed], q, ar * ac, space, ids=allowed))
    else:
        if not isinstance(index, NeighborIndex):
            raise TypeError(f"index must be a NeighborIndex, got {type(index).__name__}")
        if len(index) != n or index.dim != d or index.space != space:
            raise ValueError(f"index must be built over latents ({n} vectors of dim {d}, space {space!r}), "
                             f"got {len(index)} of dim {index.dim}, space {index.space!r}")
        ids, dist = index.query(q, ar * ac, ef=ef, where=allowed)
        if ids.max() >= n:
            raise ValueError("index ids must be the row numbers of latents (build it with the default ids)")
    ids, dist = ids[0], dist[0]
    layout = mine_layout(data[ids], ar, ac, space=space)
    anchor_ids = ids[layout]
    if kind_of("latents", latents) == "numpy":
        anchors = latents[anchor_ids]
    else:
        anchors = latents[torch_module().as_tensor(anchor_ids, device=latents.device)]
    return MineGrid(latents=anchor_grid(anchors, spacing, method=method), anchor_ids=anchor_ids,
                    anchor_distances=dist[layout].astype(np.float32), spacing=spacing)
