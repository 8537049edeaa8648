"""Shared fixtures: the bundled digits, and one torch thread for tiny models on a shared machine."""

from __future__ import annotations

import os
import sys

import pytest

# tests/reference.py is imported as a plain module by the test files.
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models train fastest on one thread; restores the thread count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled digits as a latentatlas Dataset."""
    import latentatlas as la

    return la.data.load_digits()
