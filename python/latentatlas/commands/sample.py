"""The ``latentatlas sample`` subcommand: prior sheets, interpolation grids and strips,
J-Diagrams, MINE grids and GIF walks, decoded by a model.

Anchors (the latents a grid or walk is spanned by) come from the model's prior (seeded by
``--seed``), from rows of a latent store (``--store``), or from data-set images encoded
by the model (``--data``); ``--indices`` picks the rows, and without it the first rows of
the validation split are used, as the paper does for its J-Diagrams.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from ._common import (IMAGE_SUFFIXES, SPLIT_CHOICES, add_data_arguments, add_device_argument,
                      add_model_argument, add_parser, add_progress_argument, check_images_fit, check_indices,
                      check_render_size,
                      check_latent_dim, check_output, int_list, load_dataset, load_model, load_store,
                      name_list, positive_int, print_written, split_rows)

METHODS = ("slerp", "lerp", "slerp-gaussian", "lerp-gaussian")
MINE_POOLS = ("held-out",) + SPLIT_CHOICES


def register(subparsers: Any) -> None:
    """Add the ``sample`` subcommand (with its kinds) to an argparse subparsers object."""
    p = add_parser(
        subparsers, "sample", help="decode sheets: prior samples, interpolation grids, J-Diagrams, MINE grids, GIF walks",
        description="Decode latent grids into image sheets (and walks into GIFs). Pick a kind; "
                    "'latentatlas sample KIND --help' lists its options.",
        examples=["latentatlas sample random --model digits-vae --rows 8 --cols 8 --seed 1 -o samples.png",
                  "latentatlas sample grid --model digits-gan --anchors 4 --method slerp -o grid.png",
                  "latentatlas sample jdiagram --model digits-vae --data digits -o jdiagram.png",
                  "latentatlas sample mine --model digits-vae --store digits-vae.npz --indices 5 -o mine.png",
                  "latentatlas sample walk --model digits-vae --anchors 5 --steps 12 -o walk.gif"])
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True

    k = _kind(kinds, "random", "a sheet of samples from the model's prior",
              "Decode rows x cols latents drawn from the model's prior (seeded).",
              "latentatlas sample random --model digits-vae --rows 8 --cols 8 --seed 1 -o samples.png",
              anchors=False)
    _grid_size(k, 8, 8)
    k.set_defaults(handler=_run_random)

    k = _kind(kinds, "grid", "an interpolation grid spanned by 2, 3 or 4 anchors",
              "2 anchors: a walk over all cells in reading order; 4: the corners (top left, top right, "
              "bottom left, bottom right) with rows and columns interpolated; 3: as 4 with the analogy "
              "B + C - A at the bottom right.",
              "latentatlas sample grid --model digits-vae --store digits-vae.npz --indices 0,1,2,3 "
              "--method lerp -o grid.png")
    _grid_size(k, 7, 7)
    k.add_argument("--anchors", type=int, default=4, choices=(2, 3, 4),
                   help="number of prior anchors when no --indices are given (default 4)")
    _method(k)
    k.set_defaults(handler=_run_grid)

    k = _kind(kinds, "strips", "lerp vs slerp strips between pairs of anchors (the paper's Figure 2)",
              "For each pair of anchors, one row per method with identical endpoints. With --indices, the "
              "first half are the starts and the second half the ends.",
              "latentatlas sample strips --model digits-vae --pairs 3 --methods lerp,slerp -o strips.png")
    k.add_argument("--pairs", type=positive_int, default=4, help="pairs of prior anchors without --indices (default 4)")
    k.add_argument("--steps", type=positive_int, default=9, help="cells per strip, endpoints included (default 9)")
    k.add_argument("--methods", type=name_list, default=("lerp", "slerp"),
                   help=f"comma-separated methods, one row each ({', '.join(METHODS)}; default lerp,slerp)")
    k.set_defaults(handler=_run_strips)

    k = _kind(kinds, "jdiagram", "a J-Diagram: analogy grid of three anchors (the paper's Figure 3)",
              "Source A top left, B top right, C bottom left, (B + C) - A bottom right, the rest "
              "interpolated. With --data the input images stand beside their corners.",
              "latentatlas sample jdiagram --model digits-vae --data digits --indices 10,20,30 -o jd.png")
    _grid_size(k, 7, 7)
    _method(k)
    k.set_defaults(handler=_run_jdiagram)

    k = _kind(kinds, "mine", "a MINE grid: nearest encoded neighbours laid out and interpolated (Figure 5)",
              "The nearest neighbours of a seed row among encoded data, placed so that latent neighbours are "
              "grid neighbours, anchors every --spacing cells and interpolation between. Needs --store or "
              "--data; --indices names the seed row (default: the first validation row).",
              "latentatlas sample mine --model digits-vae --store digits-vae.npz --rows 9 --cols 9 "
              "--spacing 2 -o mine.png")
    _grid_size(k, 9, 9)
    k.add_argument("--spacing", type=positive_int, default=2, help="cells from anchor to anchor (default 2)")
    k.add_argument("--space", choices=("cosine", "l2", "ip"), default="cosine", help="neighbour metric (default cosine)")
    k.add_argument("--pool", choices=MINE_POOLS, default="held-out",
                   help="rows searched for neighbours (default held-out: valid and test, out of sample)")
    _method(k)
    k.set_defaults(handler=_run_mine)

    k = _kind(kinds, "walk", "a GIF of an interpolated walk through anchors",
              "Walks from anchor to anchor (and back to the first, unless --open), --steps frames per leg.",
              "latentatlas sample walk --model digits-vae --anchors 5 --steps 12 --seed 3 -o walk.gif",
              suffixes=(".gif",))
    k.add_argument("--anchors", type=int, default=4, help="number of prior anchors without --indices (default 4)")
    k.add_argument("--steps", type=positive_int, default=16, help="frames per leg (default 16)")
    k.add_argument("--open", action="store_true", help="stop at the last anchor instead of returning to the first")
    k.add_argument("--duration-ms", type=positive_int, default=80, help="display time of each frame (default 80)")
    _method(k)
    k.set_defaults(handler=_run_walk)


def _kind(kinds: Any, name: str, help: str, description: str, example: str, *,
          anchors: bool = True, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> argparse.ArgumentParser:
    k = add_parser(kinds, name, help=help, description=description, examples=[example])
    add_model_argument(k)
    k.add_argument("--output", "-o", required=True, type=Path, help=f"file to write ({', '.join(suffixes)})")
    k.set_defaults(output_suffixes=suffixes)
    k.add_argument("--seed", type=int, default=0, help="seed of the prior samples (default 0)")
    k.add_argument("--save-latents", type=Path, metavar="JSON",
                   help="also write the decoded latents, in reading order, as the paper library's JSON")
    k.add_argument("--scale", type=positive_int, help="pixel upscaling of each image (default: at least 64 px)")
    k.add_argument("--batch-size", type=positive_int, default=256, help="latents per decoder call (default 256)")
    add_device_argument(k)
    add_progress_argument(k)
    if anchors:
        g = k.add_argument_group("anchors (default: the model's prior, seeded)")
        g.add_argument("--store", type=Path, help="take the anchors from rows of this latent store")
        g.add_argument("--indices", type=int_list, help="comma-separated row numbers (of the store or data set)")
        g.add_argument("--split", choices=SPLIT_CHOICES, default="valid",
                       help="without --indices, take the first rows of this split (default valid)")
        add_data_arguments(k, required=False)
    return k


def _grid_size(k: argparse.ArgumentParser, rows: int, cols: int) -> None:
    k.add_argument("--rows", type=positive_int, default=rows, help=f"grid rows (default {rows})")
    k.add_argument("--cols", type=positive_int, default=cols, help=f"grid columns (default {cols})")


def _method(k: argparse.ArgumentParser) -> None:
    k.add_argument("--method", choices=METHODS, default="slerp", help="interpolation (default slerp)")


# ----------------------------------------------------------------------------- anchors


class _Source:
    """Where anchors and neighbour pools come from: prior, store or encoded data set."""

    def __init__(self, args: argparse.Namespace, model: Any) -> None:
        self.args, self.model = args, model
        self.store = self.dataset = None
        if getattr(args, "store", None) is not None and getattr(args, "data", None) is not None:
            raise ValueError("give --store or --data, not both")
        if getattr(args, "store", None) is not None:
            self.store = load_store(args.store)
            check_latent_dim(self.store.latent_dim, model.latent_dim, "the store's latents", f"the model {args.model!r}")
            self.split = self.store.split
        elif getattr(args, "data", None) is not None:
            self.dataset = load_dataset(args)
            check_images_fit(model, self.dataset)
            self.split = self.dataset.split
        elif getattr(args, "indices", None) is not None:
            raise ValueError("--indices needs --store or --data")

    @property
    def name(self) -> str:
        """The source, for messages."""
        if self.store is not None:
            return f"the store {str(self.args.store)!r}"
        return f"the {self.dataset.name} data set" if self.dataset is not None else "the prior"

    def rows(self, count: int, check: Callable[[int], None]) -> list[int]:
        """The chosen rows: ``--indices`` (checked by ``check``) or the first ``count`` of ``--split``."""
        n = len(self.split)
        if self.args.indices is not None:
            check(len(self.args.indices))
            return check_indices(self.args.indices, n, self.name)
        rows = split_rows(self.split, self.args.split)
        if rows.size < count:
            raise ValueError(f"the {self.args.split!r} split of {self.name} has {rows.size} rows, {count} needed")
        return [int(r) for r in rows[:count]]

    def latents(self, rows: Any) -> Any:
        """Latents of rows of the store or of the encoded data set, float32 ``(K, D)``."""
        from .. import sampling

        if self.store is not None:
            return self.store.latents[rows]
        return sampling.encode_batched(self.model, self.dataset.images[rows], batch_size=self.args.batch_size)

    def anchors(self, count: int, check: Callable[[int], None]) -> tuple[Any, list[int] | None]:
        """``(K, D)`` anchors and their row numbers (None for prior samples)."""
        from .. import sampling

        if self.store is None and self.dataset is None:
            check(count)
            return sampling.sample_latents(self.model, count, seed=self.args.seed), None
        rows = self.rows(count, check)
        return self.latents(rows), rows


def _count_in(allowed: Callable[[int], bool], what: str) -> Callable[[int], None]:
    def check(k: int) -> None:
        if not allowed(k):
            raise ValueError(f"{what}, got {k} anchors")
    return check


# ----------------------------------------------------------------------------- kinds


def _start(args: argparse.Namespace) -> Any:
    check_output(args.output, args.output_suffixes)
    if args.save_latents is not None:
        check_output(args.save_latents, (".json",), "--save-latents")
    return load_model(args)


def _finish(args: argparse.Namespace, sheet: Any, latents: Any, summary: str) -> int:
    from .. import render
    from ..data import write_json_vectors

    written = [render.save_image(sheet, args.output)]
    if args.save_latents is not None:
        written.append(write_json_vectors(args.save_latents, latents.reshape(-1, latents.shape[-1])))
    print(summary)
    print_written(written)
    return 0


def _from(rows: list[int] | None, source: _Source, seed: int) -> str:
    return f"prior samples (seed {seed})" if rows is None else f"rows {rows} of {source.name}"


def _run_random(args: argparse.Namespace) -> int:
    from .. import sampling, sheets

    model = _start(args)
    check_render_size(args.rows * args.cols, f"--rows {args.rows} x --cols {args.cols}", model, args.scale)
    z = sampling.sample_grid(model, args.rows, args.cols, seed=args.seed)
    sheet = sheets.latent_grid_sheet(model, z, batch_size=args.batch_size, scale=args.scale)
    return _finish(args, sheet, z, f"decoded {args.rows}x{args.cols} samples of the {model.prior} prior "
                                   f"(seed {args.seed})")


def _run_grid(args: argparse.Namespace) -> int:
    from .. import grids, sheets

    model = _start(args)
    check_render_size(args.rows * args.cols, f"--rows {args.rows} x --cols {args.cols}", model, args.scale)
    source = _Source(args, model)
    z, rows = source.anchors(args.anchors, _count_in(lambda k: k in (2, 3, 4), "a grid needs 2, 3 or 4 anchors"))
    grid = grids.interpolation_grid(z, args.rows, args.cols, method=args.method)
    sheet = sheets.latent_grid_sheet(model, grid, batch_size=args.batch_size, scale=args.scale)
    return _finish(args, sheet, grid, f"decoded a {args.rows}x{args.cols} {args.method} grid spanned by "
                                      f"{len(z)} anchors: {_from(rows, source, args.seed)}")


def _run_strips(args: argparse.Namespace) -> int:
    from .. import grids, sheets

    for m in args.methods:
        if m not in METHODS:
            raise ValueError(f"--methods: unknown method {m!r}; choose from {', '.join(METHODS)}")
    if args.steps < 2:
        raise ValueError("--steps must be at least 2 (a strip includes both endpoints)")
    model = _start(args)
    pairs = len(args.indices) // 2 if args.indices is not None else args.pairs
    check_render_size(pairs * len(args.methods) * (args.steps + 2),
                      f"{pairs} pair(s) x {len(args.methods)} method(s) x --steps {args.steps}", model, args.scale)
    source = _Source(args, model)
    z, rows = source.anchors(2 * args.pairs, _count_in(lambda k: k >= 2 and k % 2 == 0,
                                                       "strips need an even number of anchors (starts, then ends)"))
    half = len(z) // 2
    strips = grids.interpolation_strips(z[:half], z[half:], args.steps, methods=args.methods)
    sheet = sheets.strips_sheet(model, z[:half], z[half:], args.steps, methods=args.methods,
                                batch_size=args.batch_size, scale=args.scale)
    return _finish(args, sheet, strips, f"decoded {half} pair(s) x {len(args.methods)} method(s) "
                                        f"({', '.join(args.methods)}), {args.steps} steps: {_from(rows, source, args.seed)}")


def _run_jdiagram(args: argparse.Namespace) -> int:
    from .. import grids, sheets

    if args.rows < 2 or args.cols < 2:
        raise ValueError("a J-Diagram needs --rows and --cols of at least 2")
    model = _start(args)
    check_render_size(args.rows * args.cols + 3, f"--rows {args.rows} x --cols {args.cols}", model, args.scale)
    source = _Source(args, model)
    z, rows = source.anchors(3, _count_in(lambda k: k == 3, "a J-Diagram needs exactly 3 anchors (A, B, C)"))
    grid = grids.j_diagram(z[0], z[1], z[2], args.rows, args.cols, method=args.method)
    if source.dataset is not None:  # show the input images beside their corners, as the paper does
        sheet = sheets.j_diagram_sheet(model, source.dataset.images[rows], args.rows, args.cols,
                                       method=args.method, batch_size=args.batch_size, scale=args.scale)
    else:
        sheet = sheets.latent_grid_sheet(model, grid, batch_size=args.batch_size, scale=args.scale)
    return _finish(args, sheet, grid, f"decoded a {args.rows}x{args.cols} {args.method} J-Diagram of "
                                      f"{_from(rows, source, args.seed)}")


def _run_mine(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import sheets

    model = _start(args)
    check_render_size(args.rows * args.cols, f"--rows {args.rows} x --cols {args.cols}", model, args.scale)
    source = _Source(args, model)
    if source.store is None and source.dataset is None:
        raise ValueError("a MINE grid searches encoded data: give --store or --data")
    (seed_row,) = source.rows(1, _count_in(lambda k: k == 1, "a MINE grid takes one seed row in --indices"))
    split = np.asarray(source.split)
    pool = np.flatnonzero(split != "train") if args.pool == "held-out" else split_rows(split, args.pool)
    if pool.size == 0:
        raise ValueError(f"the {args.pool!r} pool of {source.name} is empty")
    latents = source.latents(pool)
    seed = latents[int(np.searchsorted(pool, seed_row))] if seed_row in pool else source.latents([seed_row])[0]
    sheet, grid = sheets.mine_sheet(model, seed, latents, args.rows, args.cols, spacing=args.spacing,
                                    method=args.method, space=args.space, batch_size=args.batch_size,
                                    scale=args.scale)
    anchors = pool[grid.anchor_ids]
    print(f"anchor rows of {source.name} (nearest {anchors.size} of {pool.size} {args.pool} rows to row {seed_row}):")
    for line in anchors:
        print("  " + " ".join(f"{int(r):5d}" for r in line))
    return _finish(args, sheet, grid.latents, f"decoded a {args.rows}x{args.cols} MINE grid, spacing {args.spacing}, "
                                              f"{args.space} neighbours, {args.method} between anchors")


def _run_walk(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import grids, render, sampling
    from ..data import write_json_vectors

    model = _start(args)
    anchors = len(args.indices) if args.indices is not None else args.anchors
    check_render_size(anchors * args.steps + 1, f"{anchors} anchors x --steps {args.steps}", model, args.scale)
    source = _Source(args, model)
    z, rows = source.anchors(args.anchors, _count_in(lambda k: k >= 2, "a walk needs at least 2 anchors"))
    starts, ends = (z[:-1], z[1:]) if args.open else (z, np.roll(z, -1, axis=0))
    legs = grids.interpolation_strips(starts, ends, args.steps + 1, methods=(args.method,))
    walk = legs[:, :-1].reshape(-1, z.shape[1])  # each leg without its end: the next leg starts there
    if args.open:
        walk = np.concatenate([walk, z[-1:]])
    frames = sampling.decode_batched(model, walk, batch_size=args.batch_size)
    written = [render.save_gif(frames, args.output, duration_ms=args.duration_ms, scale=args.scale)]
    if args.save_latents is not None:
        written.append(write_json_vectors(args.save_latents, walk))
    print(f"decoded a {len(walk)}-frame {args.method} walk through {len(z)} anchors "
          f"({'open' if args.open else 'closed'}): {_from(rows, source, args.seed)}")
    print_written(written)
    return 0
