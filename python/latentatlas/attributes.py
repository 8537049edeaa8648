"""Attribute vectors in latent space (section 3 of the paper and the blog post).

- :func:`mean_difference`: the mean of the latents with an attribute minus the mean of
  those without, for every attribute of a label matrix in one pass (streaming over chunks
  of a latent store that need not fit in memory).
- :func:`balanced`: bias-corrected vectors by replication (§3.1): the latents are split
  into the 2ⁿ cells of n chosen attributes, each cell is replicated up to the size of the
  largest, and each attribute's vector is taken over the balanced set, so the other
  attributes are equally represented on both of its sides.
- :func:`synthetic`: vectors from data augmentation (§3.2): encode images and the same
  images augmented (blur, brightness, noise or any callable), difference of the means.
- :func:`decouple`: the orthogonal-projection alternative later work uses: remove from
  each vector its component in the span of the others.
- :func:`centroid_vectors`: the blog's class-centroid vectors for all pairs of classes.
- :func:`traverse`, :func:`attribute_grid`, :func:`edit`: apply vectors with the native
  ``offset`` kernel (Figures 6 and 8, "edit this image").

Latents of any shape ``(N, *S)`` (a diffusion VAE's ``(4, h, w)``) are read as flat
vectors of ``prod(S)`` numbers, and the vectors come back shaped ``(K, *S)``.

Class sums run on the native ``score`` kernel in float64: for a chunk ``Z`` (n, D) and
weights ``W`` (K, n) it computes ``W @ Z`` as ``score(W, Zᵀ)``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable, Iterable, Sequence, Union

import numpy as np

from . import ops
from ._arrays import as_numpy, check_images, check_int, is_int, is_number, is_tensor

__all__ = [
    "mean_difference",
    "balance_weights",
    "balanced",
    "synthetic",
    "gaussian_blur",
    "adjust_brightness",
    "add_noise",
    "decouple",
    "centroid_vectors",
    "traverse",
    "attribute_grid",
    "edit",
]

Chunks = Iterable[tuple[Any, Any]]
Attr = Union[int, str]


def _as_float_matrix(x: Any, name: str) -> np.ndarray:
    """``(N, D)`` as given; ``(N, *S)`` flattened to ``(N, prod(S))`` (a view when contiguous)."""
    arr = as_numpy(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"{name} must be 2-D (N, D) or (N, *S), got shape {arr.shape}")
    return arr if arr.ndim == 2 else arr.reshape(arr.shape[0], -1)


def _shaped(vectors: np.ndarray, latents: Any) -> np.ndarray:
    """``(K, D)`` vectors reshaped to ``(K, *S)`` for latents ``(N, *S)`` (unchanged for flat latents)."""
    shape = tuple(latents.shape if hasattr(latents, "shape") else np.shape(latents))[1:]
    return vectors if len(shape) <= 1 else vectors.reshape(vectors.shape[0], *shape)


def _as_labels(y: Any, n: int, name: str = "labels") -> np.ndarray:
    arr = as_numpy(y)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (N,) or (N, K), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have one row per latent ({n}), got {arr.shape[0]}")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be 0/1 values, got dtype {arr.dtype}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    return arr.astype(np.float64)


def _weighted_sums(weights: np.ndarray, latents: np.ndarray) -> np.ndarray:
    """``weights (K, n) @ latents (n, D)`` in float64 on the native score kernel."""
    z = latents.astype(np.float64, copy=False)
    if not np.isfinite(z).all():
        raise ValueError("latents contain NaN or Inf")
    return ops.score(np.ascontiguousarray(weights, dtype=np.float64), np.ascontiguousarray(z.T))


def _chunks(latents: Any, labels: Any, chunk_size: int) -> Iterable[tuple[np.ndarray, Any]]:
    if labels is None:
        if isinstance(latents, np.ndarray) or is_tensor(latents):
            raise TypeError("labels are required unless latents is an iterable of (latents, labels) chunks")
        yield from latents
        return
    chunk_size = check_int("chunk_size", chunk_size, 1)
    z = _as_float_matrix(latents, "latents")
    for start in range(0, max(z.shape[0], 1), chunk_size):
        yield z[start:start + chunk_size], labels[start:start + chunk_size]


def _names(label_names: Sequence[str] | None, K: int) -> list[str]:
    if label_names is None:
        return [str(k) for k in range(K)]
    names = list(label_names)
    if len(names) != K:
        raise ValueError(f"label_names must name the {K} label columns, got {len(names)} names")
    return names


def mean_difference(latents: Any, labels: Any = None, *, label_names: Sequence[str] | None = None,
                    chunk_size: int = 65536) -> np.ndarray:
    """Attribute vectors by mean difference: ``mean(z | y_k = 1) − mean(z | y_k = 0)``.

    Args:
        latents: ``(N, D)`` latents (numpy, a memory map, or a CPU tensor); a
            :class:`~latentatlas.data.LatentStore` (its labels and names are used); or,
            with ``labels=None``, an iterable of ``(latents_chunk, labels_chunk)`` pairs,
            so latents larger than memory can be streamed.
        labels: ``(N, K)`` 0/1 labels (``(N,)`` for one attribute).
        label_names: names of the K label columns, used in error messages.
        chunk_size: rows per pass of the kernel when ``latents`` is an array.

    Returns:
        ``(K, D)`` float64 vectors, or ``(D,)`` when ``labels`` is 1-D.

    Raises:
        ValueError: shape mismatches, non-0/1 labels, NaN/Inf latents, no data, or an
            attribute with no positive or no negative example (named).
    """
    if labels is None and hasattr(latents, "latents") and hasattr(latents, "labels"):  # a LatentStore
        if label_names is None:
            label_names = list(getattr(latents, "label_names", None) or []) or None
        latents, labels = latents.latents, latents.labels
    one_d = labels is not None and np.ndim(labels) == 1
    latent_shape = tuple(latents.shape)[1:] if labels is not None and hasattr(latents, "shape") else ()
    sums = totals = None
    pos = None
    n_total = 0
    for z, y in _chunks(latents, labels, chunk_size):
        if labels is None:  # streamed chunks keep their latent shape
            latent_shape = tuple(z.shape if hasattr(z, "shape") else np.shape(z))[1:]
        z = _as_float_matrix(z, "latents")
        y = _as_labels(y, z.shape[0])
        if sums is None:
            sums = np.zeros((y.shape[1], z.shape[1]))
            totals = np.zeros(z.shape[1])
            pos = np.zeros(y.shape[1])
        if y.shape[1] != sums.shape[0] or z.shape[1] != sums.shape[1]:
            raise ValueError(f"every chunk must have {sums.shape[1]} latent columns and {sums.shape[0]} label "
                             f"columns, got {z.shape[1]} and {y.shape[1]}")
        if z.shape[0] == 0:
            continue
        # One kernel call: the label rows and a row of ones (the total) together.
        s = _weighted_sums(np.vstack([y.T, np.ones((1, z.shape[0]))]), z)
        sums += s[:-1]
        totals += s[-1]
        pos += y.sum(axis=0)
        n_total += z.shape[0]
    if sums is None or n_total == 0:
        raise ValueError("mean_difference needs at least one latent")
    names = _names(label_names, sums.shape[0])
    neg = n_total - pos
    for k, name in enumerate(names):
        if pos[k] == 0 or neg[k] == 0:
            side = "positive" if pos[k] == 0 else "negative"
            raise ValueError(f"attribute {name!r} has no {side} example; its mean difference is undefined")
    vectors = sums / pos[:, None] - (totals[None, :] - sums) / neg[:, None]
    if len(latent_shape) > 1:
        vectors = vectors.reshape(vectors.shape[0], *latent_shape)
    return vectors[0] if one_d else vectors


def _attr_columns(attrs: Sequence[Attr], names: list[str]) -> list[int]:
    cols = []
    for a in attrs:
        if is_int(a):
            if not 0 <= a < len(names):
                raise ValueError(f"attribute index {a} is out of range for {len(names)} label columns")
            cols.append(int(a))
        elif isinstance(a, str):
            if a not in names:
                raise ValueError(f"unknown attribute {a!r}; label names are {names}")
            cols.append(names.index(a))
        else:
            raise TypeError(f"attributes are named by index or name, got {type(a).__name__}")
    if len(set(cols)) != len(cols):
        raise ValueError("attributes must be distinct")
    if not cols:
        raise ValueError("balanced needs at least one attribute")
    return cols


def balance_weights(labels: Any, attrs: Sequence[Attr], *, label_names: Sequence[str] | None = None,
                    empty: str = "error") -> tuple[np.ndarray, dict[tuple[int, ...], tuple[int, int]]]:
    """How many times each latent appears once every cell is replicated to the largest.

    The cells are the 2ⁿ combinations of the chosen attributes' values. A cell of ``c``
    latents is replicated whole ``M // c`` times and its first ``M % c`` latents once more,
    so every cell holds exactly ``M`` (the size of the largest cell).

    Args:
        labels: ``(N, K)`` 0/1 labels.
        attrs: the n attributes to balance over, by column index or name.
        label_names: names of the label columns (needed to name attributes).
        empty: ``"error"`` (default) raises on an empty cell; ``"drop"`` warns and
            balances over the non-empty cells only.

    Returns:
        ``(weights, cells)``: per-latent replication counts ``(N,)`` int, and for each cell
        (a tuple of attribute values) its ``(original, replicated)`` sizes.

    Raises:
        ValueError: unknown attributes, empty cells (with ``empty="error"``), no labels.
    """
    y = _as_labels(labels, len(labels))
    names = _names(label_names, y.shape[1])
    cols = _attr_columns(attrs, names)
    if empty not in ("error", "drop"):
        raise ValueError(f"empty must be 'error' or 'drop', got {empty!r}")
    if y.shape[0] == 0:
        raise ValueError("balance needs at least one latent")
    codes = (y[:, cols] > 0.5).astype(np.int64) @ (1 << np.arange(len(cols)))
    counts = np.bincount(codes, minlength=1 << len(cols))
    cells: dict[tuple[int, ...], tuple[int, int]] = {}
    empties = [c for c in range(1 << len(cols)) if counts[c] == 0]
    refuse_or_warn_empty_cells(empties, names, cols, empty)
    M = int(counts.max())
    weights = np.zeros(y.shape[0], dtype=np.int64)
    for c in range(1 << len(cols)):
        idx = np.flatnonzero(codes == c)
        key = tuple((c >> i) & 1 for i in range(len(cols)))
        if idx.size == 0:
            cells[key] = (0, 0)
            continue
        weights[idx] = M // idx.size
        weights[idx[: M % idx.size]] += 1
        cells[key] = (int(idx.size), int(weights[idx].sum()))
    return weights, cells


def refuse_or_warn_empty_cells(empties: Sequence[int], names: Sequence[str], cols: Sequence[int], empty: str) -> None:
    """What balancing does with label cells that hold no rows (cell ``c``'s bit ``i`` is the
    value of attribute ``cols[i]``): a ValueError naming them when ``empty == "error"``, else
    a RuntimeWarning naming them (pointing at the caller of the balancing function)."""
    if len(empties) == 0:
        return
    described = ", ".join("(" + ", ".join(f"{names[col]}={(c >> i) & 1}" for i, col in enumerate(cols)) + ")"
                          for c in empties)
    if empty == "error":
        raise ValueError(f"empty cell(s) {described}: cannot balance these attributes; "
                         "pass empty='drop' to balance over the other cells")
    warnings.warn(f"balancing without empty cell(s) {described}", RuntimeWarning, stacklevel=3)


def balanced(latents: Any, labels: Any, attrs: Sequence[Attr], *, label_names: Sequence[str] | None = None,
             empty: str = "error") -> np.ndarray:
    """Bias-corrected attribute vectors by replication (§3.1 of the paper).

    For the n attributes ``attrs``, the latents are replicated so that all 2ⁿ cells of
    their values are equally large (see :func:`balance_weights`), and each attribute's
    mean-difference vector is taken over that balanced set: the other chosen attributes
    are then equally represented among its positives and negatives, so a "smiling"
    vector balanced against "male" no longer carries a gender component.

    Returns:
        ``(n, D)`` float64 vectors in the order of ``attrs``.

    Raises:
        ValueError: as :func:`balance_weights` and :func:`mean_difference`.
    """
    z = _as_float_matrix(latents, "latents")
    y = _as_labels(labels, z.shape[0])
    names = _names(label_names, y.shape[1])
    cols = _attr_columns(attrs, names)
    w, _ = balance_weights(y, attrs, label_names=names, empty=empty)
    wf = w.astype(np.float64)
    sel = y[:, cols]
    rows = np.vstack([(sel * wf[:, None]).T, wf[None, :]])
    s = _weighted_sums(rows, z)
    pos_w = (sel * wf[:, None]).sum(axis=0)
    neg_w = wf.sum() - pos_w
    for i, col in enumerate(cols):
        if pos_w[i] == 0 or neg_w[i] == 0:
            raise ValueError(f"attribute {names[col]!r} has no {'positive' if pos_w[i] == 0 else 'negative'} "
                             "example after balancing")
    return _shaped(s[:-1] / pos_w[:, None] - (s[-1][None, :] - s[:-1]) / neg_w[:, None], latents)


# ----------------------------------------------------------------------------- augmentation


def gaussian_blur(images: Any, sigma: float = 1.0) -> np.ndarray:
    """Separable Gaussian blur of NCHW images (reflecting borders); ``sigma`` in pixels."""
    x = check_images(images)
    if not (is_number(sigma) and np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = x.astype(np.float64)
    for axis in (2, 3):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > radius else "edge")
        acc = np.zeros_like(out)
        for i, w in enumerate(taps):
            acc += w * np.take(padded, np.arange(i, i + out.shape[axis]), axis=axis)
        out = acc
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def adjust_brightness(images: Any, factor: float = 0.6) -> np.ndarray:
    """Images scaled by ``factor`` (< 1 darkens), clipped to [0, 1]."""
    x = check_images(images)
    if not (is_number(factor) and np.isfinite(factor) and factor >= 0):
        raise ValueError(f"factor must be a non-negative number, got {factor!r}")
    return np.clip(x * factor, 0.0, 1.0).astype(np.float32)


def add_noise(images: Any, std: float = 0.1, *, seed: int = 0) -> np.ndarray:
    """Images plus Gaussian pixel noise of ``std``, clipped to [0, 1] (seeded)."""
    x = check_images(images)
    if not (is_number(std) and np.isfinite(std) and std >= 0):
        raise ValueError(f"std must be a non-negative number, got {std!r}")
    rng = np.random.default_rng(seed)
    return np.clip(x + rng.normal(0.0, std, size=x.shape), 0.0, 1.0).astype(np.float32)


_AUGMENTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "blur": gaussian_blur,
    "brightness": adjust_brightness,
    "dark": adjust_brightness,
    "noise": add_noise,
}


def _encode(model: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
    from .sampling import encode_batched

    return encode_batched(model, images, batch_size=batch_size).astype(np.float64)


def synthetic(model: Any, images: Any, augment: str | Callable[[np.ndarray], Any] = "blur", *,
              batch_size: int = 256, **augment_args: Any) -> np.ndarray:
    """A synthetic attribute vector from data augmentation (§3.2 of the paper).

    Encodes ``images`` and ``augment(images)`` and returns the difference of the means,
    ``mean(encode(augmented)) − mean(encode(images))``: e.g. a "blur" vector that needs no
    labels, and so none of their biases.

    Args:
        model: anything with ``encode(x)`` taking NCHW float images in [0, 1].
        images: ``(N, C, H, W)`` images in [0, 1].
        augment: ``"blur"``, ``"brightness"`` (alias ``"dark"``), ``"noise"``, or a callable
            mapping an NCHW float array to one of the same shape.
        batch_size: images per ``encode`` call.
        **augment_args: passed to the named augmentation (``sigma``, ``factor``, ``std``).

    Returns:
        ``(D,)`` float64 vector.

    Raises:
        TypeError: a model without ``encode``, a non-callable augmentation.
        ValueError: an unknown augmentation name, bad images, an augmentation that changes
            the shape or returns NaN.
    """
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"{type(model).__name__} has no encode(); synthetic vectors need an encoder")
    x = check_images(images)
    if x.shape[0] == 0:
        raise ValueError("synthetic needs at least one image")
    if isinstance(augment, str):
        if augment not in _AUGMENTS:
            raise ValueError(f"unknown augmentation {augment!r}; choose one of {sorted(_AUGMENTS)} or pass a callable")
        fn = _AUGMENTS[augment]
        aug = fn(x, **augment_args)
    elif callable(augment):
        aug = augment(x.copy(), **augment_args)
    else:
        raise TypeError(f"augment must be a name or a callable, got {type(augment).__name__}")
    aug = check_images(aug, "augmented images")
    if aug.shape != x.shape:
        raise ValueError(f"the augmentation changed the image shape from {x.shape} to {aug.shape}")
    return _encode(model, aug, batch_size).mean(axis=0) - _encode(model, x, batch_size).mean(axis=0)


# ----------------------------------------------------------------------------- decoupling


def decouple(vectors: Any) -> np.ndarray:
    """Removes from each vector its projection on the span of the others.

    The orthogonal-projection way of decoupling attributes (an alternative to
    :func:`balanced`): the result's row k is orthogonal to every other input row, and its
    dot product with input row k is unchanged in sign.

    Raises:
        ValueError: fewer than two vectors, NaN/Inf, or a vector that lies in the span of
            the others (nothing would be left of it).
    """
    V = _as_float_matrix(vectors, "vectors").astype(np.float64)
    if V.shape[0] < 2:
        raise ValueError(f"decouple needs at least two vectors, got {V.shape[0]}")
    if not np.isfinite(V).all():
        raise ValueError("vectors contain NaN or Inf")
    out = np.empty_like(V)
    for k in range(V.shape[0]):
        others = np.delete(V, k, axis=0)
        coef, *_ = np.linalg.lstsq(others.T, V[k], rcond=None)
        rest = V[k] - others.T @ coef
        if np.linalg.norm(rest) <= 1e-10 * np.linalg.norm(V[k]):
            raise ValueError(f"vector {k} lies in the span of the others; it cannot be decoupled")
        out[k] = rest
    return _shaped(out, vectors)


# ----------------------------------------------------------------------------- centroids


def centroid_vectors(latents: Any, classes: Any) -> dict[tuple[int, int], np.ndarray]:
    """The blog's interpolation vectors: ``{(a, b): mean(class a) − mean(class b)}`` for
    every pair of classes ``a < b`` present (45 pairs for the ten digits).

    Raises:
        ValueError: shape mismatches, fewer than two classes, NaN/Inf latents.
    """
    z = _as_float_matrix(latents, "latents")
    c = as_numpy(classes)
    if c.ndim != 1 or c.shape[0] != z.shape[0]:
        raise ValueError(f"classes must be (N,) with N = {z.shape[0]}, got shape {c.shape}")
    if c.dtype.kind not in "iu":
        raise TypeError(f"classes must be integers, got dtype {c.dtype}")
    ids = np.unique(c)
    if ids.size < 2:
        raise ValueError(f"centroid vectors need at least two classes, got {ids.size}")
    onehot = (c[None, :] == ids[:, None]).astype(np.float64)
    means = _shaped(_weighted_sums(onehot, z) / onehot.sum(axis=1, keepdims=True), latents)
    return {(int(ids[i]), int(ids[j])): means[i] - means[j]
            for i, j in itertools.combinations(range(ids.size), 2)}


# ----------------------------------------------------------------------------- applying


def traverse(z: Any, vectors: Any, strengths: Any) -> Any:
    """Latents moved along one or more vectors at a grid of strengths (Figure 6).

    ``strengths`` is ``(A,)`` for a single vector ``(D,)``, or ``(A, K)`` for K vectors.
    The vectors are cast to ``z``'s dtype (the attribute functions return float64).
    Returns ``(N, A, D)`` (``(A, D)`` for one latent), same kind and dtype as ``z``;
    latents ``(N, *S)`` with vectors ``S`` or ``(K, *S)`` give ``(N, A, *S)``.
    """
    return ops.offset(z, _like(vectors, z), strengths)


def _like(vectors: Any, z: Any) -> Any:
    """Vectors as an array/tensor of z's kind, dtype (and device)."""
    if is_tensor(z):
        import torch

        return torch.as_tensor(as_numpy(vectors)).to(device=z.device, dtype=z.dtype)
    return as_numpy(vectors).astype(np.asarray(z).dtype, copy=False)


def attribute_grid(z: Any, vector_x: Any, vector_y: Any, xs: Sequence[float], ys: Sequence[float]) -> Any:
    """The two-attribute grid of Figure 8: cell ``(i, j)`` is ``z + ys[i]·vector_y +
    xs[j]·vector_x``. Returns ``(N, len(ys), len(xs), D)`` (or without N for one latent);
    latents ``(N, *S)`` with vectors of shape ``S`` give ``(N, len(ys), len(xs), *S)``.
    """
    xs_a = np.asarray(xs, dtype=np.float64).reshape(-1)
    ys_a = np.asarray(ys, dtype=np.float64).reshape(-1)
    if xs_a.size == 0 or ys_a.size == 0:
        raise ValueError("xs and ys must each hold at least one strength")
    gx, gy = np.meshgrid(xs_a, ys_a)
    alphas = np.stack([gx.ravel(), gy.ravel()], axis=1)
    V = _like(np.stack([as_numpy(vector_x), as_numpy(vector_y)]), z)
    shape = tuple(V.shape[1:])
    out = ops.offset(z, V, alphas, latent_ndim=len(shape))  # the vectors' shape says what one latent is
    lead = tuple(out.shape[:out.ndim - len(shape) - 1])
    return out.reshape(lead + (ys_a.size, xs_a.size) + shape)


def edit(model: Any, images: Any, vectors: Any, strengths: Any, *, batch_size: int = 256) -> np.ndarray:
    """"Edit this image": encode, move along the vectors at each strength, decode.

    Returns ``(N, A, C, H, W)`` images in [0, 1] (A strengths, as in :func:`traverse`).
    """
    if not callable(getattr(model, "encode", None)) or not callable(getattr(model, "decode", None)):
        raise TypeError(f"{type(model).__name__} needs encode() and decode() to edit images")
    from .sampling import decode_batched

    z = _encode(model, check_images(images), batch_size).astype(np.float32)
    V = as_numpy(vectors, np.float32)
    return decode_batched(model, ops.offset(z, V, strengths), batch_size=batch_size)


# ----------------------------------------------------------------------------- label tables
# (kept together at the end of the module, with their own imports)

import dataclasses  # noqa: E402
import math  # noqa: E402
from dataclasses import dataclass  # noqa: E402

__all__ += ["LabelTable", "label_table", "correlated_pairs"]


@dataclass(frozen=True)
class LabelTable:
    """The 2×2 breakdown of two binary attributes (the layout of the paper's Tables 1–2).

    ``counts[i][j]`` is the (weighted) number of rows with ``a`` = 1 − i and ``b`` = 1 − j,
    so the first row and column are the attribute present; ``fractions`` are the counts over
    the whole, ``row_totals`` are P(a), P(not a), ``col_totals`` P(b), P(not b). ``phi`` is the
    correlation of the two 0/1 columns (NaN when either is constant), ``odds_ratio`` is
    ``n(a, b)·n(¬a, ¬b) / (n(a, ¬b)·n(¬a, b))`` (inf with an empty off-diagonal cell, NaN when
    undefined), and ``p_a_given_b`` / ``p_a_given_not_b`` are the conditional rates of ``a``.
    """

    a: str
    b: str
    n: float
    counts: tuple[tuple[float, float], tuple[float, float]]
    fractions: tuple[tuple[float, float], tuple[float, float]]
    row_totals: tuple[float, float]
    col_totals: tuple[float, float]
    phi: float
    odds_ratio: float
    p_a_given_b: float
    p_a_given_not_b: float

    def to_dict(self) -> dict[str, Any]:
        """The table as JSON-able data (NaN and infinities as None)."""
        from ._files import jsonable

        return jsonable(dataclasses.asdict(self))

    def format(self) -> str:
        """The table as text in the paper's layout: percentages of the whole, with totals."""
        def pct(v: float) -> str:
            return f"{100 * v:.1f}%" if math.isfinite(v) else "-"

        head = [f"{self.b}", f"not {self.b}", "total"]
        rows = [(self.a, *(pct(v) for v in self.fractions[0]), pct(self.row_totals[0])),
                (f"not {self.a}", *(pct(v) for v in self.fractions[1]), pct(self.row_totals[1])),
                ("total", pct(self.col_totals[0]), pct(self.col_totals[1]), "")]
        w0 = max(len(r[0]) for r in rows)
        widths = [max(len(head[i]), *(len(r[i + 1]) for r in rows)) for i in range(3)]
        lines = [" " * w0 + "  " + "  ".join(h.rjust(w) for h, w in zip(head, widths))]
        lines += [r[0].ljust(w0) + "  " + "  ".join(c.rjust(w) for c, w in zip(r[1:], widths)) for r in rows]
        odds = f"{self.odds_ratio:.3g}" if not math.isnan(self.odds_ratio) else "undefined"
        lines.append(f"n = {self.n:g}, phi = {self.phi:+.3f}, odds ratio = {odds}; "
                     f"P({self.a} | {self.b}) = {pct(self.p_a_given_b)}, "
                     f"P({self.a} | not {self.b}) = {pct(self.p_a_given_not_b)}")
        return "\n".join(lines)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise with x/0 = inf (x > 0) and 0/0 = NaN, without warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, np.nan))


def _tables(y: np.ndarray, w: np.ndarray, pairs: Sequence[tuple[int, int]], names: list[str]) -> list[LabelTable]:
    """Label tables for column pairs of 0/1 labels ``y`` with row weights ``w``, vectorised over pairs."""
    ia = np.array([p[0] for p in pairs], dtype=np.int64)
    ib = np.array([p[1] for p in pairs], dtype=np.int64)
    n = float(w.sum())
    yw = y * w[:, None]
    both = yw.T @ y                      # (K, K): weighted n(a = 1, b = 1)
    pos = yw.sum(axis=0)                 # weighted n(a = 1)
    n11 = both[ia, ib]
    n10 = pos[ia] - n11
    n01 = pos[ib] - n11
    n00 = n - n11 - n10 - n01
    with np.errstate(divide="ignore", invalid="ignore"):
        margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
        phi = np.where(margins > 0, (n11 * n00 - n10 * n01) / np.sqrt(np.where(margins > 0, margins, 1.0)), np.nan)
    odds = _ratio(n11 * n00, n10 * n01)
    p_b = _ratio(n11, n11 + n01)
    p_not_b = _ratio(n10, n10 + n00)
    out = []
    for k in range(len(pairs)):
        c = ((float(n11[k]), float(n10[k])), (float(n01[k]), float(n00[k])))
        f = tuple(tuple(v / n for v in row) for row in c)
        out.append(LabelTable(names[ia[k]], names[ib[k]], n, c, f,  # type: ignore[arg-type]
                              ((c[0][0] + c[0][1]) / n, (c[1][0] + c[1][1]) / n),
                              ((c[0][0] + c[1][0]) / n, (c[0][1] + c[1][1]) / n),
                              float(phi[k]), float(odds[k]), float(p_b[k]), float(p_not_b[k])))
    return out


def _table_inputs(labels: Any, label_names: Sequence[str] | None,
                  weights: Any) -> tuple[np.ndarray, list[str], np.ndarray]:
    y = _as_labels(labels, len(labels))
    if y.shape[0] == 0:
        raise ValueError("labels is empty: no rows to tabulate")
    names = _names(label_names, y.shape[1])
    if weights is None:
        w = np.ones(y.shape[0])
    else:
        w = as_numpy(weights)
        if w.shape != (y.shape[0],):
            raise ValueError(f"weights must have one value per row, shape ({y.shape[0]},), got {w.shape}")
        if w.dtype.kind not in "fiu":
            raise TypeError(f"weights must be numbers, got dtype {w.dtype}")
        w = w.astype(np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
    return y, names, w


def label_table(labels: Any, a: Attr, b: Attr, *, label_names: Sequence[str] | None = None,
                weights: Any = None) -> LabelTable:
    """The 2×2 breakdown of attributes ``a`` and ``b`` as fractions of the whole, with row
    and column totals, phi and the odds ratio (the paper's Tables 1 and 2).

    Args:
        labels: ``(N, K)`` 0/1 labels.
        a, b: the two attributes, by column index or by name (with ``label_names``).
        label_names: names of the K columns.
        weights: optional ``(N,)`` non-negative row weights, e.g. the replication counts
            of :func:`balance_weights` (the table after balancing).

    Returns:
        A :class:`LabelTable` (``.format()`` prints it, ``.to_dict()`` is JSON-able).

    Raises:
        ValueError: unknown or equal attributes, non-0/1 labels, no rows, bad weights.
        TypeError: an attribute that is neither an index nor a name, non-numeric labels.
    """
    y, names, w = _table_inputs(labels, label_names, weights)
    ca, cb = _attr_columns([a, b], names)
    return _tables(y, w, [(ca, cb)], names)[0]


def correlated_pairs(labels: Any, label_names: Sequence[str] | None = None, *, top: int | None = None,
                     weights: Any = None) -> list[LabelTable]:
    """Every pair of attributes ranked by |phi|, most correlated first: the pairs whose
    vectors most need balancing. Pairs with a constant column (phi undefined) come last;
    ties keep the column order.

    Args:
        labels: ``(N, K)`` 0/1 labels, K >= 2.
        label_names: names of the K columns (default the column indices).
        top: keep only the first ``top`` pairs (default all K·(K−1)/2).
        weights: optional ``(N,)`` row weights, as in :func:`label_table`.

    Returns:
        A list of :class:`LabelTable`, one per pair ``(a, b)`` with ``a`` before ``b`` in the columns.
    """
    y, names, w = _table_inputs(labels, label_names, weights)
    if y.shape[1] < 2:
        raise ValueError(f"correlated_pairs needs at least two label columns, got {y.shape[1]}")
    if top is not None:
        top = check_int("top", top, 1)
    pairs = list(itertools.combinations(range(y.shape[1]), 2))
    tables = _tables(y, w, pairs, names)
    strength = [abs(t.phi) if math.isfinite(t.phi) else -1.0 for t in tables]
    order = sorted(range(len(tables)), key=lambda i: -strength[i])  # stable: ties keep column order
    ranked = [tables[i] for i in order]
    return ranked if top is None else ranked[:top]
