"""scikit-learn's bundled 8x8 handwritten digits (no download needed), and the pixel
classifier that judges how digit-like generated images are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._util import random_split
from .dataset import Dataset


def load_digits(*, split_fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Dataset:
    """Load the 1797 bundled 8x8 digits as a Dataset.

    Images are ``(N, 1, 8, 8)`` with the original 0..16 grey levels scaled to ``[0, 1]``;
    ``labels`` is the one-hot ``(N, 10)`` class matrix with names ``"0"``..``"9"`` and
    ``classes`` the digit. The split is a seeded random permutation with
    ``split_fractions`` (train, valid, test), so it is the same on every machine.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    raw = np.asarray(bunch.images, dtype=np.float32)
    images = (raw / 16.0)[:, None, :, :]
    classes = np.asarray(bunch.target, dtype=np.int64)
    labels = np.eye(10, dtype=np.uint8)[classes]
    return Dataset(
        images=images,
        labels=labels,
        label_names=[str(d) for d in range(10)],
        split=random_split(len(classes), split_fractions, seed),
        classes=classes,
        name="digits",
        meta={"source": "sklearn.datasets.load_digits", "split_seed": seed},
    )


def digit_classifier(dataset: Dataset, *, seed: int = 0) -> Any:
    """The blog's yardstick for generated digits: a logistic regression on the pixels of
    the data set's real training images, predicting ``dataset.classes``.

    The quality bars of the shipped models, the experiments and the demo all judge
    decoded images with it. Fitting takes well under a second on the digits (lbfgs
    converges in under 100 of its 5000 allowed iterations).
    """
    from sklearn.linear_model import LogisticRegression

    if dataset.classes is None:
        raise ValueError(f"a digit classifier needs class ids; the data set {dataset.name!r} has none")
    train = dataset.subset("train")
    return LogisticRegression(max_iter=5000, random_state=seed).fit(train.images.reshape(len(train), -1),
                                                                    train.classes)
