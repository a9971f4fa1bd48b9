"""Shared fixtures: an isolated cache, a small real Fashion-MNIST image folder, the backbone features of a
real Fashion-MNIST subset (``real_features.py``), and the tiny-run helpers of ``index/tiny.py``."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
TINY_PY = Path(__file__).resolve().parent / "index" / "tiny.py"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep feature caches and downloads of the test suite out of the user's ~/.cache."""
    old = os.environ.get("CSDH_CACHE")
    os.environ["CSDH_CACHE"] = str(tmp_path_factory.mktemp("csdh-cache"))
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
    if old is None:
        os.environ.pop("CSDH_CACHE", None)
    else:
        os.environ["CSDH_CACHE"] = old


def have_fashion_mnist() -> bool:
    return (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists()


@pytest.fixture(scope="session")
def fashion_folder(tmp_path_factory) -> Path:
    """An image folder of real Fashion-MNIST images: 10 classes x 40 PNGs (seeded choice)."""
    if not have_fashion_mnist():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    from csdh.data import load_fashion_mnist

    pool = load_fashion_mnist()
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("fashion-folder")
    cls = pool.labels.argmax(1)
    for c, name in enumerate(pool.class_names):
        folder = root / f"{c}-{name.replace('/', '_').replace(' ', '_')}"
        folder.mkdir()
        for i in rng.choice(np.flatnonzero(cls == c), size=40, replace=False):
            Image.fromarray(pool.images[i]).save(folder / f"{i:05d}.png")
    return root


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The 2,000-image real Fashion-MNIST subset and its features (see ``real_features.py``)."""
    from real_features import real_subset

    return real_subset(tmp_path_factory.getbasetemp() / "fashion-mnist-subset-features")


@pytest.fixture(scope="session")
def tiny_module() -> ModuleType:
    """``index/tiny.py``, loaded by path for the test folders that cannot import it as a package."""
    spec = importlib.util.spec_from_file_location("csdh_tests_tiny", TINY_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
