"""Type stub of the native CPU module (normalised shapes; use latentatlas.ops).

Every function checks its arguments against each other (dtype, rank, sizes, strides,
writability) and raises TypeError/ValueError before touching memory; NaN or Inf met by a
kernel is a ValueError naming the argument.
"""

from typing import Any

import numpy as np

def interp(method: int, a: np.ndarray, b: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
    """Interpolate rows a (B, D) to b (B, D) at times t (1 or B, T) into out (B, T, D)."""
def offset(z: np.ndarray, vectors: np.ndarray, alphas: np.ndarray, out: np.ndarray) -> None:
    """out[n, a] = z[n] + sum_k alphas[a, k] * vectors[k]; out (N, A, D)."""
def score(z: np.ndarray, vectors: np.ndarray, normalize: bool, out: np.ndarray) -> None:
    """Dot products (or cosines) of z (N, D) with vectors (K, D) into out (N, K)."""
def gather_score(q: np.ndarray, data: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out[i, c] = q[i] . data[rows[i, c]]; rows (Q, C) int64."""
def fill(out: np.ndarray, value: float) -> None:
    """Fill a C-contiguous array with the thread pool (the write-bandwidth baseline)."""
def set_num_threads(n: int) -> None:
    """Threads used by the CPU kernels; n <= 0 restores the default (all cores)."""
def get_num_threads() -> int:
    """Threads used by the CPU kernels."""
def set_streaming(mode: int) -> None:
    """Streaming (non-temporal) stores for large outputs: -1 automatic, 0 never, 1 always."""
def get_streaming() -> int:
    """The streaming-store mode (-1, 0 or 1)."""
def build_info() -> dict[str, Any]:
    """Compiler, SIMD dispatch, selected SIMD level, hardware threads and version."""
