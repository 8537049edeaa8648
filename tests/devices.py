"""What the device-parametrised tests run on: the method list from the library, and the
backends of the ops as pytest parameters (CUDA ones skipped where no device exists)."""

from __future__ import annotations

import pytest

from latentatlas._contract import METHOD_NAMES

METHODS = METHOD_NAMES


def _cuda_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()


# Devices for torch tensors: the CPU always, every CUDA device where one exists.
DEVICES = ["cpu"] + ([f"cuda:{i}" for i in range(_cuda_count())] or
                     [pytest.param("cuda", marks=pytest.mark.skip(reason="no CUDA device"))])

# Backends of latentatlas._backend, each reached with torch tensors: the native CPU core,
# the pure-torch fallback (forced on CPU tensors, as CUDA without _cuda runs it) and the
# _cuda kernels on every device.
BACKENDS = ["cpu", "torch-fallback"] + DEVICES[1:]
