"""Frozen-backbone features, computed once and cached on disk.

The cache key is the backbone name, the input size, the pool's fingerprint and the requested positions,
so a different data set, size or backbone never reuses stale features.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from csdh.atomic_io import atomic_output
from csdh.data.download import cache_dir as data_cache_dir
from csdh.data.download import cache_root
from csdh.data.pool import ImagePool
from csdh.data.pool_dataset import PoolDataset, check_batch, collate_or_error
from csdh.data.transforms import to_float
from csdh.engine.precision import encoding_autocast

LOG = logging.getLogger(__name__)

Progress = Callable[..., Iterable]


def default_cache_dir() -> Path:
    """``$CSDH_CACHE`` or ``~/.cache/csdh`` (the data sets' download cache shares the folder)."""
    return cache_root()


def no_progress(iterable: Iterable, **_: object) -> Iterable:
    """The default progress wrapper: the iterable itself (the CLI passes tqdm instead)."""
    return iterable


def pool_loader(pool: ImagePool, positions: np.ndarray, input_size: int, batch_size: int, workers: int = 0,
                device: str = "cpu") -> DataLoader:
    """Batches of :class:`PoolDataset` items of ``positions``, in order (pass each through
    :func:`check_batch`); ``workers`` > 0 loads them in that many processes (pinned memory for CUDA), which
    keeps a GPU fed: one process resizing images is slower than the network there."""
    # in worker processes an unusable image travels as an item, so it reaches the caller as a clean UserError
    ds = PoolDataset(pool, positions, input_size, errors_as_items=workers > 0)
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers,
                      collate_fn=collate_or_error if workers > 0 else None,
                      pin_memory=workers > 0 and str(device).startswith("cuda"))


@torch.inference_mode()
def forward_pool(fn: Callable[[torch.Tensor], torch.Tensor], pool: ImagePool, positions: np.ndarray, input_size: int,
                 batch_size: int = 32, device: str = "cpu", progress: Optional[Progress] = None,
                 desc: str = "encode", workers: int = 0, precision: str = "fp32") -> np.ndarray:
    """Apply ``fn`` (images in [0, 1] -> vectors) to pool images in batches; float32 ``(n, D)``.

    Memory stays flat: one batch of images at a time plus the output array. ``workers`` > 0 loads and
    resizes images in that many worker processes (same result, in the same order). ``precision`` ``bf16``
    runs ``fn`` under bfloat16 autocast (:mod:`csdh.engine.precision`).
    """
    loader = pool_loader(pool, positions, input_size, batch_size, workers, device)
    out: Optional[np.ndarray] = None
    start = 0
    bar = (progress or no_progress)(loader, desc=desc, total=len(loader), unit="batch")
    for batch in bar:
        images, _, _ = check_batch(batch)
        with encoding_autocast(precision, device):
            y = fn(to_float(images.to(device, non_blocking=True)))
        y = y.float().cpu().numpy()
        if out is None:
            out = np.empty((len(loader.dataset), y.shape[1]), dtype=np.float32)
        out[start:start + len(y)] = y
        start += len(y)
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out


class FeatureCache:
    """Pooled backbone features of a pool, computed on demand and kept on disk.

    One cache entry per (backbone, input size, pool fingerprint, and the precision when it is not ``fp32``):
    a float32 memory-mapped array
    ``(len(pool), d)`` plus a boolean mask of the rows already computed, so the features computed for
    training are reused when the queries and database are encoded, and only missing rows are computed.
    The mask is written (atomically) after the rows it marks, so an interrupted run never trusts a row
    that was not written.

    Args:
        cache_dir: the folder (created on demand); None means ``default_cache_dir() / "features"``.
    """

    def __init__(self, cache_dir: Optional[Path] = None) -> None:
        self.cache_dir = data_cache_dir("features", cache_dir)

    def key(self, backbone_name: str, input_size: int, pool: ImagePool, precision: str = "fp32") -> str:
        """The entry's file stem; float32 entries keep the keys they had before ``precision`` existed."""
        tag = "" if precision == "fp32" else f"|{precision}"
        h = hashlib.sha1(f"{backbone_name}|{input_size}|{pool.fingerprint()}|{len(pool)}{tag}".encode())
        name = backbone_name if precision == "fp32" else f"{backbone_name}-{precision}"
        return f"{name}-{input_size}-{h.hexdigest()[:16]}"

    def get(self, backbone: torch.nn.Module, backbone_name: str, input_size: int, pool: ImagePool,
            positions: np.ndarray, batch_size: int = 32, device: str = "cpu",
            progress: Optional[Progress] = None, workers: int = 0, precision: str = "fp32") -> np.ndarray:
        """Features float32 ``(len(positions), d)`` of pool ``positions``; missing rows are computed first
        (in ``precision``, whose features are an entry of their own)."""
        positions = np.asarray(positions, dtype=np.int64)
        dim = int(getattr(backbone, "out_dim"))
        key = self.key(backbone_name, input_size, pool, precision)
        data_path = self.cache_dir / f"{key}.f32"
        mask_path = self.cache_dir / f"{key}.done.npy"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        n = len(pool)
        expected = n * dim * 4
        if not data_path.exists() or data_path.stat().st_size != expected:
            with open(data_path, "wb") as f:
                f.truncate(expected)
            done = np.zeros(n, dtype=bool)
        else:
            try:
                done = np.load(mask_path)
                if done.shape != (n,):
                    raise ValueError("mask of the wrong length")
            except (OSError, ValueError):
                done = np.zeros(n, dtype=bool)
        feats = np.memmap(data_path, dtype=np.float32, mode="r+", shape=(n, dim))
        missing = np.unique(positions[~done[positions]])
        if len(missing):
            LOG.info("computing %s features of %d images at %d px in %s (%d cached)", backbone_name,
                     len(missing), input_size, precision, int(done.sum()))
            backbone.eval()
            feats[missing] = forward_pool(backbone, pool, missing, input_size, batch_size, device, progress,
                                          desc="features", workers=workers, precision=precision)
            feats.flush()
            done[missing] = True
            with atomic_output(mask_path) as tmp:
                np.save(tmp, done)
        else:
            LOG.info("features of %d images from the cache %s", len(positions), data_path)
        return np.asarray(feats[positions])
