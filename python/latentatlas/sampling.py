"""Sampling latents from a model's prior, evenly spaced prior grids, and batched
encoding/decoding through the model protocol.

The model protocol (see :mod:`latentatlas.models`): an object with ``latent_dim``,
``prior`` (``"gaussian"`` or ``"uniform"``), ``decode(z) -> x`` and, where the model has an
encoder, ``encode(x) -> z``; images are NCHW floats in [0, 1]. The helpers here hand the
model float32 torch tensors (on ``model.device`` when it has one) under ``torch.no_grad()``
and accept torch tensors or numpy arrays back.

Priors: ``"gaussian"`` is N(0, I); ``"uniform"`` is U(−1, 1) in every coordinate (the
DCGAN convention the paper's GAN results use).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from ._arrays import check_images, check_int, finite_floats, is_int, latent_shape_of, run_batched
from ._protocol import PRIORS, check_prior

__all__ = ["PRIORS", "sample_prior", "sample_latents", "sample_grid", "prior_grid", "encode_batched",
           "decode_batched"]

Array = Any


def _check_float_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def sample_prior(n: int, dim: int, prior: str = "gaussian", *, seed: int | None = 0,
                 dtype: Any = np.float32) -> np.ndarray:
    """``n`` latents of size ``dim`` drawn from the prior, reproducibly.

    Args:
        n: number of samples (>= 0).
        dim: latent size (>= 1).
        prior: ``"gaussian"`` (N(0, 1) per coordinate) or ``"uniform"`` (U(−1, 1)).
        seed: seed of a :func:`numpy.random.default_rng`; None draws fresh entropy.
        dtype: float32 (default) or float64.

    Returns:
        ``(n, dim)`` array.
    """
    n = check_int("n", n, 0)
    dim = check_int("dim", dim, 1)
    prior = check_prior(prior)
    dt = _check_float_dtype(dtype)
    rng = np.random.default_rng(seed)
    if prior == "gaussian":
        return rng.standard_normal((n, dim)).astype(dt)
    return rng.uniform(-1.0, 1.0, (n, dim)).astype(dt)


def _model_dim_prior(model: Any) -> tuple[int, str]:
    for attr in ("latent_dim", "prior"):
        if not hasattr(model, attr):
            raise TypeError(f"model must follow the model protocol; it has no {attr!r} attribute")
    return check_int("model.latent_dim", model.latent_dim, 1), check_prior(model.prior)


def sample_latents(model: Any, n: int, *, seed: int | None = 0, dtype: Any = np.float32) -> np.ndarray:
    """``n`` latents ``(n, *latent_shape)`` from ``model``'s prior (``model.latent_shape``,
    ``model.prior``); see :func:`sample_prior` (the same numbers, reshaped)."""
    dim, prior = _model_dim_prior(model)
    return sample_prior(n, dim, prior, seed=seed, dtype=dtype).reshape(-1, *latent_shape_of(model))


def sample_grid(model: Any, rows: int, cols: int, *, seed: int | None = 0, dtype: Any = np.float32) -> np.ndarray:
    """A ``(rows, cols, *latent_shape)`` grid of prior samples for ``model`` (the
    reading-order reshape of :func:`sample_latents` with ``n = rows·cols``), ready to
    decode into a sheet."""
    rows = check_int("rows", rows, 1)
    cols = check_int("cols", cols, 1)
    z = sample_latents(model, rows * cols, seed=seed, dtype=dtype)
    return z.reshape(rows, cols, *z.shape[1:])


def _prior_quantiles(n: int, prior: str) -> np.ndarray:
    """The prior's values at the midpoints ``(i + ½)/n`` of ``n`` equal probability bins."""
    p = (np.arange(n) + 0.5) / n
    if prior == "uniform":
        return 2.0 * p - 1.0
    dist = NormalDist()
    return np.array([dist.inv_cdf(float(x)) for x in p])


def prior_grid(rows: int, cols: int, dim: int = 2, prior: str = "gaussian", *, axes: tuple[int, int] = (0, 1),
               base: Array | None = None, dtype: Any = np.float32) -> np.ndarray:
    """An evenly spaced grid through the prior's inverse CDF (Kingma & Welling's manifold
    figures, the paper library's grid).

    Cell ``(r, c)`` is ``base`` with coordinate ``axes[0]`` set to ``F⁻¹((r + ½)/rows)`` and
    coordinate ``axes[1]`` set to ``F⁻¹((c + ½)/cols)``, where ``F`` is the prior's CDF: so
    every cell covers an equal share of prior mass and no cell sits at ±∞.

    Args:
        rows, cols: grid size (>= 1 each).
        dim: latent size (>= 2, or ``base``'s size).
        prior: ``"gaussian"`` or ``"uniform"``.
        axes: the two latent coordinates the grid spans (distinct, in range).
        base: ``(dim,)`` latent for the other coordinates; zeros (the prior's centre) by default.
        dtype: float32 or float64.

    Returns:
        ``(rows, cols, dim)`` array.
    """
    rows = check_int("rows", rows, 1)
    cols = check_int("cols", cols, 1)
    prior = check_prior(prior)
    dt = _check_float_dtype(dtype)
    if base is None:
        dim = check_int("dim", dim, 2)
        base_vec = np.zeros(dim, dtype=np.float64)
    else:
        base_vec = finite_floats(base, "base").astype(np.float64)
        if base_vec.ndim != 1:
            raise ValueError(f"base must be a (dim,) latent, got shape {base_vec.shape}")
        dim = base_vec.shape[0]
    if len(axes) != 2 or not all(is_int(a) for a in axes):
        raise TypeError(f"axes must be two ints, got {axes!r}")
    a0, a1 = int(axes[0]), int(axes[1])
    if a0 == a1 or not (0 <= a0 < dim and 0 <= a1 < dim):
        raise ValueError(f"axes must be two distinct coordinates in [0, {dim}), got {axes!r}")
    grid = np.broadcast_to(base_vec, (rows, cols, dim)).copy()
    grid[:, :, a0] = _prior_quantiles(rows, prior)[:, None]
    grid[:, :, a1] = _prior_quantiles(cols, prior)[None, :]
    return grid.astype(dt)


def decode_batched(model: Any, latents: Array, *, batch_size: int = 256) -> np.ndarray:
    """Decodes latents of shape ``(..., *S)`` in batches into images ``(..., C, H, W)``.

    Args:
        model: a protocol model (``latent_shape`` ``S`` or ``latent_dim``, ``decode``).
        latents: float array or tensor whose trailing dimensions are the model's latent
            shape ``S``; any leading shape (a grid ``(rows, cols, *S)`` gives
            ``(rows, cols, C, H, W)``).
        batch_size: latents per ``decode`` call.

    Returns:
        float32 numpy images.
    """
    _model_dim_prior(model)
    shape = latent_shape_of(model)
    batch_size = check_int("batch_size", batch_size, 1)
    z = finite_floats(latents, "latents")
    if z.ndim < len(shape) or z.shape[z.ndim - len(shape):] != shape:
        what = f"latent size {shape[0]}" if len(shape) == 1 else f"latent shape {shape}"
        raise ValueError(f"latents must end in the model's {what}, got shape {z.shape}")
    lead = z.shape[:z.ndim - len(shape)]
    flat = z.reshape(-1, *shape)
    if flat.shape[0] == 0:
        raise ValueError("latents is empty: nothing to decode")
    images = run_batched(model.decode, flat, batch_size, device=getattr(model, "device", None), what="model.decode")
    if images.ndim != 4:
        raise ValueError(f"model.decode must return NCHW images, got shape {images.shape}")
    return images.reshape(lead + images.shape[1:])


def encode_batched(model: Any, images: Array, *, batch_size: int = 256) -> np.ndarray:
    """Encodes an NCHW image batch in batches into ``(N, *latent_shape)`` float32 latents
    (a :class:`~latentatlas.data.LazyImages` is decoded one batch at a time).

    Raises:
        TypeError: the model has no ``encode``.
        ValueError: images not NCHW with 1 or 3 channels, empty, NaN/Inf, or the encoder
            returns the wrong shape.
    """
    _model_dim_prior(model)
    if not callable(getattr(model, "encode", None)):
        raise TypeError("model has no encode(): this needs a model with an encoder")
    batch_size = check_int("batch_size", batch_size, 1)
    # image files (LazyImages) are decoded one batch at a time by run_batched
    x = images if getattr(images, "is_lazy_images", False) else check_images(images)
    if x.shape[0] == 0:
        raise ValueError("images is empty: nothing to encode")
    shape = latent_shape_of(model)
    z = run_batched(model.encode, x, batch_size, device=getattr(model, "device", None), what="model.encode")
    if z.shape != (x.shape[0], *shape):
        raise ValueError(f"model.encode must return (N, {', '.join(map(str, shape))}) latents, got shape {z.shape}")
    return z
