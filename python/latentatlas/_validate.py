"""Argument checks shared by the Python modules (grids, sampling, render, neighbors)."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, which must be at least ``minimum``; bools and floats are a
    TypeError, small values a ValueError, each naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def to_numpy(x: Any, name: str) -> np.ndarray:
    """A numpy array, or a torch tensor (any device) copied/viewed as one; anything else
    is a TypeError naming ``name``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    return x


def finite_floats(x: Any, name: str, hint: str = "") -> np.ndarray:
    """:func:`to_numpy`, then checks a float dtype (TypeError, with ``hint`` appended) and
    finite values (ValueError)."""
    x = to_numpy(x, name)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}{hint}")
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x
