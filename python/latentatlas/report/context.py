"""What the demo's sections share: the run's sizes (full or fast), the progress lines,
the writer that puts figures into the report folder, and the context holding the shipped
models, the bundled data, their latents and the digit classifier."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import IO, Any, Sequence

import numpy as np

from .page import Figure


@dataclass(frozen=True)
class Sizes:
    """How much each section draws, decodes and measures (:data:`FULL` or :data:`FAST`)."""

    path_pairs: int       # prior pairs for the norm-along-the-path curves
    path_steps: int       # points along each path
    quality_pairs: int    # pairs whose midpoints the digit classifier judges
    strips: int           # interpolation pairs drawn per model
    grid: int             # J-Diagram rows = cols
    mine: int             # MINE grid rows = cols (spacing 2)
    samples: int          # prior sample sheet rows = cols
    shapes_n: int         # shapes images per attribute experiment
    atdot_n: int          # shapes images for traversals and the AtDot table
    strengths: int        # traversal / two-attribute grid strengths
    walk_alphas: int      # cells per centroid walk
    measure_n: int        # held-out latents over which factor changes are averaged
    vae2d_epochs: int     # epochs of the blog's 2-D VAE, trained in the run
    nb_samples: int       # Naive-Bayes samples drawn per digit
    gap_permutations: int  # permutations of the prior-gap MMD test


#: The sizes of the full run and of ``--fast`` (every section kept, fewer samples and cells).
FULL = Sizes(path_pairs=2000, path_steps=21, quality_pairs=500, strips=4, grid=7, mine=9, samples=8,
             shapes_n=6000, atdot_n=3000, strengths=7, walk_alphas=9, measure_n=400,
             vae2d_epochs=100, nb_samples=6, gap_permutations=200)
FAST = Sizes(path_pairs=200, path_steps=11, quality_pairs=100, strips=2, grid=5, mine=5, samples=5,
             shapes_n=1200, atdot_n=800, strengths=5, walk_alphas=5, measure_n=100,
             vae2d_epochs=20, nb_samples=3, gap_permutations=50)


class Progress:
    """One line per step on ``stream`` with the time since the start."""

    def __init__(self, total: int, stream: IO[str] | None) -> None:
        self.start = time.perf_counter()
        self.total = total
        self.count = 0
        self.stream = stream
        self.marks: dict[str, float] = {}
        self._last: tuple[str, float] | None = None

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.start

    def step(self, name: str) -> None:
        """Close the running step (recording its duration) and announce step ``name``."""
        self._close()
        self.count += 1
        self._last = (name, self.elapsed())
        self.say(f"[{self.count}/{self.total}] {name}")

    def _close(self) -> None:
        if self._last is not None:
            name, began = self._last
            self.marks[name] = round(self.elapsed() - began, 3)
            self._last = None

    def say(self, text: str) -> None:
        """One line on the stream, prefixed with the elapsed time."""
        if self.stream is not None:
            print(f"[{self.elapsed():6.1f}s] {text}", file=self.stream, flush=True)

    def finish(self) -> float:
        """Close the last step; returns the total seconds."""
        self._close()
        return self.elapsed()


class FigureWriter:
    """Writes figures into the report folder and describes them for the page."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.written: list[str] = []

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def sheet(self, name: str, sheet: np.ndarray, alt: str, caption: str = "") -> Figure:
        """Save an image sheet (``uint8``, from :mod:`latentatlas.render`) as ``name``."""
        from .. import render

        self.written.append(render.save_image(sheet, self._path(name)))
        return Figure(name, sheet.shape[1], sheet.shape[0], alt, caption, pixelated=True)

    def gif(self, name: str, frames: np.ndarray, alt: str, caption: str = "") -> Figure:
        """Save ``(T, C, H, W)`` frames as the animated GIF ``name``."""
        from .. import render

        self.written.append(render.save_gif(frames, self._path(name), duration_ms=90))
        side = frames.shape[-1] * render.auto_scale(frames.shape[-2], frames.shape[-1])
        return Figure(name, side, frames.shape[-2] * side // frames.shape[-1], alt, caption, pixelated=True)

    def plot(self, name: str, draw: Any, alt: str, caption: str = "") -> Figure:
        """``draw(path)`` writes a matplotlib figure (a :mod:`latentatlas.plots` function)."""
        from PIL import Image

        path = draw(self._path(name))
        self.written.append(path)
        with Image.open(path) as im:
            width, height = im.size
        return Figure(name, width, height, alt, caption, pixelated=False)


class Context:
    """What the sections share: models, data, latents, the classifier, sizes, the writer."""

    def __init__(self, writer: FigureWriter, sizes: Sizes, seed: int, device: str) -> None:
        from .. import data, experiments, models, sampling

        self.w, self.sizes, self.seed, self.device = writer, sizes, seed, device
        self.results: dict[str, Any] = {}
        self.vae = models.load("digits-vae", device=device)
        self.gan = models.load("digits-gan", device=device)
        self.shapes_vae = models.load("shapes-vae", device=device)
        for m in (self.vae, self.gan, self.shapes_vae):
            m.eval()
        self.digits = data.load_digits()
        self.vae_latents = sampling.encode_batched(self.vae, self.digits.images)
        self.classifier = experiments.digit_classifier(self.digits, seed=seed)
        self.shapes = data.make_shapes(sizes.atdot_n, seed=seed + 7)
        self.shapes_latents = sampling.encode_batched(self.shapes_vae, self.shapes.images)
        self.correlated_details: dict[str, Any] = {}

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The digit the pixel classifier gives each image."""
        return self.classifier.predict(np.asarray(images).reshape(len(images), -1))

    def confidence(self, images: np.ndarray) -> float:
        """Mean top-class probability the pixel classifier gives the images."""
        p = self.classifier.predict_proba(np.asarray(images).reshape(len(images), -1))
        return float(p.max(axis=1).mean())

    def decode_shapes(self, latents: Sequence[np.ndarray]) -> np.ndarray:
        """Decode several latent batches with ``shapes-vae``, concatenated in order."""
        from .. import sampling

        flat = np.concatenate([np.asarray(z, np.float32) for z in latents])
        return sampling.decode_batched(self.shapes_vae, flat)
