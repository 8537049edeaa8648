"""Variational autoencoder (Kingma & Welling): MLP or convolutional, Bernoulli likelihood, Gaussian prior."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from .._arrays import is_number
from .base import LatentModel
from .nets import ImageDecoder, ImageEncoder, check_arch
from .train import batched_mean, run_training, training_images


class VAE(LatentModel):
    """A VAE with a diagonal-Gaussian encoder q(z|x), a Bernoulli decoder p(x|z) and prior N(0, I).

    Args:
        image_shape: ``(C, H, W)`` of the images.
        latent_dim: size of z (the blog uses 20 for digits).
        arch: ``"mlp"`` (hidden = layer widths) or ``"conv"`` (hidden = channels per stride-2 stage).
        hidden: layer widths / channels.
        beta: weight of the KL term (1 is the ELBO).
        likelihood: ``"bernoulli"`` (cross-entropy; forgiving about mid-grey intensities) or
            ``"gaussian"`` with fixed standard deviation ``sigma`` (holds intensities tightly,
            e.g. the brightness of the shapes).
        sigma: the Gaussian likelihood's standard deviation, in [0, 1] intensity units.
        seed: seeds the initial weights (the global RNG is left alone).

    ``encode`` returns the posterior mean; ``decode`` the Bernoulli means in [0, 1].
    """

    model_type: ClassVar[str] = "vae"

    def __init__(self, image_shape: Sequence[int], latent_dim: int = 20, *, arch: str = "mlp",
                 hidden: Sequence[int] = (256, 128), beta: float = 1.0, likelihood: str = "bernoulli",
                 sigma: float = 0.1, seed: int | None = None) -> None:
        super().__init__(tuple(image_shape), latent_dim, "gaussian")  # type: ignore[arg-type]
        self.arch, self.hidden = check_arch(arch, hidden)
        if not is_number(beta) or not beta >= 0:
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        self.beta = float(beta)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if not is_number(sigma) or not 0 < sigma <= 1:
            raise ValueError(f"sigma must be a number in (0, 1], got {sigma!r}")
        self.likelihood, self.sigma = likelihood, float(sigma)

        def build() -> None:
            self.encoder = ImageEncoder(self.image_shape, 2 * self.latent_dim, arch=self.arch, hidden=self.hidden)
            self.decoder = ImageDecoder(self.image_shape, self.latent_dim, arch=self.arch, hidden=self.hidden)

        self._init_seeded(seed, build)

    def config(self) -> dict[str, Any]:
        """Architecture fields for checkpoints."""
        return {"type": self.model_type, "image_shape": list(self.image_shape), "latent_dim": self.latent_dim,
                "arch": self.arch, "hidden": list(self.hidden), "beta": self.beta,
                "likelihood": self.likelihood, "sigma": self.sigma}

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), each ``(N, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def losses(self, x: torch.Tensor, *, sample: bool = True) -> dict[str, torch.Tensor]:
        """Per-image mean reconstruction (negative log-likelihood, nats), KL and ``loss = recon + beta * KL``."""
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        logits = self.decoder(z)
        n = x.shape[0]
        if self.likelihood == "bernoulli":
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        else:
            sq = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / n
            recon = sq / (2.0 * self.sigma**2) + x[0].numel() * math.log(self.sigma * math.sqrt(2.0 * math.pi))
        kl = -0.5 * torch.sum(1.0 + logvar - mu.pow(2) - logvar.exp()) / n
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl, "elbo": -(recon + kl)}

    def fit(self, dataset: Any, *, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
            device: str | torch.device | None = "cpu", progress: bool = True, eval_every: int = 1) -> list[dict[str, float]]:
        """Train on the data set's train split with Adam; validate on its valid split.

        Returns per-epoch records: train ``loss``/``recon``/``kl`` and ``valid_elbo``,
        ``valid_recon``, ``valid_kl``, ``valid_mse`` (reconstruction from the posterior
        mean). A NaN loss raises :class:`~latentatlas.models.TrainingDivergedError`.
        """
        train, valid = training_images(dataset, self.image_shape)
        opt = torch.optim.Adam(self.parameters(), lr=lr)

        def step(batch: torch.Tensor) -> dict[str, float]:
            out = self.losses(batch)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            out = {k: v.detach() for k, v in out.items()}
            opt.step()
            return {k: v.item() for k, v in out.items() if k != "elbo"}

        def evaluate(x: torch.Tensor) -> dict[str, float]:
            def one(chunk: torch.Tensor) -> dict[str, float]:
                out = self.losses(chunk, sample=False)
                mse = F.mse_loss(self._decode(self._encode(chunk)), chunk)
                return {"elbo": float(out["elbo"]), "recon": float(out["recon"]), "kl": float(out["kl"]), "mse": float(mse)}

            return batched_mean(one, x)

        history = run_training(self, train, valid, step=step, evaluate=evaluate, epochs=epochs, batch_size=batch_size,
                               seed=seed, device=device, progress=progress, eval_every=eval_every, desc="vae")
        self.meta["history"] = history
        return history
