"""Every shallow method, fitted on real backbone features of a small Fashion-MNIST subset, beats random
codes by a wide margin.

The subset is the one of ``tests/losses/test_all_methods_train.py`` (2,000 images: 1,000 training,
200 validation, 200 query and 600 more database images, stratified, seed 0): its features come from the real
pretrained EfficientNet-Lite0 at 32 px, computed once per session into a cache folder both files share.
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
from csdh.metrics import mean_average_precision
from csdh.models import BACKBONES
from csdh.shallow import SHALLOW

pytestmark = pytest.mark.slow

BITS = 32
#: lighter kernel settings than the defaults (for 1,000 training vectors and a fast test)
KWARGS = {"sdh": {"n_anchors": 300}, "ksh": {"n_anchors": 200, "n_labeled": 500, "n_grad_iter": 20}}
#: measured (32 bits, seed 0, these settings): LSH 0.31, PCAH 0.25, ITQ 0.37, SH 0.25, SDH 0.64, KSH 0.55;
#: random codes 0.10. The bar, random + 0.08, is well below every unsupervised method ...
MARGIN = 0.08
#: ... and supervised methods must clear random + 0.3
SUPERVISED_MARGIN = 0.3


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: the small backbone passes run faster so on a busy machine (no spin-waiting)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def real_subset(cache_dir: Path) -> SimpleNamespace:
    """The 2,000-image subset: pool, split and the features of every image ``(2000, 1280)``."""
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
    backbone = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=32)
    with one_torch_thread():
        features = FeatureCache(cache_dir).get(backbone, "efficientnet-lite0", 32, pool, idx, batch_size=250)
    return SimpleNamespace(pool=pool, split=split, features=features)


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    return real_subset(tmp_path_factory.getbasetemp() / "fashion-mnist-subset-features")


def test_the_features_are_real_backbone_features(real):
    X = real.features
    assert X.shape == (2000, 1280) and X.dtype == np.float32
    assert np.isfinite(X).all() and X.std() > 0


@pytest.mark.parametrize("method", SHALLOW.names())
def test_every_shallow_method_beats_random_codes_on_real_features(method, real):
    s, labels, X = real.split, real.pool.labels, real.features
    hasher = SHALLOW.create(method, n_bits=BITS, seed=0, **KWARGS.get(method, {}))
    hasher.fit(X[s.train], labels[s.train] if hasher.supervised else None)
    q, d = hasher.encode(X[s.query]), hasher.encode(X[s.database])
    score = mean_average_precision(q, d, labels[s.query], labels[s.database])
    codes = np.random.default_rng(1).integers(0, 256, (len(labels), BITS // 8), dtype=np.uint8)
    chance = mean_average_precision(codes[s.query], codes[s.database], labels[s.query], labels[s.database])
    margin = SUPERVISED_MARGIN if hasher.supervised else MARGIN
    print(f"{method}: mAP {score:.4f} (random codes {chance:.4f})")
    assert score >= chance + margin, f"{method}: mAP {score:.4f}, random codes {chance:.4f}"
