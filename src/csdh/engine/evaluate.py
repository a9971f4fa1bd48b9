"""Evaluate a trained run on its protocol: encode queries and database, compute every metric."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

import numpy as np

from csdh.data import load_dataset
from csdh.data.pool import ImagePool
from csdh.data.protocols import Split
from csdh.engine.features import FeatureCache
from csdh.engine.run_model import RunModel
from csdh.metrics import evaluate_all, write_metrics_files

LOG = logging.getLogger(__name__)


def load_run_data(model: RunModel, download: bool = True) -> Tuple[ImagePool, Split]:
    """The pool and split a run was trained on (the split is read from the run directory)."""
    c = model.config
    pool, _, _ = load_dataset(c.dataset, data_dir=c.data_dir, image_root=c.image_root, download=download)
    split = Split.load(model.run.split)
    return pool, split


def evaluate_model(model: RunModel, pool: ImagePool, split: Split, topk: Optional[int] = -1,
                   progress: Optional[Callable[..., Iterable]] = None,
                   feature_cache: Optional[FeatureCache] = None) -> Tuple[Dict[str, Any], np.ndarray, np.ndarray]:
    """Metrics of ``model`` on ``split``; returns ``(metrics, query_codes, database_codes)`` (packed).

    ``topk`` -1 means the protocol's own cut-off (``Split.topk``), None means all.
    """
    if topk == -1:
        topk = split.topk
    t0 = time.perf_counter()
    q = model.encode_pool_packed(pool, split.query, progress=progress, desc="encode queries",
                                 feature_cache=feature_cache)
    d = model.encode_pool_packed(pool, split.database, database=True, progress=progress, desc="encode database",
                                 feature_cache=feature_cache)
    t1 = time.perf_counter()
    metrics = evaluate_all(q, d, pool.labels[split.query], pool.labels[split.database], topk=topk)
    t2 = time.perf_counter()
    metrics.update({"encode_seconds": t1 - t0, "metrics_seconds": t2 - t1, "method": model.config.method,
                    "dataset": model.config.dataset, "protocol": split.protocol, "finetune": model.config.finetune,
                    "model_sha256": model.checksum, "db_dither": model.db_dither,
                    "db_shape": model.db_shape, "flip_average": model.flip_average,
                    "shift_average": model.shift_average, "precision": model.precision})
    return metrics, q, d


def evaluate_run(run_dir: Union[str, Path], topk: Optional[int] = -1, device: str = "cpu",
                 progress: Optional[Callable[..., Iterable]] = None, feature_cache: Optional[FeatureCache] = None,
                 write: bool = True, db_dither: Optional[float] = None, workers: int = 0,
                 db_shape: Optional[bool] = None, flip_average: Optional[bool] = None,
                 shift_average: Optional[int] = None, precision: str = "fp32") -> Dict[str, Any]:
    """Evaluate a run directory on its own protocol; with ``write``, save ``metrics.json``, CSVs and plots.

    ``db_dither`` and ``db_shape`` override the run's database binarisation (:attr:`TrainConfig.db_dither`,
    :attr:`TrainConfig.db_shape`), ``flip_average`` and ``shift_average`` its encoding
    (:attr:`TrainConfig.flip_average`, :attr:`TrainConfig.shift_average`); None keeps them. ``precision``
    is the encoding passes' arithmetic (:mod:`csdh.engine.precision`), recorded in the metrics.
    """
    model = RunModel.load(run_dir, device=device, db_dither=db_dither, workers=workers, db_shape=db_shape,
                          flip_average=flip_average, shift_average=shift_average, precision=precision)
    pool, split = load_run_data(model)
    metrics, _, _ = evaluate_model(model, pool, split, topk=topk, progress=progress, feature_cache=feature_cache)
    if write:
        write_metrics_files(metrics, Path(run_dir))
    LOG.info("mAP %.4f (%s)", metrics["map"], metrics.get("map_topk"))
    return metrics
