"""A torch ``Dataset`` over positions of an :class:`ImagePool`, yielding fixed-size uint8 images."""
from __future__ import annotations

from typing import Any, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from csdh.data.pool import ImagePool
from csdh.data.transforms import square_chw
from csdh.errors import UserError


class PoolDataset(Dataset):
    """Items ``(image uint8 (3, S, S), labels float (C,), position int64)``.

    Args:
        pool: the image pool.
        positions: int64 positions into the pool.
        size: S, the square input size.
        errors_as_items: return a :class:`UserError` (an unusable image) as the item instead of raising it.
            Loader worker processes use this: an error raised there reaches the main process with the
            worker's traceback pasted into its message, while a returned one is passed on intact
            (:func:`collate_or_error`, :func:`check_batch`).
    """

    def __init__(self, pool: ImagePool, positions: np.ndarray, size: int, errors_as_items: bool = False) -> None:
        self.pool = pool
        self.positions = np.asarray(positions, dtype=np.int64)
        self.size = int(size)
        self.errors_as_items = errors_as_items

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def __getitem__(self, k: int) -> Union[Tuple[torch.Tensor, torch.Tensor, int], UserError]:
        pos = int(self.positions[k])
        try:
            img = square_chw(self.pool.load_stored(pos), self.size)
        except UserError as exc:
            if not self.errors_as_items:
                raise
            return exc
        return (torch.from_numpy(img),
                torch.from_numpy(self.pool.labels[pos].astype(np.float32)), pos)


def collate_or_error(items: Sequence[Any]) -> Any:
    """The loader's batch of ``items``, or the first :class:`UserError` among them."""
    for item in items:
        if isinstance(item, UserError):
            return item
    return default_collate(items)


def check_batch(batch: Any) -> Any:
    """``batch``, unless it is a :class:`UserError` from :func:`collate_or_error`: then raise it."""
    if isinstance(batch, UserError):
        raise batch
    return batch
