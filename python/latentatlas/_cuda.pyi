"""Type stub of the native CUDA module (normalised shapes; use latentatlas.ops).

Buffers are objects with ``__cuda_array_interface__`` (torch CUDA tensors); every size,
stride, dtype and device is checked against the others before a kernel is launched on
``stream`` (an integer ``cudaStream_t``, e.g. ``torch.cuda.current_stream().cuda_stream``).
"""

from typing import Any

def device_count() -> int:
    """CUDA devices visible (0 without a driver or GPU)."""
def build_info() -> dict[str, Any]:
    """CUDA runtime and driver versions, architectures built for, devices seen."""
def interp(method: int, a: Any, b: Any, t: Any, out: Any, stream: int) -> None:
    """Interpolate rows a (B, D) to b (B, D) at times t (1 or B, T) into out (B, T, D)."""
def offset(z: Any, vectors: Any, alphas: Any, out: Any, stream: int) -> None:
    """out[n, a] = z[n] + sum_k alphas[a, k] * vectors[k] into out (N, A, D)."""
def score(z: Any, vectors: Any, normalize: bool, out: Any, stream: int) -> None:
    """Dot products (or cosines) of z (N, D) with vectors (K, D) into out (N, K)."""
