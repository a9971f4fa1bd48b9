"""Fixtures of the benchmark tests: a tiny image folder, one shared feature cache, one torch thread."""
from __future__ import annotations

from pathlib import Path

import pytest

from .writers import write_image_folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("bench-data") / "images")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``CSDH_CACHE`` for every benchmark test, so the tiny folder's features are extracted once."""
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: the tiny training steps run many times faster so on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
