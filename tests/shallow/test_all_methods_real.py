"""Every shallow method, fitted on real backbone features of a small Fashion-MNIST subset, beats random
codes by a wide margin.

The subset is the one of ``tests/losses/test_all_methods_train.py`` (2,000 images: 1,000 training,
200 validation, 200 query and 600 more database images, stratified, seed 0): its features come from the real
pretrained EfficientNet-Lite0 at 32 px, computed once per session (``tests/real_features.py``, through the
``real`` fixture of ``tests/conftest.py``).
"""
from __future__ import annotations

import numpy as np
import pytest

from csdh.metrics import mean_average_precision
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
