"""Checkpoints: a folder holding ``weights.safetensors`` and ``config.json``; never pickles.

``config.json`` records the architecture (enough to rebuild the model), and a
``training`` section (data set, command line, seed, final metrics, time). Loading
rebuilds the model from the config, then checks every tensor name, shape and dtype in
the safetensors file against it before copying any weights in.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from .._files import jsonable
from .._protocol import SHIPPED
from ..data._util import read_json
from .base import LatentModel, resolve_device
from .bigan import BiGAN
from .naive_bayes import PixelNaiveBayes
from .vae import VAE

FORMAT = "latentatlas-checkpoint"
VERSION = 1
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
MODEL_TYPES: dict[str, type[LatentModel]] = {cls.model_type: cls for cls in (VAE, BiGAN, PixelNaiveBayes)}
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"


def save(model: LatentModel, path: str | os.PathLike[str], *, training: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to the folder ``path`` (created; replaced atomically if it exists).

    ``training`` (or, if None, ``model.meta["training"]``) is stored in the config as the
    record of how the weights were made. Only built-in models can be saved.
    """
    if not isinstance(model, LatentModel) or type(model).model_type not in MODEL_TYPES:
        raise TypeError(
            f"only built-in latentatlas models ({', '.join(MODEL_TYPES)}) can be saved, got {type(model).__name__}"
        )
    from safetensors.torch import save_file

    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: directory {str(path.parent)!r} does not exist")
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: it exists and is not a folder")
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.config(),
        # Strict JSON: numpy numbers as Python ones, NaN as null, anything else by its str().
        "training": jsonable(training if training is not None else model.meta.get("training", {}), default=str),
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        for f in (tmp / WEIGHTS, tmp / CONFIG):
            f.chmod(0o666 & ~umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a checkpoint should be as readable as any file
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    if isinstance(name_or_path, str) and name_or_path in SHIPPED:
        folder = SHIPPED_DIR / name_or_path
        if not (folder / CONFIG).is_file():
            raise ValueError(f"the shipped checkpoint {name_or_path!r} is missing from {str(SHIPPED_DIR)!r}")
        return folder
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"load takes a shipped name or a path, got {type(name_or_path).__name__}")
    path = Path(name_or_path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {str(path)!r} (shipped names: {', '.join(SHIPPED)})")
    if path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise ValueError(
                f"{str(path)!r} looks like a pickled (torch.save) file; latentatlas never unpickles checkpoints. "
                "Re-save the weights with safetensors and a config.json (latentatlas.models.save)"
            )
        if path.name in (CONFIG, WEIGHTS):
            return path.parent
        raise ValueError(f"{str(path)!r} is not a checkpoint folder, {CONFIG} or {WEIGHTS}")
    return path


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a checkpoint's ``config.json`` (format, version, model type)."""
    path = Path(folder) / CONFIG
    config = read_json(path, f"checkpoint {str(folder)!r} has no {CONFIG}")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a latentatlas checkpoint config (format field is not {FORMAT!r})")
    if config.get("version") != VERSION:
        raise ValueError(f"{str(path)!r}: unsupported checkpoint version {config.get('version')!r} (this library reads {VERSION})")
    model = config.get("model")
    if not isinstance(model, dict) or model.get("type") not in MODEL_TYPES:
        kind = model.get("type") if isinstance(model, dict) else model
        raise ValueError(f"{str(path)!r}: unknown model type {kind!r}; known: {sorted(MODEL_TYPES)}")
    if not isinstance(config.get("training", {}), dict):
        raise ValueError(f"{str(path)!r}: 'training' must be an object")
    return config


def load(name_or_path: str | os.PathLike[str], *, device: str | torch.device | None = "cpu") -> LatentModel:
    """Load a shipped model by name (``"digits-vae"``, ``"digits-gan"``, ``"shapes-vae"``) or a saved folder.

    The config is validated and the model rebuilt from it; the weights file must hold
    exactly the model's tensors with the right shapes and dtypes, all finite. Pickled
    files are refused. Any problem is a ValueError naming the file and the field/tensor.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = _resolve(name_or_path)
    config = read_config(folder)
    model = MODEL_TYPES[config["model"]["type"]].from_config(config["model"])
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ValueError(f"checkpoint {str(folder)!r} has no {WEIGHTS}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{str(weights)!r} is not a readable safetensors file: {exc}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{str(weights)!r} does not match its config: missing tensors {missing[:5]}, unexpected tensors {unexpected[:5]}"
        )
    for key, ref in expected.items():
        got = tensors[key]
        if got.shape != ref.shape or got.dtype != ref.dtype:
            raise ValueError(
                f"{str(weights)!r}: tensor {key!r} has shape {tuple(got.shape)} {got.dtype}, "
                f"the config needs {tuple(ref.shape)} {ref.dtype}"
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise ValueError(f"{str(weights)!r}: tensor {key!r} contains NaN or infinite values")
    model.load_state_dict(tensors)
    model.meta["training"] = config.get("training", {})
    model.meta["checkpoint"] = str(folder)
    model.to(resolve_device(device))
    model.eval()
    return model


def shipped_info() -> dict[str, dict[str, Any]]:
    """The training record of each shipped checkpoint (command, seed, metrics, seconds)."""
    return {name: read_config(SHIPPED_DIR / name).get("training", {}) for name in SHIPPED if (SHIPPED_DIR / name / CONFIG).is_file()}

