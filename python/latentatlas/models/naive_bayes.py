"""The blog's pixel-space Naive-Bayes baseline: one diagonal Gaussian per class over the pixels.

Its "latent space" is pixel space itself (``encode`` flattens, ``decode`` reshapes and
clips), so class centroids are the class mean images and centroid interpolation is a
cross-fade -- the baseline the deep models are compared against. Sampling draws pixels
independently from a class's Gaussian, which is exactly why it cannot make sharp images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .._arrays import check_int, is_number
from .base import LatentModel


class PixelNaiveBayes(LatentModel):
    """Gaussian Naive Bayes over pixels: per-class means, variances and priors.

    Args:
        image_shape: ``(C, H, W)``.
        n_classes: number of classes.
        var_smoothing: added to every variance, as a fraction of the largest pixel variance
            (scikit-learn's GaussianNB convention), so constant pixels do not give zero variance.
    """

    model_type: ClassVar[str] = "naive_bayes"

    def __init__(self, image_shape: Sequence[int], n_classes: int = 10, *, var_smoothing: float = 1e-2) -> None:
        shape = tuple(image_shape)
        pixels = int(np.prod(shape)) if len(shape) == 3 else 0
        super().__init__(shape, max(pixels, 1), "gaussian")  # type: ignore[arg-type]
        self.n_classes = check_int("n_classes", n_classes, 1)
        if not is_number(var_smoothing) or not var_smoothing > 0:
            raise ValueError(f"var_smoothing must be a positive number, got {var_smoothing!r}")
        self.var_smoothing = float(var_smoothing)
        self.register_buffer("means", torch.zeros(self.n_classes, self.latent_dim))
        self.register_buffer("variances", torch.ones(self.n_classes, self.latent_dim))
        self.register_buffer("log_priors", torch.full((self.n_classes,), -math.log(self.n_classes)))

    def config(self) -> dict[str, Any]:
        """Architecture fields for checkpoints."""
        return {"type": self.model_type, "image_shape": list(self.image_shape), "n_classes": self.n_classes,
                "var_smoothing": self.var_smoothing}

    def fit(self, dataset: Any, **_: Any) -> list[dict[str, float]]:
        """Estimate class means, variances and priors from the train split (closed form, no epochs).

        Returns one record with the train and valid classification accuracy.
        """
        from .train import training_images

        if dataset.classes is None:
            raise ValueError(f"PixelNaiveBayes needs class ids; the data set {dataset.name!r} has none")
        training_images(dataset, self.image_shape)  # validates type, shape and a non-empty train split
        mask = dataset.split == "train"
        x = dataset.images[mask].reshape(int(mask.sum()), -1).astype(np.float64)
        y = dataset.classes[mask]
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"class ids must be in [0, {self.n_classes}), got range [{y.min()}, {y.max()}]")
        missing = sorted(set(range(self.n_classes)) - set(np.unique(y).tolist()))
        if missing:
            raise ValueError(f"classes {missing} have no training images")
        eps = self.var_smoothing * x.var(axis=0).max()
        means = np.stack([x[y == k].mean(axis=0) for k in range(self.n_classes)])
        variances = np.stack([x[y == k].var(axis=0) for k in range(self.n_classes)]) + eps
        counts = np.bincount(y, minlength=self.n_classes)
        self.means.copy_(torch.from_numpy(means))
        self.variances.copy_(torch.from_numpy(variances))
        self.log_priors.copy_(torch.from_numpy(np.log(counts / counts.sum())))
        record = {"train_acc": float((self.predict(dataset.images[mask]) == y).mean())}
        valid = dataset.split == "valid"
        if valid.any():
            record["valid_acc"] = float((self.predict(dataset.images[valid]) == dataset.classes[valid]).mean())
        self.meta["history"] = [record]
        return [record]

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(z.shape[0], *self.image_shape).clamp(0.0, 1.0)

    def _joint_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], 1, -1).double()
        var = self.variances.double()
        ll = -0.5 * (torch.log(2.0 * math.pi * var).sum(1) + ((flat - self.means.double()) ** 2 / var).sum(2))
        return ll + self.log_priors.double()

    def predict_log_proba(self, x: Any) -> np.ndarray:
        """Posterior log-probabilities of each class, ``(N, n_classes)`` float64."""
        jll = self._batched(self._joint_log_likelihood, x, "x", self.image_shape, 4096)
        jll = torch.as_tensor(jll).double().cpu()
        return (jll - torch.logsumexp(jll, dim=1, keepdim=True)).numpy()

    def predict(self, x: Any) -> np.ndarray:
        """Most probable class per image, ``(N,)`` int64."""
        return self.predict_log_proba(x).argmax(axis=1)

    def sample_class(self, class_id: int, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` images drawn pixel-independently from class ``class_id``'s Gaussian, clipped to [0, 1]."""
        class_id = check_int("class_id", class_id, 0, self.n_classes - 1)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        noise = torch.randn(check_int("n", n, 1), self.latent_dim, generator=gen, dtype=torch.float64)
        z = self.means[class_id].cpu().double() + noise * self.variances[class_id].cpu().double().sqrt()
        return self.decode(z.float())

    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` images: a class drawn from the priors, then pixels from that class's Gaussian."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        n = check_int("n", n, 1)
        classes = torch.multinomial(self.log_priors.cpu().exp(), n, replacement=True, generator=gen)
        noise = torch.randn(n, self.latent_dim, generator=gen)
        z = self.means.cpu()[classes] + noise * self.variances.cpu()[classes].sqrt()
        return self.decode(z)
