"""The paper's pictures for any protocol model: J-Diagrams, MINE grids, lerp-vs-slerp
strips, prior samples and prior grids, and slerp walks as GIFs.

Each ``*_sheet`` function returns a ``uint8`` sheet (see :func:`latentatlas.render.image_sheet`);
:func:`render_paper_sheets` writes the whole set for a model and a data set, and
``latentatlas sheets --model digits-vae --out sheets/`` does that for a shipped model on
the bundled digits.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from . import grids, render, sampling
from ._arrays import check_int, latent_shape_of

__all__ = ["j_diagram_sheet", "strips_sheet", "mine_sheet", "latent_grid_sheet", "first_images",
           "render_paper_sheets"]

Array = Any


def latent_grid_sheet(model: Any, latents: Array, *, batch_size: int = 256, pad: int = 2,
                      scale: int | None = None, row_labels: Sequence[str] | None = None,
                      col_labels: Sequence[str] | None = None) -> np.ndarray:
    """Decodes a ``(rows, cols, D)`` (or ``(rows, cols, *S)``) latent grid in batches and
    lays it out as a sheet."""
    shape = tuple(latents.shape)
    if len(shape) < 3:
        raise ValueError(f"latents must be a (rows, cols, D) or (rows, cols, *S) grid, got shape {shape}")
    images = sampling.decode_batched(model, latents, batch_size=batch_size)
    flat = images.reshape((shape[0] * shape[1],) + images.shape[2:])
    return render.image_sheet(flat, shape[0], shape[1], pad=pad, scale=scale,
                              row_labels=row_labels, col_labels=col_labels)


def j_diagram_sheet(model: Any, images: Array, rows: int = 7, cols: int = 7, *, method: str = "slerp",
                    batch_size: int = 256, pad: int = 2, pad_value: float = 0.5,
                    scale: int | None = None) -> np.ndarray:
    """The J-Diagram of Figure 3 for three input images.

    The images are encoded; the grid has the source A's reconstruction top left, B's top
    right, C's bottom left, the analogy ``(B + C) − A`` bottom right and slerp everywhere
    else. Each input image stands beside its corner's reconstruction, in an extra column
    (A and C on the left, B on the right), so the sheet is ``rows × (cols + 2)`` cells.

    Args:
        model: a protocol model with an encoder.
        images: ``(3, C, H, W)``: A, B, C (the paper uses the first three validation images).
        rows, cols: the grid inside, each >= 2.
        method: interpolation method.
    """
    imgs = render.to_numpy_images(images)
    if imgs.shape[0] != 3:
        raise ValueError(f"images must hold exactly 3 images (A, B, C), got {imgs.shape[0]}")
    rows = check_int("rows", rows, 2)
    cols = check_int("cols", cols, 2)
    a, b, c = sampling.encode_batched(model, imgs, batch_size=batch_size)
    decoded = sampling.decode_batched(model, grids.j_diagram(a, b, c, rows, cols, method=method),
                                      batch_size=batch_size)
    if decoded.shape[2:] != imgs.shape[1:]:
        raise ValueError(f"the model decodes to {decoded.shape[2:]} images but the inputs are {imgs.shape[1:]}")
    cells = np.full((rows, cols + 2) + imgs.shape[1:], pad_value, dtype=np.float32)
    cells[:, 1:-1] = decoded
    cells[0, 0], cells[0, -1], cells[-1, 0] = imgs[0], imgs[1], imgs[2]
    return render.image_sheet(cells.reshape((-1,) + imgs.shape[1:]), rows, cols + 2, pad=pad,
                              pad_value=pad_value, scale=scale)


def strips_sheet(model: Any, a: Array, b: Array, steps: int = 9, *,
                 methods: Sequence[str] = ("lerp", "slerp"), batch_size: int = 256, pad: int = 2,
                 scale: int | None = None) -> np.ndarray:
    """Figure 2: for each pair of latents, one walk per method with identical endpoints,
    one row each, labelled with the method."""
    strips = grids.interpolation_strips(a, b, steps, methods=methods)
    labels = [m for _ in range(strips.shape[0] // len(methods)) for m in methods]
    return latent_grid_sheet(model, strips, batch_size=batch_size, pad=pad, scale=scale, row_labels=labels)


def mine_sheet(model: Any, seed: Array, latents: Array, rows: int = 9, cols: int = 9, *, spacing: int = 2,
               method: str = "slerp", space: str = "cosine", index: Any = None, batch_size: int = 256,
               pad: int = 2, scale: int | None = None) -> tuple[np.ndarray, grids.MineGrid]:
    """Figure 5: a MINE grid around ``seed`` in the encoded data set ``latents``, decoded.

    Returns the sheet and the :class:`~latentatlas.grids.MineGrid` (anchor ids and
    distances, for captions)."""
    grid = grids.mine_grid(seed, latents, rows, cols, spacing=spacing, method=method, space=space, index=index)
    return latent_grid_sheet(model, grid.latents, batch_size=batch_size, pad=pad, scale=scale), grid


def first_images(dataset: Any, n: int = 3, split: str = "valid") -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images of a split (the paper's reproducible J-Diagram inputs) and
    their row numbers in the data set."""
    n = check_int("n", n, 1)
    for attr in ("images", "split"):
        if not hasattr(dataset, attr):
            raise TypeError(f"dataset must have .images and .split; it has no {attr!r}")
    rows = np.flatnonzero(np.asarray(dataset.split) == split)
    if len(rows) < n:
        raise ValueError(f"the {split!r} split has {len(rows)} images, fewer than {n}")
    return np.asarray(dataset.images[rows[:n]]), rows[:n]


def render_paper_sheets(model: Any, dataset: Any, out_dir: str | os.PathLike, *, rows: int = 7, cols: int = 7,
                        seed: int = 0, batch_size: int = 256) -> dict[str, str]:
    """Writes the section-2 pictures for ``model`` on ``dataset`` into ``out_dir``.

    - ``j_diagram.png``: J-Diagram of the first three validation images (slerp);
    - ``j_diagram_lerp.png``: the same with lerp, for comparison;
    - ``mine.png``: 9×9 MINE grid (spacing 2) around the first validation image (the
      J-Diagram's source), in the encodings of all validation and test images (out of
      sample);
    - ``strips_prior.png``: lerp vs slerp between pairs of prior samples (Figure 2);
    - ``strips_encoded.png``: lerp vs slerp between encoded validation images;
    - ``samples.png``: prior samples; ``prior_grid.png``: inverse-CDF grid over the two
      latent coordinates with the largest variance in the held-out encodings (others 0);
    - ``walk.gif``: a slerp walk through four prior samples, there and back.

    Returns:
        ``{name: path}`` of the files written.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    dim, prior = model.latent_dim, model.prior
    shape = latent_shape_of(model)
    written: dict[str, str] = {}

    def save(name: str, sheet: np.ndarray) -> None:
        written[name] = render.save_image(sheet, os.path.join(out_dir, name))

    inputs, _ = first_images(dataset, 3)
    save("j_diagram.png", j_diagram_sheet(model, inputs, rows, cols, batch_size=batch_size))
    save("j_diagram_lerp.png", j_diagram_sheet(model, inputs, rows, cols, method="lerp", batch_size=batch_size))

    split = np.asarray(dataset.split)
    held_out = np.flatnonzero(split != "train")
    latents = sampling.encode_batched(model, dataset.images[held_out], batch_size=batch_size)
    seed_row = int(np.flatnonzero(split[held_out] == "valid")[0])  # the J-Diagram's source A
    sheet, _ = mine_sheet(model, latents[seed_row], latents, 9, 9, spacing=2, batch_size=batch_size)
    save("mine.png", sheet)

    z = sampling.sample_latents(model, 8, seed=seed)
    save("strips_prior.png", strips_sheet(model, z[:4], z[4:], 9, batch_size=batch_size))
    save("strips_encoded.png", strips_sheet(model, latents[1:4], latents[4:7], 9, batch_size=batch_size))
    save("samples.png", latent_grid_sheet(model, sampling.sample_grid(model, 8, 8, seed=seed + 1),
                                          batch_size=batch_size))
    if dim >= 2:
        # the two coordinates the held-out encodings use most (a VAE leaves some inactive)
        flat = latents.reshape(len(latents), -1)  # coordinates of the flattened latents
        second, first = (int(i) for i in np.argsort(flat.var(axis=0), kind="stable")[-2:])
        grid = sampling.prior_grid(9, 9, dim, prior, axes=(first, second)).reshape(9, 9, *shape)
        save("prior_grid.png", latent_grid_sheet(model, grid, batch_size=batch_size))
    keys = sampling.sample_latents(model, 4, seed=seed + 2)
    walk = grids.interpolation_strips(keys, np.roll(keys, -1, axis=0), 16, methods=("slerp",))[:, :-1]
    frames = sampling.decode_batched(model, walk.reshape(-1, *shape), batch_size=batch_size)
    written["walk.gif"] = render.save_gif(frames, os.path.join(out_dir, "walk.gif"))
    return written

