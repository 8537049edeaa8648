"""Generative models behind one protocol: VAE, BiGAN (GAN with encoder), pixel Naive Bayes, and wrappers.

``load("digits-vae")`` etc. give the shipped, pre-trained checkpoints; ``save``/``load``
round-trip any built-in model through safetensors + JSON.
"""

from __future__ import annotations

from .base import GenerativeModel, LatentModel, WrappedModel, resolve_device, wrap
from .bigan import BiGAN
from .checkpoint import SHIPPED, load, read_config, save, shipped_info
from .naive_bayes import PixelNaiveBayes
from .train import TrainingDivergedError
from .vae import VAE

__all__ = [
    "SHIPPED",
    "BiGAN",
    "GenerativeModel",
    "LatentModel",
    "PixelNaiveBayes",
    "TrainingDivergedError",
    "VAE",
    "WrappedModel",
    "load",
    "read_config",
    "resolve_device",
    "save",
    "shipped_info",
    "wrap",
]
