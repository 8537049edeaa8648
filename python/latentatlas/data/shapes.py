"""A procedural "shapes" data set with exact ground-truth factors and tunable attribute correlations.

Each image holds one object (circle, square or triangle) on a black background, drawn
anti-aliased from a signed distance, then Gaussian-blurred and coloured. The generative
factors are kept, binary attributes are thresholds of them, and any two attributes can be
made to co-occur with a chosen correlation -- so the paper's attribute-bias experiments
("blurry" images mostly dark, "large" objects mostly "round") can be measured exactly.

The ``measure_*`` functions recover the factors from any image (a data-set image, a
reconstruction, an edited decode), which is how latent edits are scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._arrays import check_images, check_int
from ._util import random_split
from .dataset import Dataset

SHAPE_NAMES = ("circle", "square", "triangle")
ATTRIBUTES = ("large", "round", "bright", "blurry", "left", "top", "warm")

# Size is the radius of the circle with the same area, so area = pi * size**2 for every shape.
_SIZE_RANGE = (0.09, 0.19)  # fraction of the image side
_BRIGHTNESS_RANGE = (0.35, 1.0)
_BLUR_RANGE = (0.0, 0.04)  # Gaussian sigma as a fraction of the image side
_HUE_RANGE = (0.0, 2.0 / 3.0)  # red .. green .. blue; "warm" is the lower half
# Farthest point of each shape from its centroid, in units of size.
_EXTENT = {0: 1.0, 1: math.sqrt(math.pi / 2.0), 2: 2.0 * math.sqrt(math.pi / (3.0 * math.sqrt(3.0)))}


def _normal_cdf(u: np.ndarray) -> np.ndarray:
    from math import erf

    return 0.5 * (1.0 + np.vectorize(erf)(u / math.sqrt(2.0)))


def _latent_correlation(correlations: Mapping[tuple[str, str], float] | None) -> np.ndarray:
    """Gaussian-copula correlation matrix that gives the requested binary (phi) correlations.

    Two standard normals with correlation rho, each thresholded at 0, have phi coefficient
    ``(2/pi) * arcsin(rho)``; inverting gives ``rho = sin(pi * phi / 2)``.
    """
    k = len(ATTRIBUTES)
    rho = np.eye(k)
    seen: dict[tuple[int, int], float] = {}
    for key, value in (correlations or {}).items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"correlation keys must be (attribute, attribute) pairs, got {key!r}")
        a, b = key
        for name in (a, b):
            if name not in ATTRIBUTES:
                raise ValueError(f"unknown attribute {name!r} in correlations; known: {list(ATTRIBUTES)}")
        if a == b:
            raise ValueError(f"an attribute cannot be correlated with itself: {key!r}")
        phi = float(value)
        if not math.isfinite(phi) or not -1.0 <= phi <= 1.0:
            raise ValueError(f"correlation for {key!r} must be in [-1, 1], got {value!r}")
        i, j = sorted((ATTRIBUTES.index(a), ATTRIBUTES.index(b)))
        if (i, j) in seen and seen[(i, j)] != phi:
            raise ValueError(f"conflicting correlations given for {a!r} and {b!r}: {seen[(i, j)]} and {phi}")
        seen[(i, j)] = phi
        rho[i, j] = rho[j, i] = math.sin(math.pi * phi / 2.0)
    if np.linalg.eigvalsh(rho).min() < -1e-9:
        raise ValueError(
            f"the requested correlations {dict(correlations or {})} are not jointly possible "
            "(their correlation matrix is not positive semi-definite)"
        )
    return rho


def _sample_factors(n: int, side: int, rho: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    vals, vecs = np.linalg.eigh(rho)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    u = rng.standard_normal((n, len(ATTRIBUTES))) @ root.T
    q = _normal_cdf(u)  # uniform marginals; attribute k is on  <=>  q[:, k] > 0.5
    col = {name: q[:, i] for i, name in enumerate(ATTRIBUTES)}

    def span(lo: float, hi: float, t: np.ndarray) -> np.ndarray:
        return lo + (hi - lo) * t

    shape = np.where(col["round"] > 0.5, 0, 1 + (rng.random(n) < 0.5)).astype(np.int64)
    size = span(*_SIZE_RANGE, col["large"]) * side
    blur = span(*_BLUR_RANGE, col["blurry"]) * side
    extent = np.array([_EXTENT[int(s)] for s in shape]) * size
    margin = extent + 2.0 * blur + 1.0
    x = margin + (side - 2.0 * margin) * (1.0 - col["left"])
    y = margin + (side - 2.0 * margin) * (1.0 - col["top"])
    return {
        "shape": shape,
        "size": size,
        "x": x,
        "y": y,
        "hue": span(*_HUE_RANGE, 1.0 - col["warm"]),
        "brightness": span(*_BRIGHTNESS_RANGE, col["bright"]),
        "blur": blur,
    }


def _coverage(shape: int, size: float, cx: float, cy: float, side: int) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] from a signed distance (pixel centres at i + 0.5)."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64) + 0.5
    dx, dy = xx - cx, yy - cy
    if shape == 0:
        sdf = np.hypot(dx, dy) - size
    elif shape == 1:
        half = 0.5 * size * math.sqrt(math.pi)
        sdf = np.maximum(np.abs(dx), np.abs(dy)) - half
    else:
        side_len = size * math.sqrt(4.0 * math.pi / math.sqrt(3.0))
        inradius = side_len / (2.0 * math.sqrt(3.0))
        normals = ((0.0, 1.0), (-math.sqrt(3) / 2, -0.5), (math.sqrt(3) / 2, -0.5))
        sdf = np.max([nx * dx + ny * dy for nx, ny in normals], axis=0) - inradius
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _blur_matrix(sigma: float, side: int) -> np.ndarray:
    if sigma < 1e-3:
        return np.eye(side)
    d = np.arange(side)[:, None] - np.arange(side)[None, :]
    g = np.exp(-0.5 * (d / sigma) ** 2)
    ext = np.arange(-side, side + 1)
    return g / np.exp(-0.5 * (ext / sigma) ** 2).sum()


def _hue_to_rgb(hue: np.ndarray) -> np.ndarray:
    """Fully saturated HSV colour with value 1, vectorised (same as colorsys.hsv_to_rgb)."""
    h6 = (hue % 1.0) * 6.0
    return np.stack([np.clip(np.abs(((h6 + k) % 6.0) - 3.0) - 1.0, 0.0, 1.0) for k in (0.0, 4.0, 2.0)], axis=-1)


def render_shapes(factors: Mapping[str, np.ndarray], *, size: int = 32, channels: int = 3) -> np.ndarray:
    """Render images ``(N, channels, size, size)`` float32 from shape factors.

    ``factors`` needs ``shape`` (0 circle, 1 square, 2 triangle), ``size`` (radius of the
    equal-area circle, pixels), ``x``, ``y`` (centroid, pixels), ``hue`` (0..1),
    ``brightness`` (0..1) and ``blur`` (Gaussian sigma, pixels).
    """
    required = ("shape", "size", "x", "y", "hue", "brightness", "blur")
    missing = [k for k in required if k not in factors]
    if missing:
        raise ValueError(f"factors is missing {missing}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    arrays = {k: np.asarray(factors[k], dtype=np.float64) for k in required}
    n = arrays["shape"].shape[0]
    for k, v in arrays.items():
        if v.shape != (n,):
            raise ValueError(f"factor {k!r} must have shape ({n},), got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"factor {k!r} contains NaN or infinite values")
    if not np.isin(arrays["shape"], (0, 1, 2)).all():
        raise ValueError("factor 'shape' must be 0 (circle), 1 (square) or 2 (triangle)")
    value = np.empty((n, size, size))
    for i in range(n):
        cov = _coverage(int(arrays["shape"][i]), arrays["size"][i], arrays["x"][i], arrays["y"][i], size)
        g = _blur_matrix(float(arrays["blur"][i]), size)
        value[i] = g @ cov @ g.T
    value = np.clip(value, 0.0, 1.0) * arrays["brightness"][:, None, None]
    if channels == 1:
        return value[:, None].astype(np.float32)
    rgb = _hue_to_rgb(arrays["hue"])  # (N, 3)
    return (value[:, None] * rgb[:, :, None, None]).astype(np.float32)


def make_shapes(
    n: int,
    *,
    size: int = 32,
    channels: int = 3,
    correlations: Mapping[tuple[str, str], float] | None = None,
    seed: int = 0,
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
) -> Dataset:
    """Generate ``n`` shape images with ground-truth factors and binary attributes.

    Attributes (each on for about half the images): ``large`` (size above the middle of
    its range), ``round`` (a circle), ``bright``, ``blurry``, ``left`` and ``top`` (centroid
    in the left / top half), ``warm`` (hue in the red-yellow half of its range).

    ``correlations`` maps attribute pairs to the correlation (phi coefficient) the binary
    attributes should have, e.g. ``{("blurry", "bright"): -0.8, ("large", "round"): 0.6}``.
    It is realised exactly in expectation by a Gaussian copula over the factors; pairs not
    named are independent. Ground-truth factors are in ``dataset.factors`` (pixels for
    ``size``/``x``/``y``/``blur``).
    """
    n = check_int("n", n, 1)
    rho = _latent_correlation(correlations)
    rng = np.random.default_rng(seed)
    factors = _sample_factors(int(n), size, rho, rng)
    images = render_shapes(factors, size=size, channels=channels)
    mid = {k: 0.5 * (lo + hi) for k, (lo, hi) in
           {"size": _SIZE_RANGE, "brightness": _BRIGHTNESS_RANGE, "blur": _BLUR_RANGE, "hue": _HUE_RANGE}.items()}
    labels = np.stack(
        [
            factors["size"] > mid["size"] * size,
            factors["shape"] == 0,
            factors["brightness"] > mid["brightness"],
            factors["blur"] > mid["blur"] * size,
            factors["x"] < size / 2.0,
            factors["y"] < size / 2.0,
            factors["hue"] < mid["hue"],
        ],
        axis=1,
    ).astype(np.uint8)
    return Dataset(
        images=images,
        labels=labels,
        label_names=list(ATTRIBUTES),
        split=random_split(int(n), split_fractions, seed + 1),
        classes=None,
        factors=factors,
        name="shapes",
        meta={
            "shape_names": list(SHAPE_NAMES),
            "correlations": {f"{a},{b}": float(v) for (a, b), v in (correlations or {}).items()},
            "seed": seed,
            "size": size,
        },
    )


def _measurable(images: Any) -> np.ndarray:
    """An image batch or a single image ``(C, H, W)``, checked, as float64 ``(N, C, H, W)``."""
    return check_images(images, dtype=np.float64, single=True)


def _value_map(images: Any) -> np.ndarray:
    """Per-pixel HSV value (max over channels), (N, H, W) float64."""
    return _measurable(images).max(axis=1)


def measure_brightness(images: Any) -> np.ndarray:
    """Object brightness per image: the peak HSV value (max over channels and pixels), ``(N,)``."""
    return _value_map(images).max(axis=(1, 2))


def _mass(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peak = v.max(axis=(1, 2))
    total = v.sum(axis=(1, 2))
    return peak, total


def measure_area(images: Any) -> np.ndarray:
    """Object area in pixels per image, ``(N,)``: total value divided by peak value.

    Blur moves value around but preserves its sum, so this is nearly blur-invariant: it is
    exact for unblurred objects, while a blur comparable to a small object's size lowers its
    peak and overstates the area by a few per cent. Blank images give NaN.
    """
    peak, total = _mass(_value_map(images))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(peak > 0, total / np.where(peak > 0, peak, 1.0), np.nan)


def measure_size(images: Any) -> np.ndarray:
    """Object size per image as the radius of the circle of the same area, ``(N,)`` pixels."""
    return np.sqrt(measure_area(images) / math.pi)


def measure_position(images: Any) -> np.ndarray:
    """Object centroid ``(N, 2)`` as (x, y) in pixels, pixel centres at i + 0.5. Blank images give NaN."""
    v = _value_map(images)
    h, w = v.shape[1:]
    total = v.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    x = (v.sum(axis=1) * (np.arange(w) + 0.5)).sum(axis=1) / safe
    y = (v.sum(axis=2) * (np.arange(h) + 0.5)).sum(axis=1) / safe
    out = np.stack([x, y], axis=1)
    out[total <= 0] = np.nan
    return out


def measure_sharpness(images: Any) -> np.ndarray:
    """Edge sharpness per image, ``(N,)``: steepest neighbouring-pixel step divided by the peak.

    About 1 for a crisp anti-aliased edge, falling like ``1 / (sigma * sqrt(2 pi))`` under a
    Gaussian blur of sigma pixels. Blank images give NaN.
    """
    v = _value_map(images)
    steps = np.maximum(np.abs(np.diff(v, axis=1)).max(axis=(1, 2)), np.abs(np.diff(v, axis=2)).max(axis=(1, 2)))
    peak = v.max(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(peak > 0, steps / np.where(peak > 0, peak, 1.0), np.nan)


def measure_hue(images: Any) -> np.ndarray:
    """Hue in [0, 1) of the summed object colour per image, ``(N,)``; needs RGB images."""
    arr = _measurable(images)
    if arr.shape[1] != 3:
        raise ValueError(f"measure_hue needs RGB images (3 channels), got {arr.shape[1]}")
    rgb = arr.sum(axis=(2, 3))
    mx, mn = rgb.max(axis=1), rgb.min(axis=1)
    delta = np.where(mx > mn, mx - mn, 1.0)
    r, g, b = rgb.T
    h = np.where(mx == r, ((g - b) / delta) % 6.0, np.where(mx == g, (b - r) / delta + 2.0, (r - g) / delta + 4.0))
    return np.where(mx > mn, h / 6.0, np.nan)


def measure_factors(images: Any) -> dict[str, np.ndarray]:
    """All measurable factors at once: brightness, area, size, x, y, sharpness (and hue for RGB)."""
    arr = _measurable(images)
    pos = measure_position(arr)
    out = {
        "brightness": measure_brightness(arr),
        "area": measure_area(arr),
        "size": measure_size(arr),
        "x": pos[:, 0],
        "y": pos[:, 1],
        "sharpness": measure_sharpness(arr),
    }
    if arr.shape[1] == 3:
        out["hue"] = measure_hue(arr)
    return out
