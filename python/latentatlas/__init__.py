"""latentatlas: sampling, visualising and editing the latent spaces of generative models.

The core ops (``slerp``, ``lerp``, ``slerp_gaussian``, ``lerp_gaussian``, ``interpolate``,
``offset``, ``score``) run on a native C++ core (and CUDA kernels where built) and accept
numpy arrays or torch tensors. Everything is imported lazily, so ``import latentatlas``
stays cheap and does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from ._contract import PUBLIC_OPS as _OPS  # pure Python: the names only, nothing loaded

_SUBMODULES = ("ops", "torch_ops", "models", "data", "cli", "attributes", "atdot", "diagnostics", "grids", "sampling",
               "neighbors", "render", "sheets", "experiments", "plots", "bench", "distributed")
_FROM = {name: "ops" for name in _OPS}
_FROM.update({"encode_dataset": "data", "LatentStore": "data", "AtDot": "atdot", "NeighborIndex": "neighbors"})

__all__ = list(_OPS) + ["encode_dataset", "LatentStore", "AtDot", "NeighborIndex"] + list(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _FROM:
        value = getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'latentatlas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
