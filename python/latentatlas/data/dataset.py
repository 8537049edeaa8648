"""The one ``Dataset`` shape every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._arrays import check_images
from ._util import SPLITS, check_annotations


@dataclass(eq=False)
class Dataset:
    """Images with binary attribute labels, optional class ids, and a train/valid/test split.

    Attributes:
        images: ``(N, C, H, W)`` float32 in ``[0, 1]``: a numpy array, or image files
            decoded a batch at a time (:class:`~latentatlas.data.LazyImages`, from the
            loaders' ``lazy=True``).
        labels: ``(N, K)`` uint8 in ``{0, 1}``; column ``k`` is attribute ``label_names[k]``.
        label_names: the ``K`` attribute names.
        split: ``(N,)`` strings, each ``"train"``, ``"valid"`` or ``"test"``.
        classes: ``(N,)`` int64 class ids where the data has classes (digits, MNIST), else None.
        factors: ground-truth generative factors, name -> ``(N,)`` array (the shapes data set), else None.
        name: a short description used in provenance records (e.g. ``"digits"``).

    The constructor validates every field and raises ``ValueError``/``TypeError`` naming the
    problem, so a Dataset that exists is consistent.
    """

    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    split: np.ndarray
    classes: np.ndarray | None = None
    factors: dict[str, np.ndarray] | None = None
    name: str = "dataset"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        images = self.images
        if getattr(images, "is_lazy_images", False):  # files decoded on demand: shape known, pixels in [0, 1]
            if len(images) == 0:
                raise ValueError("a Dataset needs at least one image, got 0")
            if images.shape[1] not in (1, 3):
                raise ValueError(f"images must have 1 or 3 channels, got {images.shape[1]}")
            self.labels, self.label_names, self.split, self.classes = check_annotations(
                len(images), self.labels, self.label_names, self.split, self.classes
            )
            return
        if not isinstance(images, np.ndarray):
            raise TypeError(f"images must be a numpy array, got {type(images).__name__}")
        if images.dtype != np.float32:  # stored as given: no silent copy of a large data set
            raise TypeError(f"images must be float32, got {images.dtype}")
        check_images(images)
        n = images.shape[0]
        if n == 0:
            raise ValueError("a Dataset needs at least one image, got 0")
        if images.min() < 0.0 or images.max() > 1.0:
            raise ValueError(f"images must be within [0, 1], got range [{images.min():.4g}, {images.max():.4g}]")
        self.labels, self.label_names, self.split, self.classes = check_annotations(
            n, self.labels, self.label_names, self.split, self.classes
        )
        if self.factors is not None:
            for key, values in self.factors.items():
                if np.shape(values) != (n,):
                    raise ValueError(f"factor {key!r} must have shape ({n},), got {np.shape(values)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, which: str | np.ndarray) -> Dataset:
        """Rows of one split (``"train"``, ``"valid"``, ``"test"``), or of a boolean mask / index array."""
        if isinstance(which, str):
            if which not in SPLITS:
                raise ValueError(f"split must be one of {SPLITS}, got {which!r}")
            index = np.flatnonzero(self.split == which)
            if index.size == 0:
                raise ValueError(f"the {which!r} split of {self.name!r} is empty")
        else:
            index = np.asarray(which)
            if index.dtype == bool:
                if index.shape != (len(self),):
                    raise ValueError(f"a boolean mask must have shape ({len(self)},), got {index.shape}")
                index = np.flatnonzero(index)
            elif index.dtype.kind not in "iu" or index.ndim != 1:
                raise TypeError(f"subset takes a split name, a boolean mask or a 1-D integer index, got {index.dtype}")
        return Dataset(
            images=self.images[index],
            labels=self.labels[index],
            label_names=list(self.label_names),
            split=self.split[index],
            classes=None if self.classes is None else self.classes[index],
            factors=None if self.factors is None else {k: np.asarray(v)[index] for k, v in self.factors.items()},
            name=self.name,
            meta=dict(self.meta),
        )

    def __repr__(self) -> str:
        counts = {s: int((self.split == s).sum()) for s in SPLITS}
        return (
            f"Dataset({self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
            f"labels={len(self.label_names)}, splits={counts})"
        )
