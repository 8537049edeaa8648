"""The model protocol, a base class implementing its batching / device / dtype plumbing, and ``wrap``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from .._arrays import check_int, map_rows, to_numpy
from .._protocol import check_prior


@runtime_checkable
class GenerativeModel(Protocol):
    """What latentatlas needs from a model: a latent shape, a prior, and ``decode`` (``encode`` where it exists).

    ``latent_shape`` is the shape ``S`` of one latent: ``(D,)`` for a flat model,
    ``(4, H/8, W/8)`` for a latent-diffusion VAE; ``latent_dim`` is ``prod(S)``, the size of
    a latent read as one vector. ``encode(x)`` takes images ``(N, C, H, W)`` float in [0, 1]
    and returns latents ``(N, *S)``; ``decode(z)`` does the reverse. Both are batched.
    Code that meets a model without ``latent_shape`` reads it as ``(latent_dim,)``
    (:func:`latentatlas._arrays.latent_shape_of`).
    """

    latent_dim: int
    prior: str

    def decode(self, z: Any) -> Any:
        """Latents ``(N, *latent_shape)`` -> images ``(N, C, H, W)`` in [0, 1]."""


def check_image_shape(shape: Any) -> tuple[int, int, int]:
    """Validate ``(C, H, W)`` with C in (1, 3) and positive H, W."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {shape!r}")
    c, h, w = (check_int("image_shape entries", s, 1) for s in shape)
    if c not in (1, 3):
        raise ValueError(f"image_shape must have 1 or 3 channels, got {c}")
    return (c, h, w)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` -> CUDA when available else CPU; otherwise the named device, checked."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def prior_tensor(n: int, dim: int, prior: str, *, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` latents of size ``dim`` from the prior as a torch tensor on ``device``, drawn
    from torch's generator (the models' training and ``sample`` use torch's random
    streams; :func:`latentatlas.sampling.sample_prior` is the public, numpy-seeded draw)."""
    if check_prior(prior) == "gaussian":
        return torch.randn(n, dim, generator=generator, device=device)
    return torch.rand(n, dim, generator=generator, device=device) * 2.0 - 1.0


def _as_tensor(x: Any, name: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    """Input as a float tensor plus a function that converts a result back to the input's kind."""
    if isinstance(x, torch.Tensor):
        if not (x.dtype.is_floating_point or x.dtype in (torch.uint8, torch.int32, torch.int64)):
            raise TypeError(f"{name} must be a real numeric tensor, got {x.dtype}")
        dev, dt = x.device, x.dtype if x.dtype.is_floating_point else torch.float32
        return x, lambda out: out.to(device=dev, dtype=dt)
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a numeric array, got {x.dtype}")
        dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x)), lambda out: to_numpy(out, name).astype(dt, copy=False)
    raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")


class LatentModel(nn.Module):
    """Base for latentatlas models: the protocol's ``encode``/``decode``/``sample`` on top of ``_encode``/``_decode``.

    Subclasses implement ``_encode(x)`` and ``_decode(z)`` on float32 tensors already on
    the model's device, plus ``config()``/``from_config()`` for checkpoints. This class
    validates shapes and values, splits the work into batches, runs it under
    ``torch.inference_mode``, and returns the caller's kind (numpy in, numpy out; torch in,
    torch out on the caller's device and floating dtype).
    """

    model_type: ClassVar[str] = "base"
    has_encoder: ClassVar[bool] = True

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, prior: str) -> None:
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        self.latent_dim = check_int("latent_dim", latent_dim, 1)
        self.prior = check_prior(prior)
        self.meta: dict[str, Any] = {}

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The shape of one latent: ``(latent_dim,)`` for the flat built-in models."""
        return (self.latent_dim,)

    @property
    def device(self) -> torch.device:
        """Where the model's parameters (or buffers) live."""
        for t in list(self.parameters()) + list(self.buffers()):
            return t.device
        return torch.device("cpu")

    def _batched(self, fn: Callable[[torch.Tensor], torch.Tensor], x: Any, name: str,
                 trailing: tuple[int, ...], batch_size: int, unit_range: bool = False) -> Any:
        t, back = _as_tensor(x, name)
        if t.ndim != len(trailing) + 1 or tuple(t.shape[1:]) != trailing:
            raise ValueError(f"{name} must have shape (N, {', '.join(map(str, trailing))}), got {tuple(t.shape)}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        if unit_range and t.numel() and (float(t.min()) < -1e-6 or float(t.max()) > 1.0 + 1e-6):
            raise ValueError(
                f"{name} must be images with values in [0, 1], got range [{float(t.min()):.4g}, {float(t.max()):.4g}]"
            )
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                dev = self.device
                out = torch.cat(map_rows(lambda chunk: fn(chunk.to(device=dev, dtype=torch.float32)), t, batch_size,
                                         what=f"{type(self).__name__}.{getattr(fn, '__name__', 'fn')}"))
        finally:
            self.train(was_training)
        return back(out)

    def encode(self, x: Any, *, batch_size: int = 1024) -> Any:
        """Images ``(N, C, H, W)`` in [0, 1] -> latents ``(N, latent_dim)`` (the posterior mean for a VAE)."""
        if not self.has_encoder:
            raise TypeError(f"{type(self).__name__} has no encoder")
        return self._batched(self._encode, x, "x", self.image_shape, batch_size, unit_range=True)

    def decode(self, z: Any, *, batch_size: int = 1024) -> Any:
        """Latents ``(N, *latent_shape)`` -> images ``(N, C, H, W)`` in [0, 1]."""
        return self._batched(self._decode, z, "z", self.latent_shape, batch_size)

    def reconstruct(self, x: Any, *, batch_size: int = 1024) -> Any:
        """``decode(encode(x))``: the paper's reconstruction of an input through the model."""
        return self.decode(self.encode(x, batch_size=batch_size), batch_size=batch_size)

    def sample_latents(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` latents ``(n, *latent_shape)`` from the model's prior (CPU tensor; seeded when ``seed`` is given)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = prior_tensor(check_int("n", n, 1), self.latent_dim, self.prior, generator=gen)
        return z.reshape(z.shape[0], *self.latent_shape)

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """Decode ``n`` random latents from the prior: images ``(n, C, H, W)`` (CPU tensor)."""
        return self.decode(self.sample_latents(n, seed=seed)).cpu()

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict; ``from_config(config())`` rebuilds an identical model."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LatentModel:
        """Build an untrained model from :meth:`config` output, validating every field.

        The fields are exactly the constructor's keyword arguments (plus ``type``); a
        missing, unexpected or invalid field is a ValueError naming it.
        """
        if not isinstance(config, dict):
            raise ValueError(f"a model config must be a JSON object, got {type(config).__name__}")
        if config.get("type") != cls.model_type:
            raise ValueError(f"config type {config.get('type')!r} does not match model type {cls.model_type!r}")
        params = inspect.signature(cls.__init__).parameters
        expected = {k for k in params if k not in ("self", "seed")}
        required = {k for k in expected if params[k].default is inspect.Parameter.empty}
        given = set(config) - {"type"}
        if required - given:
            raise ValueError(f"{cls.model_type} config is missing fields {sorted(required - given)}")
        if given - expected:
            raise ValueError(f"{cls.model_type} config has unexpected fields {sorted(given - expected)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k != "type"}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid {cls.model_type} config: {exc}") from None

    def _init_seeded(self, seed: int | None, build: Callable[[], None]) -> None:
        """Run ``build`` (which creates the layers) under ``seed`` without touching the global RNG."""
        if seed is None:
            build()
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            build()

    def extra_repr(self) -> str:
        """Shape, latent size and prior, for ``repr``."""
        return f"image_shape={self.image_shape}, latent_dim={self.latent_dim}, prior={self.prior!r}"


class WrappedModel(LatentModel):
    """Any encoder/decoder pair (torch modules or plain callables) behind the latentatlas protocol."""

    model_type: ClassVar[str] = "wrapped"

    def __init__(self, encoder: Callable[[torch.Tensor], torch.Tensor] | None,
                 decoder: Callable[[torch.Tensor], torch.Tensor], latent_dim: int, prior: str,
                 image_shape: tuple[int, int, int] | None, output_range: tuple[float, float]) -> None:
        super().__init__(image_shape if image_shape is not None else (1, 1, 1), latent_dim, prior)
        # Unknown until the decoder first shows it (or an image is encoded), when not given.
        self.image_shape: tuple[int, int, int] | None = self.image_shape if image_shape is not None else None  # type: ignore[assignment]
        if not callable(decoder):
            raise TypeError(f"decoder must be callable, got {type(decoder).__name__}")
        if encoder is not None and not callable(encoder):
            raise TypeError(f"encoder must be callable or None, got {type(encoder).__name__}")
        lo, hi = (float(v) for v in output_range)
        if not hi > lo:
            raise ValueError(f"output_range must be (low, high) with high > low, got {output_range!r}")
        self.output_range = (lo, hi)
        self.encoder_fn = encoder
        self.decoder_fn = decoder
        self.has_encoder = encoder is not None  # type: ignore[misc]
        self._device = torch.device("cpu")

    @property
    def device(self) -> torch.device:
        """The device of the wrapped modules' parameters, else the device given to :func:`wrap`."""
        for t in list(self.parameters()) + list(self.buffers()):
            return t.device
        return self._device

    def encode(self, x: Any, *, batch_size: int = 1024) -> Any:
        """Images ``(N, C, H, W)`` in [0, 1] -> latents ``(N, latent_dim)`` via the wrapped encoder."""
        if self.image_shape is None:
            if getattr(x, "ndim", 0) != 4:
                raise ValueError(f"x must have shape (N, C, H, W), got {tuple(getattr(x, 'shape', ()))}")
            self.image_shape = check_image_shape(tuple(int(s) for s in x.shape[1:]))
        return super().encode(x, batch_size=batch_size)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.as_tensor(self.encoder_fn(x))  # type: ignore[misc]
        if z.shape != (x.shape[0], self.latent_dim):
            raise ValueError(f"the wrapped encoder returned shape {tuple(z.shape)}, expected ({x.shape[0]}, {self.latent_dim})")
        if not bool(torch.isfinite(z).all()):
            raise ValueError("the wrapped encoder returned NaN or infinite latents")
        return z.float()

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(self.decoder_fn(z))
        if self.image_shape is None and x.ndim == 4:
            self.image_shape = check_image_shape(tuple(int(s) for s in x.shape[1:]))
        if self.image_shape is None or x.shape != (z.shape[0], *self.image_shape):
            want = "(N, C, H, W)" if self.image_shape is None else str((z.shape[0], *self.image_shape))
            raise ValueError(f"the wrapped decoder returned shape {tuple(x.shape)}, expected {want}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("the wrapped decoder returned NaN or infinite values")
        lo, hi = self.output_range
        return ((x.float() - lo) / (hi - lo)).clamp(0.0, 1.0)


def wrap(
    encoder: Callable[[torch.Tensor], torch.Tensor] | None,
    decoder: Callable[[torch.Tensor], torch.Tensor],
    latent_dim: int,
    prior: str,
    *,
    image_shape: tuple[int, int, int] | None = None,
    output_range: tuple[float, float] = (0.0, 1.0),
    device: str | torch.device | None = "cpu",
) -> WrappedModel:
    """Put any encoder/decoder pair behind the latentatlas model protocol.

    ``encoder`` maps images ``(N, C, H, W)`` to ``(N, latent_dim)`` (None for a decoder-only
    GAN); ``decoder`` maps latents back. ``image_shape`` ``(C, H, W)`` is checked on every
    call; when None it is taken from the first images seen. They may be ``nn.Module``s (registered, so
    ``.to(device)`` moves them) or any callables on tensors. ``output_range`` is the
    decoder's native range, e.g. ``(-1, 1)`` for a tanh generator; outputs are mapped to
    [0, 1]. Calls are batched and run under ``torch.inference_mode`` on ``device``.
    """
    model = WrappedModel(encoder, decoder, latent_dim, prior, image_shape, output_range)
    model._device = resolve_device(device)
    model.to(model._device)
    return model
