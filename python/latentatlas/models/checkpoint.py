"""Checkpoints: a folder holding ``weights.safetensors`` and ``config.json``; never pickles.

``config.json`` records the architecture (enough to rebuild the model), and a
``training`` section (data set, command line, seed, final metrics, time). Loading
rebuilds the model from the config, then checks every tensor name, shape and dtype in
the safetensors file against it before copying any weights in.

Replacing a checkpoint is atomic from a reader's point of view. :func:`save` writes the
new folder beside the old one (``.NAME.*.tmp``) and, on Linux, swaps the two in one
``renameat2(RENAME_EXCHANGE)`` call, so ``NAME`` always holds either the complete old or
the complete new checkpoint; the old one is then deleted from the temporary name (a kill
at that moment leaves it there, hidden, and nothing else). Where the exchange is not
available (other systems, file systems without it) the fallback is two renames: the old
folder to ``.NAME.old``, then the new one to ``NAME``. A kill between them leaves no
``NAME``; :func:`load` then says where the previous checkpoint is, and the next
:func:`save` to ``NAME`` completes the replacement. Each save also deletes the temporary
folders that killed saves to the same ``NAME`` left (``.NAME.PID.*.tmp`` of a process that
no longer runs). :func:`load` reads the config and the weights through one open handle on
the folder, so a swap during a load cannot pair one checkpoint's config with the other's
weights.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import torch

from .._files import jsonable, naming, parse_json
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
    _remove_leftovers(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
    try:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        _step("weights")
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        for f in (tmp / WEIGHTS, tmp / CONFIG):
            f.chmod(0o666 & ~umask)
            _fsync(f)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a checkpoint should be as readable as any file
        _step("written")
        _replace_folder(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise naming(exc, path) from exc
        raise
    return path


#: Test hook: when this environment variable names a step of :func:`save` ("weights",
#: "written", "swapped", "moved-aside", "moved-in"), the process kills itself (SIGKILL)
#: there, as a crash or ``kill -9`` would.
KILL_AT_ENV = "LATENTATLAS_TEST_KILL_AT"


def _step(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_leftovers(path: Path) -> None:
    """Deletes the ``.NAME.PID.*.tmp`` folders of earlier saves to ``path`` whose process
    no longer runs (killed mid-save: a partial new checkpoint, or the old one after the
    swap). Folders of running processes are left alone."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = leftover.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except OSError:  # alive, owned by someone else
            pass


def _aside(path: Path) -> Path:
    """Where the two-rename fallback keeps the old checkpoint between its renames."""
    return path.parent / f".{path.name}.old"


def _exchange(a: Path, b: Path) -> bool:
    """Swaps the folders ``a`` and ``b`` in one step (Linux ``renameat2`` with
    ``RENAME_EXCHANGE``); False when the system or file system cannot, OSError on a
    real failure."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux / glibc older than 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"cannot swap {str(a)!r} and {str(b)!r}: {os.strerror(err)}")


def _replace_folder(new: Path, path: Path) -> None:
    """Puts the complete folder ``new`` at ``path``, replacing any folder there; see the
    module docstring for what a reader (or a kill) can see at each step."""
    aside = _aside(path)
    if not path.exists():
        os.replace(new, path)  # nothing to lose; a leftover .old is from an interrupted replacement
        _step("moved-in")
        shutil.rmtree(aside, ignore_errors=True)
        return
    if _exchange(new, path):
        _step("swapped")
        _discard(new)  # now the old checkpoint (or the link that stood at path)
        return
    shutil.rmtree(aside, ignore_errors=True)  # left by a replacement killed after its second rename
    os.replace(path, aside)
    _step("moved-aside")
    os.replace(new, path)
    _step("moved-in")
    _discard(aside)


def _discard(path: Path) -> None:
    """Removes a replaced checkpoint (a folder, or a link that stood for one); the new
    checkpoint is in place by then, so a failure here leaves a hidden leftover, not an error."""
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


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
        aside = _aside(path)
        if (aside / CONFIG).is_file():
            raise ValueError(f"no checkpoint at {str(path)!r}: replacing it was interrupted, and the previous "
                             f"checkpoint is in {str(aside)!r} (move it back, or save to {str(path)!r} again)")
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
    return _check_config(read_json(path, f"checkpoint {str(folder)!r} has no {CONFIG}"), path)


def _check_config(config: Any, path: Path) -> dict[str, Any]:
    """The parsed ``config.json`` at ``path``, if its format, version and model type are known."""
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


#: The most parameters a checkpoint's config may describe (float32: 400 MB); checked on a
#: model built without memory ("meta" tensors) before the real one is built.
MAX_PARAMETERS = 100_000_000
_SAFETENSORS_HEADER_MAX = 100_000_000  # safetensors' own limit on its JSON header


def _read_folder(folder: Path) -> tuple[dict[str, Any], int, Any]:
    """Opens the checkpoint folder once and reads both files through that handle (a folder
    swapped in by a concurrent :func:`save` is seen whole or not at all, and read again):
    the checked config, the weights file's size and the weights file, open."""
    for _ in range(5):
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise ValueError(f"cannot open checkpoint {str(folder)!r}: {exc.strerror}") from None
        try:
            config_path = folder / CONFIG
            opener = lambda name, flags: os.open(name, flags, dir_fd=fd)  # noqa: E731
            with open(CONFIG, "rb", opener=opener) as fh:
                text = fh.read()
            config = _check_config(parse_json(text, config_path), config_path)
            weights = open(WEIGHTS, "rb", opener=opener)
            return config, os.fstat(weights.fileno()).st_size, weights
        except FileNotFoundError as exc:
            if _same_folder(folder, fd):  # really missing, not deleted by a save replacing the folder
                raise ValueError(f"checkpoint {str(folder)!r} has no {exc.filename}") from None
        finally:
            os.close(fd)
    raise ValueError(f"checkpoint {str(folder)!r} was replaced five times while it was being read")


def _same_folder(folder: Path, fd: int) -> bool:
    """Whether ``folder`` still names the folder open as ``fd``."""
    try:
        now = os.stat(folder)
    except FileNotFoundError:
        return False
    was = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (was.st_dev, was.st_ino)


def _build(config: dict[str, Any], path: Path) -> LatentModel:
    """The model the config describes, after its size is checked against
    :data:`MAX_PARAMETERS`; a bad field is a ValueError naming the config file."""
    cls = MODEL_TYPES[config["model"]["type"]]
    try:
        with torch.device("meta"):
            count = sum(p.numel() for p in cls.from_config(config["model"]).state_dict().values())
        if count > MAX_PARAMETERS:
            raise ValueError(f"the model it describes has {count:,} parameters, more than the limit of "
                             f"{MAX_PARAMETERS:,}")
        return cls.from_config(config["model"])
    except (ValueError, TypeError, KeyError, OverflowError, RuntimeError) as exc:  # torch: bad sizes
        raise ValueError(f"{str(path)!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def load(name_or_path: str | os.PathLike[str], *, device: str | torch.device | None = "cpu") -> LatentModel:
    """Load a shipped model by name (``"digits-vae"``, ``"digits-gan"``, ``"shapes-vae"``) or a saved folder.

    The config is validated and the model rebuilt from it (at most
    :data:`MAX_PARAMETERS` parameters, checked before any memory is allocated); the weights
    file must hold exactly the model's tensors with the right shapes and dtypes, all
    finite. Pickled files are refused. Any problem is a ValueError naming the file and the
    field/tensor. Both files are read through one handle on the folder, so a checkpoint
    replaced by :func:`save` during the load is read whole, old or new.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    folder = _resolve(name_or_path)
    config, size, weights_file = _read_folder(folder)
    weights = folder / WEIGHTS
    with weights_file:
        model = _build(config, folder / CONFIG)
        expected = model.state_dict()
        most = sum(t.numel() * t.element_size() for t in expected.values()) + _SAFETENSORS_HEADER_MAX + 8
        if size > most:
            raise ValueError(f"{str(weights)!r} is {size:,} bytes, more than the {most:,} its config can need")
        data = weights_file.read()
    try:
        tensors = load_bytes(data)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{str(weights)!r} is not a readable safetensors file: {exc}") from None
    del data
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

