"""Attribute vectors, class centroids and AtDot over a sharded store, exactly.

Each shard (a Ray task reading its own file) returns float64 sums of latents and counts
per label cell; the driver adds them and finishes with the same formula as the
single-machine function, so the results equal :func:`latentatlas.attributes.mean_difference`,
:func:`~latentatlas.attributes.balanced`, :func:`~latentatlas.attributes.centroid_vectors`
and :meth:`latentatlas.AtDot.fit` on the concatenated store to float64 rounding (only the
order of the additions differs).

Balanced vectors replicate by weights: the driver knows every cell's size per shard, so
it tells each shard how many rows of each cell come before it; each shard then gives
its rows the replication counts of :func:`~latentatlas.attributes.balance_weights`
(``M // c``, plus one for the first ``M % c`` rows of the cell in store order) and sums
weighted latents per cell. No row is copied.

The per-shard functions (``*_sums``) are plain functions of one LatentStore, so they run
anywhere; the public functions fan them out as Ray tasks.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Sequence

import numpy as np

from .. import attributes
from ..atdot import AtDot, best_threshold
from ..data import LatentStore
from .encode import ensure_ray
from .store import ShardedStore

__all__ = ["mean_difference", "balanced", "centroid_vectors", "fit_atdot",
           "mean_difference_sums", "cell_counts", "balanced_sums", "class_sums"]


def _open(store: ShardedStore | str | os.PathLike[str]) -> ShardedStore:
    if isinstance(store, ShardedStore):
        return store
    if isinstance(store, (str, os.PathLike)):
        return ShardedStore(store)
    raise TypeError(f"store must be a ShardedStore or the path of its folder, got {type(store).__name__}")


def _fan_out(store: ShardedStore, fn: Callable[..., Any], *args: Any) -> list[Any]:
    """``fn(shard_store, *args_i)`` for every shard, as Ray tasks; results in shard order.

    Each element of ``args`` is either one value for all shards or a list with one value
    per shard (marked by wrapping it in :class:`_PerShard`)."""
    ray = ensure_ray()

    @ray.remote(num_cpus=1)
    def run(folder: str, i: int, *a: Any) -> Any:
        return fn(ShardedStore(folder).shard(i), *a)

    refs = []
    for i in range(store.num_shards):
        a = [x.values[i] if isinstance(x, _PerShard) else x for x in args]
        refs.append(run.remote(str(store.folder), i, *a))
    return ray.get(refs)


class _PerShard:
    def __init__(self, values: list[Any]) -> None:
        self.values = values


# ----------------------------------------------------------------------------- per shard


def mean_difference_sums(shard: LatentStore) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(label sums (K, D), total sum (D,), positives (K,), rows)`` of one shard, float64."""
    y = shard.labels.astype(np.float64)
    s = attributes._weighted_sums(np.vstack([y.T, np.ones((1, len(shard)))]), shard.latents)
    return s[:-1], s[-1], y.sum(axis=0), len(shard)


def _codes(labels: np.ndarray, cols: Sequence[int]) -> np.ndarray:
    """Each row's cell number: bit i is the value of attribute ``cols[i]``."""
    return (labels[:, list(cols)] > 0).astype(np.int64) @ (1 << np.arange(len(cols)))


def cell_counts(shard: LatentStore, cols: Sequence[int]) -> np.ndarray:
    """Rows of one shard in each of the ``2^n`` cells of the attributes ``cols``."""
    return np.bincount(_codes(shard.labels, cols), minlength=1 << len(cols))


def balanced_sums(shard: LatentStore, cols: Sequence[int], before: np.ndarray, totals: np.ndarray,
                  largest: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted latent sums ``(2^n, D)`` and weights ``(2^n,)`` per cell of one shard.

    ``before[c]`` rows of cell ``c`` come before this shard in the store, ``totals[c]``
    are in the whole store, ``largest`` is the largest cell: a row that is the ``r``-th
    of its cell weighs ``largest // totals[c] + (r < largest % totals[c])``.
    """
    codes = _codes(shard.labels, cols)
    cells = totals.shape[0]
    rank = np.empty(len(shard), dtype=np.int64)
    for c in range(cells):
        idx = np.flatnonzero(codes == c)
        rank[idx] = before[c] + np.arange(idx.size)
    t = totals[codes]  # a row's own cell is never empty
    w = (largest // t + (rank < largest % t)).astype(np.float64)
    onehot = (codes[None, :] == np.arange(cells)[:, None]) * w[None, :]
    return attributes._weighted_sums(onehot, shard.latents), onehot.sum(axis=1)


def class_sums(shard: LatentStore) -> dict[int, tuple[np.ndarray, int]]:
    """``{class: (latent sum (D,), rows)}`` of one shard."""
    if shard.classes is None:
        raise ValueError("the store has no classes; centroid vectors need class ids")
    ids = np.unique(shard.classes)
    onehot = (shard.classes[None, :] == ids[:, None]).astype(np.float64)
    sums = attributes._weighted_sums(onehot, shard.latents)
    return {int(c): (sums[i], int(onehot[i].sum())) for i, c in enumerate(ids)}


def _scores(shard: LatentStore, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AtDot's scores ``(rows, K)`` of one shard and its labels."""
    # Copied into a fresh float64 array: an unpickled array carries a dtype object equal to,
    # but not the same object as, numpy's float64, and the native kernels check identity.
    v = np.empty(np.shape(vectors), dtype=np.float64)
    v[...] = vectors
    return AtDot(vectors=v)._score(shard.latents), shard.labels


# ----------------------------------------------------------------------------- merged


def mean_difference(store: ShardedStore | str | os.PathLike[str]) -> np.ndarray:
    """``(K, D)`` float64 mean-difference vectors of every label of a sharded store
    (as :func:`latentatlas.attributes.mean_difference` on the whole store).

    Raises:
        ValueError: an empty store, or an attribute with no positive or no negative row.
    """
    store = _open(store)
    parts = _fan_out(store, mean_difference_sums)
    if not parts:
        raise ValueError("mean_difference needs at least one latent")
    sums = sum(p[0] for p in parts)
    totals = sum(p[1] for p in parts)
    pos = sum(p[2] for p in parts)
    n = sum(p[3] for p in parts)
    neg = n - pos
    for k, name in enumerate(store.label_names):
        if pos[k] == 0 or neg[k] == 0:
            side = "positive" if pos[k] == 0 else "negative"
            raise ValueError(f"attribute {name!r} has no {side} example; its mean difference is undefined")
    return sums / pos[:, None] - (totals[None, :] - sums) / neg[:, None]


def balanced(store: ShardedStore | str | os.PathLike[str], attrs: Sequence[Any], *,
             empty: str = "error") -> np.ndarray:
    """``(n, D)`` bias-corrected vectors of the attributes ``attrs`` over a sharded store,
    replicating by weights (as :func:`latentatlas.attributes.balanced` on the whole store).

    Raises:
        ValueError: unknown attributes, empty cells (``empty="error"``), as the
            single-machine function.
    """
    store = _open(store)
    names = store.label_names
    cols = attributes._attr_columns(attrs, names)
    if empty not in ("error", "drop"):
        raise ValueError(f"empty must be 'error' or 'drop', got {empty!r}")
    counts = np.array(_fan_out(store, cell_counts, cols))  # (shards, cells)
    totals = counts.sum(axis=0)
    empties = np.flatnonzero(totals == 0)
    attributes.refuse_or_warn_empty_cells(empties, names, cols, empty)
    before = _PerShard(list(np.cumsum(counts, axis=0) - counts))
    parts = _fan_out(store, balanced_sums, cols, before, totals, int(totals.max()))
    cell_sums = sum(p[0] for p in parts)  # (cells, D)
    cell_w = sum(p[1] for p in parts)  # (cells,)
    bits = (np.arange(totals.size)[None, :] >> np.arange(len(cols))[:, None]) & 1  # (n, cells)
    pos_sums = bits @ cell_sums
    pos_w = bits @ cell_w
    all_sum, all_w = cell_sums.sum(axis=0), cell_w.sum()
    neg_w = all_w - pos_w
    for i, col in enumerate(cols):
        if pos_w[i] == 0 or neg_w[i] == 0:
            raise ValueError(f"attribute {names[col]!r} has no {'positive' if pos_w[i] == 0 else 'negative'} "
                             "example after balancing")
    return pos_sums / pos_w[:, None] - (all_sum[None, :] - pos_sums) / neg_w[:, None]


def centroid_vectors(store: ShardedStore | str | os.PathLike[str]) -> dict[tuple[int, int], np.ndarray]:
    """``{(a, b): mean(class a) - mean(class b)}`` for every pair of classes ``a < b`` of a
    sharded store (as :func:`latentatlas.attributes.centroid_vectors`).

    Raises:
        ValueError: a store without classes, or fewer than two classes.
    """
    store = _open(store)
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for part in _fan_out(store, class_sums):
        for c, (s, n) in part.items():
            sums[c] = sums[c] + s if c in sums else s
            counts[c] = counts.get(c, 0) + n
    ids = sorted(sums)
    if len(ids) < 2:
        raise ValueError(f"centroid vectors need at least two classes, got {len(ids)}")
    means = {c: sums[c] / counts[c] for c in ids}
    return {(a, b): means[a] - means[b] for a, b in itertools.combinations(ids, 2)}


def fit_atdot(store: ShardedStore | str | os.PathLike[str], *,
              balance: Sequence[Any] | None = None) -> AtDot:
    """An :class:`~latentatlas.AtDot` fitted on a sharded store, as ``AtDot().fit(latents,
    labels, balance=balance)`` on the whole store: vectors from merged sums (balanced for
    the ``balance`` attributes), thresholds by the exact scan of :func:`~latentatlas.atdot.best_threshold`
    over every row's score (the shards return scores, ``K`` numbers per row, never latents)."""
    store = _open(store)
    vectors = mean_difference(store)
    if balance is not None:
        cols = attributes._attr_columns(balance, store.label_names)
        vectors[cols] = balanced(store, balance)
    parts = _fan_out(store, _scores, vectors)
    scores = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    fits = [best_threshold(scores[:, k], labels[:, k]) for k in range(labels.shape[1])]
    return AtDot(vectors=vectors, thresholds=np.array([f[0] for f in fits]), label_names=store.label_names,
                 train_accuracy=np.array([f[1] for f in fits]))
