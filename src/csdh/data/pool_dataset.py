"""A torch ``Dataset`` over positions of an :class:`ImagePool`, yielding fixed-size uint8 images."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from csdh.data.pool import ImagePool
from csdh.data.transforms import resize_square


class PoolDataset(Dataset):
    """Items ``(image uint8 (3, S, S), labels float (C,), position int64)``.

    Args:
        pool: the image pool.
        positions: int64 positions into the pool.
        size: S, the square input size.
    """

    def __init__(self, pool: ImagePool, positions: np.ndarray, size: int) -> None:
        self.pool = pool
        self.positions = np.asarray(positions, dtype=np.int64)
        self.size = int(size)

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def __getitem__(self, k: int) -> Tuple[torch.Tensor, torch.Tensor, int]:
        pos = int(self.positions[k])
        img = resize_square(self.pool.load(pos), self.size)
        return (torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
                torch.from_numpy(self.pool.labels[pos].astype(np.float32)), pos)
