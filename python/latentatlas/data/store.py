"""Latent stores: a data set's encodings with its labels and split, saved as .npz or JSON vectors."""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._arrays import as_numpy, check_int, is_number, run_batched
from .._files import jsonable, parse_json
from ._util import SPLITS, atomic_open, check_annotations, read_json
from .dataset import Dataset

_STORE_FORMAT = 1


def _check_provenance(provenance: Any) -> None:
    """TypeError unless ``provenance`` can be written as JSON (it is saved beside the arrays)."""
    try:
        json.dumps(provenance)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"provenance must be JSON-serialisable: {exc}") from None


@dataclass(eq=False)
class LatentStore:
    """Encodings of a data set: ``latents (N, *S)`` float32 plus the data set's labels and split.

    ``S`` is the model's latent shape (``(D,)`` for flat models, ``(4, h, w)`` for a
    latent-diffusion VAE); it is saved with the store and checked on load.

    ``provenance`` is a JSON-able dict saying where the latents came from (model config,
    data set, batch size, library version).
    """

    latents: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    split: np.ndarray
    classes: np.ndarray | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lat = as_numpy(self.latents)
        if lat.ndim < 2 or 0 in lat.shape[1:]:
            raise ValueError(f"latents must have shape (N, D) or (N, *S) with no empty latent axis, got {lat.shape}")
        if lat.dtype.kind != "f":
            raise TypeError(f"latents must be floating point, got {lat.dtype}")
        if not np.all(np.isfinite(lat)):
            raise ValueError("latents contain NaN or infinite values")
        self.latents = lat.astype(np.float32, copy=False)
        n = lat.shape[0]
        self.labels, self.label_names, self.split, self.classes = check_annotations(
            n, self.labels, self.label_names, self.split, self.classes
        )
        _check_provenance(self.provenance)

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    @property
    def latent_dim(self) -> int:
        """D, the number of values in each latent (``prod(latent_shape)``)."""
        return int(np.prod(self.latents.shape[1:]))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """``S``, the shape of one latent (``(D,)`` for flat latents)."""
        return tuple(int(s) for s in self.latents.shape[1:])

    def subset(self, split: str) -> LatentStore:
        """The rows of one split as a new store."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        m = self.split == split
        return LatentStore(self.latents[m], self.labels[m], list(self.label_names), self.split[m],
                           None if self.classes is None else self.classes[m], dict(self.provenance))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the store to ``path`` (``.npz``) atomically; returns the path written."""
        path = Path(path)
        arrays = {
            "format": np.array(_STORE_FORMAT),
            "latents": self.latents,
            "latent_shape": np.array(self.latent_shape, dtype=np.int64),
            "labels": self.labels,
            "label_names": np.array(self.label_names, dtype=str).reshape(len(self.label_names)),
            "split": self.split,
            "provenance": np.array(json.dumps(self.provenance)),
        }
        if self.classes is not None:
            arrays["classes"] = self.classes
        with atomic_open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatentStore:
        """Read a store written by :meth:`save`; never unpickles (``allow_pickle=False``).
        Every problem (a forged array size, bad contents) is a ValueError naming the file."""
        data, provenance = _read_npz(Path(path), "latent store", _STORE_FORMAT,
                                     ("latents", "labels", "label_names", "split"))
        _check_latent_shape(path, data, "latents")
        try:
            return cls(
                latents=data["latents"],
                labels=data["labels"],
                label_names=[str(s) for s in data["label_names"]],
                split=data["split"],
                classes=data.get("classes"),
                provenance=provenance,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r}: {exc}") from None

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write only the latents in the paper library's JSON vector format (a list of
        lists; latents of shape ``S`` are written flattened, in C order)."""
        return write_json_vectors(path, self.latents.reshape(len(self), -1))


_VECTORS_FORMAT = 1


@dataclass(eq=False)
class VectorSet:
    """Named latent-space vectors (attribute, balanced, synthetic or centroid vectors) with
    a record of how they were made; the file format of ``latentatlas atvec`` and ``edit``.

    ``vectors`` is ``(K, D)`` (or ``(K, *S)`` for latents of shape ``S``) float64, ``names`` the K distinct names, ``provenance`` a
    JSON-able dict (per-vector ``kinds``, the source store or data set, the split, ...).
    :meth:`save` writes ``.npz``; :meth:`to_json` the paper library's JSON (vectors only);
    :meth:`load` reads either (JSON vectors are named ``"0"``, ``"1"``, ...).
    """

    vectors: np.ndarray
    names: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = as_numpy(self.vectors)
        if v.ndim < 2 or 0 in v.shape:
            raise ValueError(f"vectors must have shape (K, D) or (K, *S) with no empty axis, got {v.shape}")
        if v.dtype.kind not in "fiu":
            raise TypeError(f"vectors must be numeric, got {v.dtype}")
        if not np.all(np.isfinite(v)):
            raise ValueError("vectors contain NaN or infinite values")
        self.vectors = v.astype(np.float64, copy=False)
        names = [str(n) for n in self.names]
        if len(names) != v.shape[0]:
            raise ValueError(f"names must name the {v.shape[0]} vectors, got {len(names)} names")
        if not all(names) or len(set(names)) != len(names):
            raise ValueError("vector names must be distinct and non-empty")
        self.names = names
        _check_provenance(self.provenance)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def latent_dim(self) -> int:
        """D, the number of values in each vector (``prod(latent_shape)``)."""
        return int(np.prod(self.vectors.shape[1:]))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """``S``, the shape of each vector (``(D,)`` for flat vectors)."""
        return tuple(int(s) for s in self.vectors.shape[1:])

    def reshaped(self, shape: Sequence[int]) -> VectorSet:
        """The same vectors read as latents of ``shape`` (e.g. flat JSON vectors for a model
        with spatial latents); a ValueError when the sizes differ."""
        shape = tuple(int(s) for s in shape)
        if int(np.prod(shape)) != self.latent_dim:
            raise ValueError(f"vectors of shape {self.latent_shape} cannot be read as latents of shape {shape}")
        return VectorSet(self.vectors.reshape(len(self), *shape), list(self.names), dict(self.provenance))

    def __getitem__(self, name: str) -> np.ndarray:
        """The vector called ``name``, shaped like one latent."""
        return self.vectors[self._index(name)]

    def _index(self, name: str) -> int:
        if name not in self.names:
            shown = ", ".join(self.names[:12]) + (f", ... ({len(self.names)} in all)" if len(self.names) > 12 else "")
            raise ValueError(f"no vector named {name!r}; the names are {shown}")
        return self.names.index(name)

    def select(self, names: Sequence[str]) -> VectorSet:
        """The named vectors, in the order given, as a new set."""
        rows = [self._index(n) for n in names]
        if not rows:
            raise ValueError("select needs at least one vector name")
        return VectorSet(self.vectors[rows], [self.names[i] for i in rows], dict(self.provenance))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the set to ``path`` (``.npz``) atomically; returns the path written."""
        path = Path(path)
        with atomic_open(path, "wb") as fh:
            np.savez(fh, format=np.array(_VECTORS_FORMAT), vectors=self.vectors,
                     latent_shape=np.array(self.latent_shape, dtype=np.int64),
                     names=np.array(self.names, dtype=str).reshape(len(self.names)),
                     provenance=np.array(json.dumps(self.provenance)))
        return path

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write only the vectors in the paper library's JSON format (a list of lists,
        flattened in C order)."""
        return write_json_vectors(path, self.vectors.reshape(len(self), -1))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VectorSet:
        """Read a set written by :meth:`save` (``.npz``) or JSON vectors (``.json``)."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            vectors = read_json_vectors(path)
            return cls(vectors, [str(i) for i in range(len(vectors))], {"source": str(path)})
        data, provenance = _read_npz(path, "vector file", _VECTORS_FORMAT, ("vectors", "names"))
        _check_latent_shape(path, data, "vectors")
        try:
            return cls(data["vectors"], [str(s) for s in np.atleast_1d(data["names"])], provenance)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r}: {exc}") from None


#: The largest arrays a store or vector file may hold (checked from each array's header,
#: before anything is allocated): at most MAX_ROWS along the first axis, MAX_COLS along
#: the others, and MAX_ARRAY_BYTES in all.
MAX_ROWS = 100_000_000
MAX_COLS = 1_000_000
MAX_ARRAY_BYTES = 16 << 30


class _SizeError(ValueError):
    """An array whose header promises more than the file holds or the limits allow."""


def _check_npz_sizes(fh: Any, path: Path) -> None:
    """Reads each member's ``.npy`` header (not its data) and checks the shape it claims
    against the limits and the member's byte length, so a forged header is a ValueError
    naming the file and the array instead of a huge allocation."""
    from numpy.lib import format as npy

    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            with zf.open(info) as member:
                major, _ = npy.read_magic(member)
                reader = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
                shape, _, dtype = reader(member)
                header = member.tell()
            if dtype.hasobject:
                continue  # np.load refuses these (allow_pickle=False) without reading them
            too_big = [(i, n) for i, n in enumerate(shape) if n > (MAX_ROWS if i == 0 else MAX_COLS)]
            if too_big:
                axis, n = too_big[0]
                limit = MAX_ROWS if axis == 0 else MAX_COLS
                raise _SizeError(f"{str(path)!r}: array {name!r} claims shape {shape}, beyond the limit of "
                                 f"{limit:,} along axis {axis}")
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > MAX_ARRAY_BYTES:
                raise _SizeError(f"{str(path)!r}: array {name!r} claims shape {shape} ({nbytes:,} bytes), beyond "
                                 f"the limit of {MAX_ARRAY_BYTES:,} bytes")
            if info.file_size != header + nbytes:
                raise _SizeError(f"{str(path)!r}: array {name!r} claims shape {shape} {dtype} ({nbytes:,} bytes) "
                                 f"but the file holds {info.file_size - header:,} bytes of it")


def _check_latent_shape(path: Any, data: dict[str, np.ndarray], key: str) -> None:
    """ValueError unless the recorded ``latent_shape`` (files written before it was
    recorded have none) matches the trailing shape of ``data[key]``."""
    if "latent_shape" not in data:
        return
    rec = data["latent_shape"]
    if rec.ndim != 1 or rec.dtype.kind not in "iu" or rec.size == 0:
        raise ValueError(f"{str(path)!r}: latent_shape must be a list of ints, got {rec.tolist()!r}")
    if tuple(int(s) for s in rec) != tuple(data[key].shape[1:]):
        raise ValueError(f"{str(path)!r}: {key} have shape {tuple(data[key].shape[1:])} per row but the file "
                         f"records latent_shape {tuple(int(s) for s in rec)}")


def _read_npz(path: Path, what: str, version: int, required: tuple[str, ...]) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays of a latentatlas ``.npz`` file (never unpickled) and its parsed
    ``provenance``, after checking that ``required`` arrays, ``format`` == ``version``
    and valid provenance JSON are there; every problem is a ValueError naming the file."""
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} does not exist")
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":  # else np.load would try (and refuse) a pickle or a bare .npy
                raise ValueError("not a zip archive")
            fh.seek(0)
            _check_npz_sizes(fh, path)
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
    except _SizeError as exc:
        raise ValueError(str(exc)) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable {what} (.npz): {exc}") from None
    missing = [k for k in ("format", *required, "provenance") if k not in data]
    if missing:
        raise ValueError(f"{str(path)!r} is not a {what}: missing arrays {missing}")
    fmt = data["format"]
    if fmt.shape != () or fmt.dtype.kind not in "iu" or int(fmt) != version:
        raise ValueError(f"{str(path)!r}: unsupported {what} format {fmt.tolist()!r}")
    provenance = parse_json(str(data["provenance"]), path, "provenance")
    if not isinstance(provenance, dict):
        raise ValueError(f"{str(path)!r}: provenance must be a JSON object")
    return data, provenance


def write_json_vectors(path: str | os.PathLike[str], vectors: Any) -> Path:
    """Write ``(N, D)`` vectors as a JSON list of lists (the format of the paper's `plat` library), atomically."""
    arr = as_numpy(vectors)
    if arr.ndim != 2:
        raise ValueError(f"vectors must have shape (N, D), got {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"vectors must be numeric, got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("vectors contain NaN or infinite values, which JSON cannot represent")
    path = Path(path)
    with atomic_open(path, "w") as fh:
        json.dump(arr.tolist(), fh)
    return path


def read_json_vectors(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a JSON list of equal-length lists of numbers into an ``(N, D)`` float32 array."""
    path = Path(path)
    data = read_json(path, f"vector file {str(path)!r} does not exist")
    if not isinstance(data, list) or not data or not all(isinstance(row, list) for row in data):
        raise ValueError(f"{str(path)!r} must hold a non-empty JSON list of lists of numbers")
    lengths = {len(row) for row in data}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{str(path)!r}: all vectors must have the same non-zero length, got lengths {sorted(lengths)}")
    for i, row in enumerate(data):
        for v in row:
            if not is_number(v) or not math.isfinite(v):
                raise ValueError(f"{str(path)!r}: vector {i} holds a non-numeric or non-finite value {v!r}")
    return np.asarray(data, dtype=np.float32)


def encode_dataset(
    model: Any,
    dataset: Dataset,
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> LatentStore:
    """Encode every image of ``dataset`` with ``model.encode`` into a :class:`LatentStore`.

    Streams ``batch_size`` images at a time (with a progress bar), so only one batch of
    images is ever on the model's device (``model.device`` when it has one), under
    ``torch.no_grad()``. The model must follow the latentatlas model protocol (``encode``
    taking NCHW float images in [0, 1]).
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a latentatlas Dataset, got {type(dataset).__name__}")
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"{type(model).__name__} has no encode(); only models with an encoder can encode a data set")
    batch_size = check_int("batch_size", batch_size, 1)
    latents = run_batched(model.encode, dataset.images, batch_size, device=getattr(model, "device", None),
                          what="model.encode", progress=progress, desc="encode")
    shape = getattr(model, "latent_shape", None)
    if latents.ndim < 2 or (shape is not None and latents.shape[1:] != tuple(shape)):
        want = "(N, D)" if shape is None else f"(N, {', '.join(map(str, shape))})"
        raise ValueError(f"model.encode must return {want} latents, got shape {latents.shape}")
    n = len(dataset)
    config = getattr(model, "config", None)
    provenance: dict[str, Any] = {
        "dataset": dataset.name,
        "n": n,
        "image_shape": list(dataset.image_shape),
        "latent_shape": list(latents.shape[1:]),
        "model": type(model).__name__,
        "batch_size": batch_size,
    }
    if callable(config):
        try:
            provenance["model_config"] = jsonable(config(), default=str)
        except NotImplementedError:  # a wrapped user model has no rebuildable architecture to record
            pass
    from .. import __version__

    provenance["latentatlas_version"] = __version__
    return LatentStore(
        latents=latents,
        labels=dataset.labels,
        label_names=list(dataset.label_names),
        split=dataset.split,
        classes=dataset.classes,
        provenance=provenance,
    )

