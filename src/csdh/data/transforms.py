"""Image preprocessing: per-item resize to a fixed size (uint8), per-batch augmentation and scaling.

Per item (in the data set): ``resize_square`` turns any RGB uint8 image into ``(S, S, 3)`` uint8 by
resizing the shorter side to S and centre-cropping. Per batch (in the trainer): ``augment_batch``
(random flip and random translation by padding and cropping) and ``to_float`` (scale to [0, 1]).
The backbone normalises with its own mean and std.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(H, W, 3)`` -> uint8 ``(size, size, 3)``: shorter side to ``size`` (bilinear), centre crop."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return img
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    pil = Image.fromarray(img).resize((nw, nh), Image.BILINEAR)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.asarray(pil.crop((left, top, left + size, top + size)))


def to_float(batch: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """uint8 ``(B, 3, S, S)`` -> float32 in [0, 1] (channels-last memory, faster on CPU)."""
    x = batch.float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def augment_batch(batch: torch.Tensor, generator: Optional[torch.Generator] = None, flip: bool = True,
                  max_shift: float = 0.125) -> torch.Tensor:
    """Random horizontal flip and random translation (reflect-pad, then crop) of a float batch.

    Args:
        batch: float ``(B, 3, S, S)``.
        generator: the random source (seeded by the trainer).
        flip: flip each image left-right with probability 1/2.
        max_shift: translate by up to this fraction of S in each direction.

    Returns:
        a new float ``(B, 3, S, S)`` tensor.
    """
    b, _, s, _ = batch.shape
    out = batch
    if flip:
        mask = torch.rand(b, generator=generator) < 0.5
        if mask.any():
            out = out.clone()
            out[mask] = out[mask].flip(3)
    pad = int(round(s * max_shift))
    if pad > 0:
        padded = F.pad(out, (pad, pad, pad, pad), mode="reflect")
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
        out = torch.stack([padded[i, :, dy[i]:dy[i] + s, dx[i]:dx[i] + s] for i in range(b)])
    return out.contiguous(memory_format=torch.channels_last)
