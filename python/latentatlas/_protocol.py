"""The model protocol's names that torch-free code needs too: the priors and the shipped
checkpoints. A leaf module without imports, so the command line can name the shipped
models and :mod:`latentatlas.sampling` can check a prior without importing torch (which
:mod:`latentatlas.models` does); both read these instead of keeping copies."""

from __future__ import annotations

from typing import Any

#: ``"gaussian"``: N(0, I); ``"uniform"``: U(-1, 1) in every coordinate (the DCGAN convention).
PRIORS = ("gaussian", "uniform")

#: The checkpoints that ship in ``latentatlas/models/weights`` (``latentatlas.models.load(name)``).
SHIPPED = ("digits-vae", "digits-gan", "shapes-vae")


def check_prior(prior: Any) -> str:
    """``prior`` if it is one of :data:`PRIORS`, else a ValueError naming the choices."""
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    return prior
