"""Benchmarks users run from a pip install, each a module with a ``main(argv)``:

- :mod:`.kernels`: the core ops against numpy, torch eager and ``torch.compile``, with the
  fraction of the memory-fill bandwidth measured in the same run (and a CUDA section);
- :mod:`.index`: :class:`~latentatlas.neighbors.NeighborIndex` against exact search and
  faiss's HNSW at equal recall;
- :mod:`.gpu`: slerp, offset and score on a CUDA device at sizes beyond its L2 cache,
  against torch eager and the bandwidth of a device-to-device copy;
- :mod:`.serve`: ``latentatlas serve`` under concurrent load, batching on and off, and
  an overload phase.

:mod:`._common` holds what they share (machine and build facts, thread counts, timing,
JSON and tables), :mod:`._cases` the ops' sizes, byte counts and baseline expressions.
Nothing here imports the command line; ``latentatlas bench`` and the checkout's
``bench/*.py`` scripts are thin entry points into these modules. The modules are
imported on use, so ``import latentatlas.bench`` loads neither numpy nor torch.
"""

from __future__ import annotations

__all__ = ["kernels", "index", "gpu", "serve"]
