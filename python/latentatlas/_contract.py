"""The op contract: method names, shape layouts and tolerances, in one leaf module.

Everything here is pure Python on shapes and names (no numpy, no torch, no native code), so
every layer can import it: the public ops (:mod:`latentatlas.ops`), the torch custom ops and
their fake kernels (:mod:`latentatlas.torch_ops`), the torch fallback
(:mod:`latentatlas._torch_impl`), the backends (:mod:`latentatlas._backend`), the grids and
the command line. It imports nothing from the package.

The layouts map the public shapes of a call onto the normalised ones the kernels see
(rows of ``D`` numbers) and give the public output shape; they raise ``ValueError`` with
the messages users see, so eager code and ``torch.compile`` report the same errors.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PUBLIC_OPS",
    "METHODS",
    "METHOD_NAMES",
    "ALIASES",
    "method_code",
    "method_name",
    "interp_layout",
    "offset_layout",
    "score_layout",
    "FLOAT_DTYPES",
    "OMEGA_PARALLEL",
    "OMEGA_ANTIPODAL",
    "P_FLOOR",
]

# The public functions of latentatlas.ops, re-exported lazily by the package.
PUBLIC_OPS: tuple[str, ...] = ("slerp", "lerp", "slerp_gaussian", "lerp_gaussian", "interpolate", "offset",
                               "score", "backend_info", "set_num_threads", "get_num_threads")

# Method names and their codes in the native modules (csrc/common.h: Method).
METHODS: dict[str, int] = {"lerp": 0, "slerp": 1, "lerp_gaussian": 2, "slerp_gaussian": 3}
# The names in the order users see them (slerp first: the paper's default).
METHOD_NAMES: tuple[str, ...] = ("slerp", "lerp", "slerp_gaussian", "lerp_gaussian")
# Spellings accepted besides the canonical ones (the command line uses hyphens).
ALIASES: dict[str, str] = {"slerp-gaussian": "slerp_gaussian", "lerp-gaussian": "lerp_gaussian"}
FLOAT_DTYPES: tuple[str, ...] = ("float32", "float64")

# Tolerances of the per-row edge cases; csrc/kernels/interp.h and gauss.h hold the same
# numbers for the native kernels (kParallelTol, kAntipodalTol), the torch fallback uses these.
OMEGA_PARALLEL: float = 1e-7
"""Rows whose angle is below this (radians) are interpolated linearly."""
OMEGA_ANTIPODAL: float = 1e-6
"""Rows with ``pi - omega`` below this (and ``D > 1``) follow the antipodal great circle."""
P_FLOOR: float = 1e-300
"""Probabilities are clamped to at least this before the inverse normal CDF (Gaussian methods)."""


def method_name(method: Any) -> str:
    """The canonical name of an interpolation method.

    Args:
        method: ``"slerp"``, ``"lerp"``, ``"slerp_gaussian"`` or ``"lerp_gaussian"``, or a
            hyphenated spelling (``"slerp-gaussian"``).

    Returns:
        The canonical (underscored) name.

    Raises:
        TypeError: ``method`` is not a string.
        ValueError: an unknown method, naming the known ones.
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    name = ALIASES.get(method, method)
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return name


def method_code(method: Any) -> int:
    """The native code of an interpolation method (see :func:`method_name` for the rules)."""
    return METHODS[method_name(method)]


def interp_layout(a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                  t_shape: tuple[int, ...]) -> tuple[int, int, int, int, tuple[int, ...]]:
    """The normalised sizes of an interpolation call and its public output shape.

    Args:
        a_shape, b_shape: the shapes of ``a`` and ``b``: ``(D,)`` or ``(B, D)``, equal.
        t_shape: ``()``, ``(T,)`` or ``(B, T)`` (per-pair times; ``(1, T)`` is accepted).

    Returns:
        ``(B, D, Bt, T, out_shape)``: the kernels see a, b as (B, D), t as (Bt, T) with Bt 1
        or B, and write (B, T, D), which is then viewed as ``out_shape``.

    Raises:
        ValueError: mismatched or unsupported shapes, naming the shapes seen.
    """
    if a_shape != b_shape:
        raise ValueError(f"a and b must have the same shape, got {a_shape} and {b_shape}")
    if len(a_shape) not in (1, 2):
        raise ValueError(f"a and b must be (D,) or (B, D), got shape {a_shape}")
    vector = len(a_shape) == 1
    B, D = (1, a_shape[0]) if vector else a_shape
    if len(t_shape) == 0:
        return B, D, 1, 1, a_shape
    if len(t_shape) == 1:
        T = t_shape[0]
        return B, D, 1, T, (T, D) if vector else (B, T, D)
    if len(t_shape) == 2:
        if vector:
            raise ValueError(f"t of shape {t_shape} (per-pair times) needs a and b of shape (B, D), got {a_shape}")
        if t_shape[0] not in (1, B):
            raise ValueError(f"t must be a float, (T,) or (B, T) with B = {B}, got shape {t_shape}")
        return B, D, t_shape[0], t_shape[1], (B, t_shape[1], D)
    raise ValueError(f"t must be a float, (T,) or (B, T), got shape {t_shape}")


def _latents_and_vectors(z_shape: tuple[int, ...], v_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(N, K, D) of latents z and attribute vectors, each 1-D or 2-D, sharing D."""
    if len(z_shape) not in (1, 2):
        raise ValueError(f"z must be (D,) or (N, D), got shape {z_shape}")
    if len(v_shape) not in (1, 2):
        raise ValueError(f"vectors must be (D,) or (K, D), got shape {v_shape}")
    D = z_shape[-1]
    if v_shape[-1] != D:
        raise ValueError(f"vectors must have the latent size of z ({D}), got shapes {v_shape} and {z_shape}")
    return (1 if len(z_shape) == 1 else z_shape[0]), (1 if len(v_shape) == 1 else v_shape[0]), D


def offset_layout(z_shape: tuple[int, ...], v_shape: tuple[int, ...],
                  al_shape: tuple[int, ...]) -> tuple[int, int, int, int, tuple[int, ...]]:
    """Normalised sizes ``(N, K, A, D, out_shape)`` of an offset call.

    ``z`` is ``(N, D)`` or ``(D,)``, ``vectors`` ``(K, D)`` or ``(D,)``, ``alphas`` ``(A, K)``
    (``(A,)`` with a single vector); the output is ``(N, A, D)`` or ``(A, D)``.

    Raises:
        ValueError: shapes that do not fit together, naming them.
    """
    N, K, D = _latents_and_vectors(z_shape, v_shape)
    if len(v_shape) == 1 and len(al_shape) != 1:
        raise ValueError(f"with a single vector of shape {v_shape}, alphas must be (A,), got shape {al_shape}")
    if len(v_shape) == 2 and (len(al_shape) != 2 or al_shape[1] != K):
        raise ValueError(f"alphas must be (A, K) with K = {K} vectors, got shape {al_shape}")
    A = al_shape[0]
    return N, K, A, D, ((A, D) if len(z_shape) == 1 else (N, A, D))


def score_layout(z_shape: tuple[int, ...], v_shape: tuple[int, ...]) -> tuple[int, int, int, tuple[int, ...]]:
    """Normalised sizes ``(N, K, D, out_shape)`` of a score call.

    ``z`` is ``(N, D)`` or ``(D,)``, ``vectors`` ``(K, D)`` or ``(D,)``; dimensions of 1-D
    inputs are dropped from the ``(N, K)`` output.

    Raises:
        ValueError: shapes that do not fit together, naming them.
    """
    N, K, D = _latents_and_vectors(z_shape, v_shape)
    out_shape = tuple(([N] if len(z_shape) == 2 else []) + ([K] if len(v_shape) == 2 else []))
    return N, K, D, out_shape
