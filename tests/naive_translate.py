"""Naive reference for the translation test-time views and augmentation: one pixel at a time."""
from __future__ import annotations

import numpy as np


def reflect_index(k: int, n: int) -> int:
    """Index ``k`` reflected into ``[0, n)`` about the edge pixels (numpy's and torch's 'reflect')."""
    return -k if k < 0 else (2 * (n - 1) - k if k >= n else k)


def translate_naive(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``img`` of shape ``(..., H, W)`` moved ``dx`` pixels right and ``dy`` down, the uncovered border
    filled by reflection, computed one output pixel at a time."""
    h, w = img.shape[-2:]
    out = np.empty_like(img)
    for i in range(h):
        for j in range(w):
            out[..., i, j] = img[..., reflect_index(i - dy, h), reflect_index(j - dx, w)]
    return out
