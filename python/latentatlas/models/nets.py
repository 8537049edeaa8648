"""Network builders shared by the VAE and the BiGAN: MLP and convolutional encoders / decoders.

The convolutional pair handles any image size: the encoder halves the resolution with
stride-2 convolutions until it is at most 4 pixels, and the decoder doubles up from the
rounded-up size and crops the centre to the exact size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._arrays import is_int


def _act(leaky: bool) -> nn.Module:
    return nn.LeakyReLU(0.2) if leaky else nn.ReLU()


def n_halvings(h: int, w: int) -> int:
    """How many stride-2 stages bring min(H, W) down to at most 4 (at least one)."""
    return max(1, math.ceil(math.log2(max(min(h, w), 2) / 4.0)))


def mlp(sizes: Sequence[int], *, leaky: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with activations between (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(_act(leaky))
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """Images ``(N, C, H, W)`` -> features ``(N, out_dim)`` by an MLP or a stride-2 conv stack."""

    def __init__(self, image_shape: Sequence[int], out_dim: int, *, arch: str, hidden: Sequence[int],
                 leaky: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        c, h, w = image_shape
        if arch == "mlp":
            self.body = nn.Sequential(nn.Flatten(), mlp([c * h * w, *hidden, out_dim], leaky=leaky, dropout=dropout))
            return
        stages = n_halvings(h, w)
        chans = _stage_channels(hidden, stages)
        layers: list[nn.Module] = []
        prev, hh, ww = c, h, w
        for ch in chans:
            layers += [nn.Conv2d(prev, ch, 4, stride=2, padding=1), _act(leaky)]
            prev, hh, ww = ch, (hh - 2) // 2 + 1, (ww - 2) // 2 + 1
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(prev * hh * ww, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(N, out_dim)``."""
        return self.body(x)


class ImageDecoder(nn.Module):
    """Latents ``(N, D)`` -> image logits ``(N, C, H, W)`` (apply sigmoid for [0, 1])."""

    def __init__(self, image_shape: Sequence[int], in_dim: int, *, arch: str, hidden: Sequence[int],
                 leaky: bool = False) -> None:
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (c, h, w)
        self.arch = arch
        if arch == "mlp":
            self.body = mlp([in_dim, *reversed(list(hidden)), c * h * w], leaky=leaky)
            return
        stages = n_halvings(h, w)
        chans = list(reversed(_stage_channels(hidden, stages)))
        self.h0, self.w0 = math.ceil(h / 2**stages), math.ceil(w / 2**stages)
        self.c0 = chans[0]
        self.fc = nn.Sequential(nn.Linear(in_dim, self.c0 * self.h0 * self.w0), _act(leaky))
        layers: list[nn.Module] = []
        for i, ch in enumerate(chans):
            out = chans[i + 1] if i + 1 < len(chans) else c
            layers.append(nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1))
            if i + 1 < len(chans):
                layers.append(_act(leaky))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, C, H, W)``."""
        c, h, w = self.image_shape
        if self.arch == "mlp":
            return self.body(z).view(-1, c, h, w)
        x = self.body(self.fc(z).view(-1, self.c0, self.h0, self.w0))
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top : top + h, left : left + w]


def _stage_channels(hidden: Sequence[int], stages: int) -> list[int]:
    """Channel count per conv stage: ``hidden`` extended with its last value (or cut) to ``stages``."""
    chans = list(hidden)[:stages]
    return chans + [chans[-1]] * (stages - len(chans))


def check_arch(arch: str, hidden: Sequence[int]) -> tuple[str, tuple[int, ...]]:
    """Validate an architecture name and its hidden sizes (layer widths or conv channels)."""
    if arch not in ("mlp", "conv"):
        raise ValueError(f"arch must be 'mlp' or 'conv', got {arch!r}")
    if not isinstance(hidden, (list, tuple)) or not hidden or not all(is_int(h) and h > 0 for h in hidden):
        raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {hidden!r}")
    return arch, tuple(int(h) for h in hidden)
