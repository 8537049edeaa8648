"""A GAN with an encoder, trained jointly in the BiGAN / ALI way (Donahue et al.; Dumoulin et al.).

The discriminator sees pairs: real ``(x, E(x))`` against generated ``(G(z), z)``. At the
optimum E and G invert each other. Small data sets and short runs rarely reach that, so
an optional cycle term (as in ALICE, Li et al. 2017) adds ``||G(E(x)) - x||^2`` and
``||E(G(z)) - z||^2`` to the generator/encoder loss; ``cycle_weight=0`` is plain BiGAN/ALI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .._arrays import is_number
from .base import LatentModel, prior_tensor
from .nets import ImageDecoder, ImageEncoder, check_arch, mlp
from .train import batched_mean, run_training, training_images


class JointDiscriminator(nn.Module):
    """D(x, z): an image branch and a latent branch joined by an MLP, giving one logit per pair."""

    def __init__(self, image_shape: Sequence[int], latent_dim: int, *, arch: str, hidden: Sequence[int],
                 dropout: float) -> None:
        super().__init__()
        feat = max(hidden)
        self.x_branch = ImageEncoder(image_shape, feat, arch=arch, hidden=hidden, leaky=True, dropout=dropout)
        self.z_branch = mlp([latent_dim, feat, feat], leaky=True, dropout=dropout)
        self.joint = mlp([2 * feat, feat, 1], leaky=True, dropout=dropout)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """One real/fake logit per ``(x, z)`` pair, ``(N,)``."""
        h = torch.cat([self.act(self.x_branch(x)), self.act(self.z_branch(z))], dim=1)
        return self.joint(h).squeeze(1)


class BiGAN(LatentModel):
    """Generator G(z), encoder E(x) and joint discriminator D(x, z), trained adversarially together.

    Args:
        image_shape: ``(C, H, W)``.
        latent_dim: size of z.
        prior: ``"uniform"`` (on [-1, 1]; E ends in tanh) or ``"gaussian"``.
        arch: ``"mlp"`` or ``"conv"`` for all three networks.
        hidden: layer widths / conv channels.
        dropout: dropout in the discriminator.
        cycle_weight: weight of the ALICE-style cycle-consistency term (0 = plain BiGAN/ALI).
        seed: seeds the initial weights.
    """

    model_type: ClassVar[str] = "bigan"

    def __init__(self, image_shape: Sequence[int], latent_dim: int = 20, *, prior: str = "uniform",
                 arch: str = "mlp", hidden: Sequence[int] = (256, 256), dropout: float = 0.2,
                 cycle_weight: float = 1.0, seed: int | None = None) -> None:
        super().__init__(tuple(image_shape), latent_dim, prior)  # type: ignore[arg-type]
        self.arch, self.hidden = check_arch(arch, hidden)
        for name, value, hi in (("dropout", dropout, 1.0), ("cycle_weight", cycle_weight, float("inf"))):
            if not is_number(value) or not 0.0 <= value < hi:
                raise ValueError(f"{name} must be a number in [0, {hi}), got {value!r}")
        self.dropout, self.cycle_weight = float(dropout), float(cycle_weight)

        def build() -> None:
            self.encoder = ImageEncoder(self.image_shape, self.latent_dim, arch=self.arch, hidden=self.hidden, leaky=True)
            self.generator = ImageDecoder(self.image_shape, self.latent_dim, arch=self.arch, hidden=self.hidden)
            self.discriminator = JointDiscriminator(self.image_shape, self.latent_dim, arch=self.arch,
                                                    hidden=self.hidden, dropout=self.dropout)

        self._init_seeded(seed, build)

    def config(self) -> dict[str, Any]:
        """Architecture fields for checkpoints."""
        return {"type": self.model_type, "image_shape": list(self.image_shape), "latent_dim": self.latent_dim,
                "prior": self.prior, "arch": self.arch, "hidden": list(self.hidden), "dropout": self.dropout,
                "cycle_weight": self.cycle_weight}

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        return torch.tanh(h) if self.prior == "uniform" else h

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.generator(z))

    def _pairs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        z = prior_tensor(x.shape[0], self.latent_dim, self.prior, device=x.device)
        return x, self._encode(x), self._decode(z), z

    def _ge_loss(self, x: torch.Tensor, ex: torch.Tensor, gz: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        adv = F.softplus(self.discriminator(x, ex)).mean() + F.softplus(-self.discriminator(gz, z)).mean()
        cycle = F.mse_loss(self._decode(ex), x, reduction="sum") / x.shape[0] + F.mse_loss(self._encode(gz), z, reduction="sum") / x.shape[0]
        return adv, cycle

    def fit(self, dataset: Any, *, epochs: int = 50, batch_size: int = 64, lr: float = 2e-4, seed: int = 0,
            device: str | torch.device | None = "cpu", progress: bool = True, eval_every: int = 1) -> list[dict[str, float]]:
        """Train on the train split (Adam, betas 0.5/0.999); validate on the valid split.

        Records per epoch: ``d_loss``, ``ge_loss``, ``cycle`` and ``valid_d_loss``,
        ``valid_ge_loss``, ``valid_d_acc`` (how often D tells real pairs from generated ones)
        and ``valid_recon_mse`` (encoder-decoder reconstruction error).
        """
        train, valid = training_images(dataset, self.image_shape)
        d_params = list(self.discriminator.parameters())
        ge_params = list(self.encoder.parameters()) + list(self.generator.parameters())
        opt_d = torch.optim.Adam(d_params, lr=lr, betas=(0.5, 0.999))
        opt_ge = torch.optim.Adam(ge_params, lr=lr, betas=(0.5, 0.999))

        def step(batch: torch.Tensor) -> dict[str, float]:
            x, ex, gz, z = self._pairs(batch)
            d_loss = F.softplus(-self.discriminator(x, ex.detach())).mean() + F.softplus(self.discriminator(gz.detach(), z)).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            adv, cycle = self._ge_loss(x, ex, gz, z)
            ge_loss = adv + self.cycle_weight * cycle
            opt_ge.zero_grad(set_to_none=True)
            ge_loss.backward()
            opt_ge.step()
            return {"loss": (d_loss + ge_loss).item(), "d_loss": d_loss.item(), "ge_loss": adv.item(), "cycle": cycle.item()}

        def evaluate(x_all: torch.Tensor) -> dict[str, float]:
            def one(chunk: torch.Tensor) -> dict[str, float]:
                x, ex, gz, z = self._pairs(chunk)
                real, fake = self.discriminator(x, ex), self.discriminator(gz, z)
                adv, _ = self._ge_loss(x, ex, gz, z)
                return {
                    "d_loss": float(F.softplus(-real).mean() + F.softplus(fake).mean()),
                    "ge_loss": float(adv),
                    "d_acc": float(((real > 0).float().mean() + (fake < 0).float().mean()) / 2),
                    "recon_mse": float(F.mse_loss(self._decode(ex), x)),
                }

            return batched_mean(one, x_all)

        history = run_training(self, train, valid, step=step, evaluate=evaluate, epochs=epochs, batch_size=batch_size,
                               seed=seed, device=device, progress=progress, eval_every=eval_every, desc="bigan")
        self.meta["history"] = history
        return history
