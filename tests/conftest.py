"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models in one thread: two threads fighting a busy machine's two cores are many times slower, and one
    thread everywhere keeps runs in different processes bit for bit comparable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
