"""The training loop shared by every trainable model: seeding, batching, progress, validation, NaN guard."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from tqdm import tqdm

from .._arrays import check_int
from .base import resolve_device


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; training stopped early."""


def training_images(dataset: Any, image_shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The train split (and valid split, if any) of a Dataset as float32 tensors, checked against the model."""
    from ..data import Dataset

    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a latentatlas Dataset, got {type(dataset).__name__}")
    if dataset.image_shape != tuple(image_shape):
        raise ValueError(f"the model expects images of shape {tuple(image_shape)} but the data set has {dataset.image_shape}")
    train = dataset.images[dataset.split == "train"]
    if len(train) == 0:
        raise ValueError(f"the data set {dataset.name!r} has no 'train' images")
    valid = dataset.images[dataset.split == "valid"]
    return torch.from_numpy(train), (torch.from_numpy(valid) if len(valid) else None)


def run_training(
    model: torch.nn.Module,
    train: torch.Tensor,
    valid: torch.Tensor | None,
    *,
    step: Callable[[torch.Tensor], dict[str, float]],
    evaluate: Callable[[torch.Tensor], dict[str, float]],
    epochs: int,
    batch_size: int,
    seed: int,
    device: str | torch.device | None,
    progress: bool,
    eval_every: int = 1,
    desc: str = "train",
) -> list[dict[str, float]]:
    """Run ``epochs`` of seeded mini-batch ``step``s, evaluating on ``valid`` every ``eval_every`` epochs.

    ``step`` returns its losses (``"loss"`` among them); a non-finite one raises
    :class:`TrainingDivergedError` naming the epoch, step and loss. Returns one record per
    epoch: mean train losses, ``valid_*`` metrics when evaluated, and elapsed seconds.
    """
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    eval_every = check_int("eval_every", eval_every, 1)
    dev = resolve_device(device)
    model.to(dev)
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    n = train.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress, leave=False)
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(n, generator=gen)
            sums: dict[str, float] = {}
            for i in range(steps_per_epoch):
                batch = train[order[i * batch_size : (i + 1) * batch_size]].to(dev)
                losses = step(batch)
                bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
                if bad:
                    raise TrainingDivergedError(
                        f"training diverged: {', '.join(f'{k}={v}' for k, v in bad.items())} at epoch {epoch}, "
                        f"step {i + 1}; try a lower learning rate or a different seed"
                    )
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(1)
            record = {"epoch": float(epoch), **{k: v / steps_per_epoch for k, v in sums.items()}}
            if valid is not None and (epoch % eval_every == 0 or epoch == epochs):
                model.eval()
                with torch.no_grad():
                    record.update({f"valid_{k}": v for k, v in evaluate(valid.to(dev)).items()})
            record["seconds"] = time.perf_counter() - start
            history.append(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k not in ("epoch", "seconds")})
    finally:
        bar.close()
        model.eval()
    return history


def batched_mean(fn: Callable[[torch.Tensor], dict[str, float]], x: torch.Tensor, batch_size: int = 512) -> dict[str, float]:
    """Average ``fn``'s per-batch metrics over ``x`` in chunks, weighted by chunk size."""
    totals: dict[str, float] = {}
    for chunk in x.split(batch_size):
        for k, v in fn(chunk).items():
            totals[k] = totals.get(k, 0.0) + v * chunk.shape[0]
    return {k: v / x.shape[0] for k, v in totals.items()}
