"""A small real Fashion-MNIST subset and its backbone features, shared by the tests that train on real data
(``tests/losses/test_all_methods_train.py`` and ``tests/shallow/test_all_methods_real.py``).

The subset has 2,000 images: 1,000 training, 200 validation, 200 query and 600 more database images,
stratified, seed 0. Its features come from the real pretrained EfficientNet-Lite0 at 32 px and are cached on
disk; the ``real`` fixture of ``tests/conftest.py`` computes them once per session.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import numpy as np
import pytest
import torch

from csdh.data import ArrayPool, Split, load_fashion_mnist
from csdh.data.fashion_mnist import SYSTEM_DIR
from csdh.engine.features import FeatureCache
from csdh.models import BACKBONES


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: small steps and backbone passes run many times faster so on a busy machine
    (no spin-waiting)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def real_subset(cache_dir: Path) -> SimpleNamespace:
    """The 2,000-image subset as a pool, its split, the feature cache in ``cache_dir`` and the features of
    every image ``(2000, 1280)``."""
    if not (SYSTEM_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST is not installed in {SYSTEM_DIR}")
    fm = load_fashion_mnist(SYSTEM_DIR, download=False)
    y = fm.labels.argmax(axis=1)
    rng = np.random.default_rng(0)
    parts = {"train": [], "val": [], "query": [], "extra": []}
    for c in range(fm.n_classes):
        official_train = rng.permutation(np.flatnonzero(y[:fm.n_train_official] == c))
        official_test = fm.n_train_official + rng.permutation(np.flatnonzero(y[fm.n_train_official:] == c))
        parts["train"].append(official_train[:100])
        parts["val"].append(official_train[100:120])
        parts["query"].append(official_test[:20])
        parts["extra"].append(official_test[20:80])
    positions = np.concatenate([np.sort(np.concatenate(v)) for v in parts.values()])
    digest = hashlib.sha1(positions.astype(np.int64).tobytes()).hexdigest()[:16]
    pool = ArrayPool("fashion-mnist-subset", fm.images[positions], fm.labels[positions], fm.class_names,
                     fingerprint=f"fashion-mnist-subset-{digest}")
    idx = np.arange(len(positions))
    train, val, query = idx[:1000], idx[1000:1200], idx[1200:1400]
    split = Split("custom", 0, query=query, train=train, database=np.setdiff1d(idx, query), val_query=val,
                  val_database=train, topk=None)
    cache = FeatureCache(cache_dir)
    backbone = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=32)
    with one_torch_thread():
        features = cache.get(backbone, "efficientnet-lite0", 32, pool, idx, batch_size=250)
    return SimpleNamespace(pool=pool, split=split, cache=cache, features=features)
