"""Shared fixtures for the unit tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run torch on one intra-op thread: tiny models are faster so, far faster on a busy 2-core
    machine, and no result here depends on the thread count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
