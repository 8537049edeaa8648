"""The benchmarked ops: their size parameters, the bytes each one moves, and the numpy and
torch expressions a user would write instead (the baselines of :mod:`.kernels` and
:mod:`.gpu`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["OPS", "PARAMS", "DTYPES", "Traffic", "traffic", "check_sizes", "NUMPY_BASELINES", "TORCH_BASELINES"]

OPS = ("slerp", "lerp", "offset", "score")
#: The size parameters of each op: slerp/lerp ``(B, D) x (B, D) x (T,) -> (B, T, D)``,
#: offset ``(N, D) x (K, D) x (A, K) -> (N, A, D)``, score ``(N, D) x (K, D) -> (N, K)``.
PARAMS = {"slerp": ("B", "T", "D"), "lerp": ("B", "T", "D"), "offset": ("N", "A", "K", "D"), "score": ("N", "K", "D")}
DTYPES = ("float32", "float64")


class Traffic(NamedTuple):
    """What one call of an op moves through memory."""

    bytes_read: int
    bytes_written: int
    out_shape: tuple[int, ...]
    bound_elems: int  #: elements of the array whose streaming bounds the op's speed
    basis: str  #: which bytes its bandwidth counts: "written" or "read+written"


def traffic(op: str, params: dict[str, int], itemsize: int) -> Traffic:
    """The bytes one call of ``op`` with sizes ``params`` reads and writes, its output
    shape, and the array that bounds it: the output for slerp, lerp and offset (they write
    far more than they read); ``z`` for score, which writes ``N*K`` values but streams
    ``z``, so its bandwidth counts the bytes read as well."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; known ops: {', '.join(OPS)}")
    if op in ("slerp", "lerp"):
        B, T, D = params["B"], params["T"], params["D"]
        return Traffic((2 * B * D + T) * itemsize, B * T * D * itemsize, (B, T, D), B * T * D, "written")
    if op == "offset":
        N, A, K, D = params["N"], params["A"], params["K"], params["D"]
        return Traffic((N * D + K * D + A * K) * itemsize, N * A * D * itemsize, (N, A, D), N * A * D, "written")
    N, K, D = params["N"], params["K"], params["D"]
    return Traffic((N * D + K * D) * itemsize, N * K * itemsize, (N, K), N * D, "read+written")


def check_sizes(sizes: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Checks a ``sizes`` mapping (op -> list of cases like ``{"B": 4096, "T": 16, "D": 512,
    "dtype": "float32"}``) and returns a normalised copy (dtype filled in, ints as int)."""
    if not isinstance(sizes, dict):
        raise TypeError(f"sizes must be a dict of op -> list of cases, got {type(sizes).__name__}")
    result: dict[str, list[dict[str, Any]]] = {}
    for op, cases in sizes.items():
        if op not in OPS:
            raise ValueError(f"sizes has an unknown op {op!r}; known ops: {', '.join(OPS)}")
        if isinstance(cases, dict):
            cases = [cases]
        if not isinstance(cases, (list, tuple)):
            raise TypeError(f"sizes[{op!r}] must be a list of dicts, got {type(cases).__name__}")
        checked = []
        for i, case in enumerate(cases):
            if not isinstance(case, dict):
                raise TypeError(f"sizes[{op!r}][{i}] must be a dict, got {type(case).__name__}")
            unknown = set(case) - set(PARAMS[op]) - {"dtype"}
            missing = [k for k in PARAMS[op] if k not in case]
            if unknown or missing:
                raise ValueError(f"sizes[{op!r}][{i}] must have keys {', '.join(PARAMS[op])} (and optionally "
                                 f"dtype), got {sorted(case)}")
            for k in PARAMS[op]:
                v = case[k]
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                    raise ValueError(f"sizes[{op!r}][{i}][{k!r}] must be a positive int, got {v!r}")
            dtype = case.get("dtype", "float32")
            if dtype not in DTYPES:
                raise ValueError(f"sizes[{op!r}][{i}]['dtype'] must be float32 or float64, got {dtype!r}")
            checked.append({**{k: int(case[k]) for k in PARAMS[op]}, "dtype": dtype})
        result[op] = checked
    return result


# ----------------------------------------------------------------------------- baselines
# The obvious expressions a user would write, in numpy and in torch.


def _numpy_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    omega = np.arccos(np.clip(np.sum(an * bn, axis=1), -1.0, 1.0))
    so = np.sin(omega)
    wa = np.sin((1.0 - t)[None, :] * omega[:, None]) / so[:, None]
    wb = np.sin(t[None, :] * omega[:, None]) / so[:, None]
    return wa[:, :, None] * a[:, None, :] + wb[:, :, None] * b[:, None, :]


def _numpy_lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (1.0 - t)[None, :, None] * a[:, None, :] + t[None, :, None] * b[:, None, :]


def _numpy_offset(z: np.ndarray, vectors: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    return z[:, None, :] + alphas @ vectors


def _numpy_score(z: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return z @ vectors.T


def _torch_slerp(a: Any, b: Any, t: Any) -> Any:
    import torch

    an = a / torch.linalg.vector_norm(a, dim=1, keepdim=True)
    bn = b / torch.linalg.vector_norm(b, dim=1, keepdim=True)
    omega = torch.arccos(torch.clamp((an * bn).sum(dim=1), -1.0, 1.0))
    so = torch.sin(omega)
    wa = torch.sin((1.0 - t)[None, :] * omega[:, None]) / so[:, None]
    wb = torch.sin(t[None, :] * omega[:, None]) / so[:, None]
    return wa[:, :, None] * a[:, None, :] + wb[:, :, None] * b[:, None, :]


def _torch_lerp(a: Any, b: Any, t: Any) -> Any:
    return (1.0 - t)[None, :, None] * a[:, None, :] + t[None, :, None] * b[:, None, :]


def _torch_offset(z: Any, vectors: Any, alphas: Any) -> Any:
    return z[:, None, :] + alphas @ vectors


def _torch_score(z: Any, vectors: Any) -> Any:
    return z @ vectors.T


#: The numpy and torch expressions of each op that latentatlas is compared with.
NUMPY_BASELINES = {"slerp": _numpy_slerp, "lerp": _numpy_lerp, "offset": _numpy_offset, "score": _numpy_score}
TORCH_BASELINES = {"slerp": _torch_slerp, "lerp": _torch_lerp, "offset": _torch_offset, "score": _torch_score}
