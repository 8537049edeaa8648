"""Small helpers shared by the data loaders and stores: splits, validation (and atomic writes,
re-exported from latentatlas._files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_open  # noqa: F401  (re-exported for the data modules)
from .._files import parse_json

SPLITS = ("train", "valid", "test")


def random_split(n: int, fractions: Sequence[float], seed: int) -> np.ndarray:
    """Assign ``n`` items to train/valid/test with the given fractions, by a seeded permutation.

    The counts are ``round``-ed cumulatively so they always sum to ``n``.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or not np.all(np.isfinite(fr)) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(
            f"split fractions must be three non-negative numbers (train, valid, test) summing to 1, got {tuple(fractions)}"
        )
    bounds = np.rint(np.cumsum(fr) * n).astype(np.int64)
    order = np.random.default_rng(seed).permutation(n)
    split = np.empty(n, dtype="<U5")
    start = 0
    for name, stop in zip(SPLITS, bounds):
        split[order[start:stop]] = name
        start = stop
    return split


def check_annotations(
    n: int, labels: Any, label_names: Sequence[str], split: Any, classes: Any
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray | None]:
    """Validate the per-row annotations shared by Dataset and LatentStore; return them normalised.

    labels ``(n, K)`` in {0, 1} -> uint8; ``K`` unique label names; split ``(n,)`` of
    train/valid/test; optional integer classes ``(n,)`` -> int64.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[0] != n:
        raise ValueError(f"labels must have shape (N, K) with N={n}, got {labels.shape}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must contain only 0 and 1")
    names = [str(s) for s in label_names]
    if len(names) != labels.shape[1]:
        raise ValueError(f"label_names has {len(names)} names but labels has {labels.shape[1]} columns")
    if len(set(names)) != len(names):
        raise ValueError(f"label_names must be unique, got {names}")
    split = np.asarray(split).astype(str)
    if split.shape != (n,):
        raise ValueError(f"split must have shape ({n},), got {split.shape}")
    bad = sorted(set(np.unique(split)) - set(SPLITS))
    if bad:
        raise ValueError(f"split values must be train/valid/test, got {bad}")
    if classes is not None:
        classes = np.asarray(classes)
        if classes.shape != (n,) or classes.dtype.kind not in "iu":
            raise ValueError(f"classes must be an integer array of shape ({n},), got {classes.dtype} {classes.shape}")
        classes = classes.astype(np.int64)
    return labels.astype(np.uint8), names, split, classes


def read_json(path: Path, missing: str) -> Any:
    """Parse the JSON file ``path``; ``missing`` is the message if it does not exist. Errors
    (invalid JSON, nesting deeper than :data:`~latentatlas._files.MAX_JSON_DEPTH`) are
    ValueErrors naming the file."""
    if not path.is_file():
        raise ValueError(missing)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON: {exc}") from None
    return parse_json(text, path)
