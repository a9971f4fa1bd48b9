"""Every deep method trains with the generic Trainer (frozen backbone) on a small real Fashion-MNIST subset
and its codes beat random codes by a wide margin.

The subset (2,000 images: 1,000 training, 200 validation, 200 query and 600 more database images, stratified,
seed 0) goes through the real pretrained EfficientNet-Lite0 at 32 px once per session; the features are
cached on disk. The subset and the session fixture ``real`` live in ``tests/real_features.py`` and
``tests/conftest.py``, shared with ``tests/shallow/test_all_methods_real.py``.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from csdh.codes import pack
from csdh.engine.pipeline import make_config
from csdh.engine.run_dir import RunDir
from csdh.engine.trainer import Trainer
from csdh.losses import LOSSES
from csdh.metrics import mean_average_precision
from real_features import one_torch_thread

pytestmark = pytest.mark.slow

BITS = 32
EPOCHS = 30
HIDDEN = 256  # a smaller hash head than the default 1024, to keep the test fast
#: measured (32 bits, seed 0): CSDH 0.44, DPSH 0.42, HashNet 0.62, DSH 0.29, DHN 0.50, DCH 0.66, CSQ 0.62;
#: random codes 0.10. The bar, random + 0.12, is about twice chance and well below every method.
MARGIN = 0.12


def random_map(real: SimpleNamespace) -> float:
    s, labels = real.split, real.pool.labels
    codes = np.random.default_rng(1).integers(0, 256, (len(labels), BITS // 8), dtype=np.uint8)
    return mean_average_precision(codes[s.query], codes[s.database], labels[s.query], labels[s.database])


@pytest.mark.parametrize("method", LOSSES.names())
def test_every_deep_method_beats_random_codes_on_real_features(method, real, tmp_path):
    config = make_config(dataset="fashion-mnist", method=method, bits=BITS, input_size=32, epochs=EPOCHS,
                         hidden=HIDDEN, eval_every=0, seed=0)
    run = RunDir(tmp_path / method)
    run.prepare_new(overwrite=False)
    # the features are in the cache already, so the backbone never runs: its weights need not be loaded
    trainer = Trainer(config, real.pool, real.split, run, feature_cache=real.cache, pretrained=False)
    with one_torch_thread():
        trainer.fit()
    net = trainer.net.eval()
    with torch.inference_mode():
        codes = pack(net.forward_head(torch.from_numpy(real.features)).numpy())
    s, labels = real.split, real.pool.labels
    score = mean_average_precision(codes[s.query], codes[s.database], labels[s.query], labels[s.database])
    chance = random_map(real)
    print(f"{method}: mAP {score:.4f} (random codes {chance:.4f})")
    assert score >= chance + MARGIN, f"{method}: mAP {score:.4f}, random codes {chance:.4f}"
