"""Arguments and checks shared by the subcommands.

Nothing here imports torch or numpy at module level (the command line must start fast);
the loaders import what they need when called.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._protocol import SHIPPED

DATASETS = ("digits", "shapes", "mnist", "celeba", "folder")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SPLIT_CHOICES = ("train", "valid", "test", "all")

# argparse takes "-1,0,1" for an unknown option unless it looks like a negative number;
# teach each parser that comma lists of numbers are values too.
_NUMBER = r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_NEGATIVE_VALUE = re.compile(rf"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(,{_NUMBER})*$")


def add_parser(subparsers: Any, name: str, *, help: str, description: str, examples: Sequence[str]) -> Any:
    """A subcommand parser with ``description``, an "examples:" epilog kept as written,
    and negative number lists (``--strength -1,0,1``) accepted as option values."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    p = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    allow_negative_values(p)
    return p


def allow_negative_values(parser: argparse.ArgumentParser) -> None:
    """Let ``parser`` read ``-1,0,1`` as a value, not as an unknown option."""
    if hasattr(parser, "_negative_number_matcher"):
        parser._negative_number_matcher = _NEGATIVE_VALUE


# ----------------------------------------------------------------------------- argument types


def int_list(text: str, minimum: int = 0) -> tuple[int, ...]:
    """argparse type: comma-separated integers of at least ``minimum`` (by default
    non-negative: row indices), e.g. ``0,5,9``."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if min(values) < minimum:
        kind = {0: "non-negative integers", 1: "positive integers"}.get(minimum, f"integers >= {minimum}")
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
    return values


def positive_int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated integers >= 1 (layer widths), e.g. ``256,128``."""
    return int_list(text, minimum=1)


def float_list(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated finite numbers, e.g. ``-1,0,1.5``."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def name_list(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated non-empty names, e.g. ``smiling,male``."""
    names = tuple(v.strip() for v in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ----------------------------------------------------------------------------- shared options


def add_data_arguments(p: argparse.ArgumentParser, *, required: bool, n_default: int = 10000) -> None:
    """``--data`` and the options of the data loaders (the same for every command)."""
    g = p.add_argument_group("data set")
    g.add_argument("--data", required=required, choices=DATASETS, help="data set")
    g.add_argument("--data-root", type=Path, help="folder for mnist / celeba / folder data")
    g.add_argument("--labels-csv", type=Path, help="labels CSV for --data folder")
    g.add_argument("--image-size", type=int, help="resize images (celeba, folder) / render size (shapes)")
    g.add_argument("--n", type=positive_int, default=n_default,
                   help=f"number of shapes images (default {n_default})")
    g.add_argument("--limit", type=positive_int, help="load only the first N CelebA images")
    g.add_argument("--data-seed", type=int, default=0, help="seed for generated data and random splits (default 0)")


def add_model_argument(p: argparse.ArgumentParser, *, required: bool = True, help: str | None = None) -> None:
    """``--model NAME_OR_FOLDER``: a shipped checkpoint name or a checkpoint folder."""
    p.add_argument("--model", "-m", required=required, metavar="NAME_OR_FOLDER",
                   help=help or f"shipped model ({', '.join(SHIPPED)}) or a checkpoint folder")


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """``--device`` (auto, cpu, cuda, cuda:N)."""
    p.add_argument("--device", default="auto",
                   help="where the model runs: auto (CUDA when available), cpu, cuda or cuda:N (default auto)")


def add_progress_argument(p: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def progress(args: argparse.Namespace) -> bool:
    """Whether to show progress bars."""
    return not getattr(args, "no_progress", False)


# ----------------------------------------------------------------------------- loading


def load_dataset(args: argparse.Namespace) -> Any:
    """The data set named by ``--data`` and its options."""
    from .. import data

    if args.data == "digits":
        return data.load_digits(seed=args.data_seed)
    if args.data == "shapes":
        return data.make_shapes(args.n, size=args.image_size or 32, seed=args.data_seed)
    if args.data_root is None:
        raise ValueError(f"--data {args.data} needs --data-root")
    show = progress(args)
    if args.data == "mnist":
        return data.load_mnist(args.data_root, seed=args.data_seed)
    if args.data == "celeba":
        return data.load_celeba(args.data_root, size=args.image_size or 64, limit=args.limit, progress=show)
    if args.labels_csv is None:
        raise ValueError("--data folder needs --labels-csv")
    return data.load_image_folder(args.data_root, args.labels_csv, size=args.image_size, seed=args.data_seed,
                                  progress=show)


def load_model(args: argparse.Namespace) -> Any:
    """The model named by ``--model`` on the device named by ``--device``."""
    from ..models import load, resolve_device

    return load(args.model, device=resolve_device(args.device))


def check_images_fit(model: Any, dataset: Any) -> None:
    """ValueError unless the data set's images have the shape the model takes."""
    want = getattr(model, "image_shape", None)
    if want is not None and tuple(want) != tuple(dataset.image_shape):
        raise ValueError(f"the model takes images of shape {tuple(want)} (C, H, W) but the {dataset.name} "
                         f"images are {tuple(dataset.image_shape)}; use a model trained on this data "
                         "(or --image-size for shapes, celeba and folder data)")


def check_latent_dim(dim: int, expected: int, what: str, against: str) -> None:
    """ValueError unless ``dim == expected``, naming both sides."""
    if int(dim) != int(expected):
        raise ValueError(f"{what} have latent size {dim} but {against} has {expected}")


def load_store(path: Path, what: str = "--store") -> Any:
    """A :class:`~latentatlas.data.LatentStore` from ``path`` (errors name the option)."""
    from ..data import LatentStore

    try:
        return LatentStore.load(path)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: {exc}") from None


def split_rows(split: Any, which: str) -> Any:
    """Row numbers of split ``which`` (``"all"`` for every row); ValueError when empty."""
    import numpy as np

    split = np.asarray(split)
    rows = np.arange(split.shape[0]) if which == "all" else np.flatnonzero(split == which)
    if rows.size == 0:
        raise ValueError(f"the {which!r} split is empty")
    return rows


def check_indices(indices: Iterable[int], n: int, what: str) -> list[int]:
    """``indices`` as a list, each checked against ``n`` rows of ``what``."""
    out = [int(i) for i in indices]
    for i in out:
        if i >= n:
            raise ValueError(f"--indices: row {i} is out of range for {what} with {n} rows")
    return out


# ----------------------------------------------------------------------------- sizes

#: The most images one command decodes into a sheet or GIF, and the most pixels (all
#: images, after --scale) it renders: larger requests are one error line before any work.
MAX_IMAGES = 10_000
MAX_PIXELS = 200_000_000


def check_render_size(count: int, what: str, model: Any, scale: int | None) -> None:
    """ValueError unless decoding ``count`` images of ``model`` at ``scale`` (None: the
    renderer's own, at least 1) stays within :data:`MAX_IMAGES` and :data:`MAX_PIXELS`;
    ``what`` names the request (with its options) in the message."""
    if count > MAX_IMAGES:
        raise ValueError(f"{what} is {count:,} images, more than the limit of {MAX_IMAGES:,}")
    _, height, width = tuple(getattr(model, "image_shape", None) or (1, 1, 1))
    s = scale or 1
    pixels = count * height * s * width * s
    if pixels > MAX_PIXELS:
        raise ValueError(f"{what} at --scale {s} is {pixels:,} pixels ({count:,} images of {height * s}x{width * s}), "
                         f"more than the limit of {MAX_PIXELS:,}")


# ----------------------------------------------------------------------------- outputs


def check_output(path: Path, suffixes: Sequence[str], option: str = "--output") -> Path:
    """Fail early (before any work) on an output with a wrong suffix or a missing folder."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(f"{option} {str(path)!r}: the file name must end in {' or '.join(suffixes)}")
    folder = path.resolve().parent
    if not folder.is_dir():
        raise ValueError(f"{option} {str(path)!r}: directory {str(folder)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{option} {str(path)!r} is a folder")
    return path


def make_output_dir(path: Path, option: str = "--out") -> Path:
    """Create the output folder ``path`` (its parent must exist)."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {str(path)!r} exists and is not a folder")
    if not path.resolve().parent.is_dir():
        raise ValueError(f"{option} {str(path)!r}: directory {str(path.resolve().parent)!r} does not exist")
    path.mkdir(exist_ok=True)
    return path


def print_written(paths: Iterable[str | os.PathLike[str]]) -> None:
    """The closing lines of every command: one ``wrote PATH`` per file written."""
    for path in paths:
        print(f"wrote {os.fspath(path)}")
