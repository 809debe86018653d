"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (on a busy machine, threads
    waiting for each other cost far more than they give): one thread,
    restored afterwards. Modules of tiny-model tests use it throughout with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
