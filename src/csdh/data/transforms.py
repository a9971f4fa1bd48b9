"""Image preprocessing: per-item resize to a fixed size (uint8), per-batch augmentation and scaling.

Per item (in the data set): ``resize_square`` turns any RGB or grey uint8 image into ``(S, S, 3)`` uint8
by resizing the shorter side to S and centre-cropping (``square_chw``: the same, channels first). Per
batch (in the trainer): ``augment_batch`` (random flip, random translation by padding and cropping,
optional random rotation and scaling, optional random erasing), ``rotate_scale`` (given rotations and
scalings), ``translate`` (one fixed translation, a test-time view), ``to_float`` (scale to [0, 1]),
``mixup`` (convex combinations of items and of their labels; also used on pooled features) and ``cutmix``
(a rectangle of each image pasted from another, labels mixed by area).
The backbone normalises with its own mean and std.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _square(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(H, W)`` or ``(H, W, 3)`` resized and cropped to ``(size, size[, 3])``, channels as given."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return img
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    pil = Image.fromarray(img).resize((nw, nh), Image.BILINEAR)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.asarray(pil.crop((left, top, left + size, top + size)))


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(H, W, 3)`` RGB or ``(H, W)`` grey -> uint8 ``(size, size, 3)``: shorter side to ``size``
    (bilinear), centre crop; a grey image is resized once and then replicated to 3 channels (PIL resizes
    each channel alike, so the result equals resizing its 3-channel copy, with a third of the channels)."""
    out = _square(img, size)
    return np.repeat(out[:, :, None], 3, axis=2) if out.ndim == 2 else out


def square_chw(img: np.ndarray, size: int) -> np.ndarray:
    """:func:`resize_square` in channels-first order, uint8 ``(3, size, size)`` contiguous: the item
    layout of :class:`csdh.data.pool_dataset.PoolDataset` (a grey image's channels are copied from one)."""
    out = _square(img, size)
    if out.ndim == 2:
        return np.ascontiguousarray(np.broadcast_to(out, (3,) + out.shape))
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def to_float(batch: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """uint8 ``(B, 3, S, S)`` -> float32 in [0, 1] (channels-last memory, faster on CPU)."""
    x = batch.float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def translate(batch: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """A float batch ``(B, C, S, S)`` moved ``dx`` pixels right and ``dy`` down (negative: left, up), the
    uncovered border filled by reflection and the result cropped back to ``S``: the translation that
    :func:`augment_batch` draws at random, here fixed. ``|dx|`` and ``|dy|`` must be below ``S``."""
    pad = max(abs(int(dx)), abs(int(dy)))
    if pad == 0:
        return batch
    s_h, s_w = batch.shape[-2:]
    padded = F.pad(batch, (pad, pad, pad, pad), mode="reflect")
    return padded[:, :, pad - dy:pad - dy + s_h, pad - dx:pad - dx + s_w]


def augment_batch(batch: torch.Tensor, generator: Optional[torch.Generator] = None, flip: bool = True,
                  max_shift: float = 0.125, rotate: float = 0.0, scale: float = 0.0, erase_prob: float = 0.0,
                  erase_area: Tuple[float, float] = (0.02, 0.25)) -> torch.Tensor:
    """Random horizontal flip, random translation (reflect-pad, then crop), random rotation and scaling, and
    random erasing of a float batch, in this order. Rotation and scaling draw nothing from ``generator`` when
    both are 0, so the other draws are the same as without them.

    Random erasing (Zhong et al., AAAI 2020) replaces, with probability ``erase_prob`` per image, one
    rectangle covering a uniform fraction ``erase_area`` of the image, aspect ratio log-uniform in
    [0.3, 3.3], with uniform noise in [0, 1].

    Args:
        batch: float ``(B, 3, S, S)`` in [0, 1].
        generator: the random source (seeded by the trainer).
        flip: flip each image left-right with probability 1/2.
        max_shift: translate by up to this fraction of S in each direction.
        rotate: rotate each image by an angle drawn uniformly from [-rotate, rotate] degrees (0: off).
        scale: scale each image about its centre by a factor drawn uniformly from [1 - scale, 1 + scale]
            (0: off); see :func:`rotate_scale`.
        erase_prob: probability of erasing one rectangle per image (0 disables it).
        erase_area: range of the erased fraction of the image area.

    Returns:
        a new float ``(B, 3, S, S)`` tensor.
    """
    b, _, s, _ = batch.shape
    out = batch
    if flip:
        mask = torch.rand(b, generator=generator) < 0.5
        if mask.any():
            out = out.clone()
            mask = mask.to(out.device)
            out[mask] = out[mask].flip(3)
    pad = int(round(s * max_shift))
    if pad > 0:
        padded = F.pad(out, (pad, pad, pad, pad), mode="reflect")
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
        out = torch.stack([padded[i, :, dy[i]:dy[i] + s, dx[i]:dx[i] + s] for i in range(b)])
    if rotate > 0 or scale > 0:
        angles = (2 * torch.rand(b, generator=generator) - 1) * float(rotate)
        factors = 1 + (2 * torch.rand(b, generator=generator) - 1) * float(scale)
        out = rotate_scale(out, angles, factors)
    if erase_prob > 0:
        out = random_erase(out, erase_prob, erase_area, generator)
    return out.contiguous(memory_format=torch.channels_last)


def rotate_scale(batch: torch.Tensor, degrees: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """A float batch ``(B, C, S, S)`` with image ``i`` rotated ``degrees[i]`` degrees counter-clockwise (as
    displayed, rows running down) and scaled ``factors[i]`` times (above 1: zoomed in) about its centre;
    bilinear sampling, the uncovered border filled by reflection, the size kept. A rotation by a multiple
    of 90 degrees at factor 1 moves pixel centres onto pixel centres, so it equals ``torch.rot90``."""
    b = batch.shape[0]
    rad = degrees.to(torch.float64) * (math.pi / 180.0)
    inv = 1.0 / factors.to(torch.float64)
    cos, sin = torch.cos(rad) * inv, torch.sin(rad) * inv
    # affine_grid maps output coordinates (x right, y down, in [-1, 1]) to input coordinates: the output
    # point (x, y) samples the input at (cos x - sin y, sin x + cos y) / factor, which, with y running
    # down, turns the picture counter-clockwise on screen
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    grid = F.affine_grid(theta.to(batch.dtype).to(batch.device), list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_erase(batch: torch.Tensor, prob: float, area: Tuple[float, float] = (0.02, 0.25),
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Erase one random rectangle per image (with probability ``prob``) with uniform noise; a new tensor.

    Every random draw is made for the whole batch at once, so the result depends only on the generator.
    """
    b, c, h, w = batch.shape
    chosen = torch.rand(b, generator=generator) < prob
    frac = area[0] + (area[1] - area[0]) * torch.rand(b, generator=generator)
    log_r = math.log(0.3) + (math.log(1 / 0.3) - math.log(0.3)) * torch.rand(b, generator=generator)
    ratio = log_r.exp()
    eh = (frac * h * w * ratio).sqrt().round().clamp(1, h).long()
    ew = (frac * h * w / ratio).sqrt().round().clamp(1, w).long()
    top = (torch.rand(b, generator=generator) * (h - eh + 1).float()).long()
    left = (torch.rand(b, generator=generator) * (w - ew + 1).float()).long()
    noise = torch.rand(batch.shape, generator=generator, dtype=batch.dtype)
    inside = _boxes(top, top + eh, left, left + ew, h, w) & chosen.view(b, 1, 1)
    return torch.where(inside.unsqueeze(1).to(batch.device), noise.to(batch.device), batch)


def _boxes(top: torch.Tensor, bottom: torch.Tensor, left: torch.Tensor, right: torch.Tensor,
           h: int, w: int) -> torch.Tensor:
    """Boolean ``(B, h, w)`` masks of one rectangle per item, rows ``[top, bottom)`` and columns ``[left, right)``."""
    b = top.shape[0]
    rows = torch.arange(h, device=top.device).view(1, h, 1)
    cols = torch.arange(w, device=top.device).view(1, 1, w)
    return ((rows >= top.view(b, 1, 1)) & (rows < bottom.view(b, 1, 1))
            & (cols >= left.view(b, 1, 1)) & (cols < right.view(b, 1, 1)))


def mixup_rng(seed: int, epoch: int) -> np.random.Generator:
    """The random source of :func:`mixup` in ``epoch`` of a run seeded ``seed`` (the same after ``--resume``)."""
    return np.random.default_rng([seed, epoch, 0x6D6978])  # 0x6D6978: "mix"


def mixup(batch: torch.Tensor, labels: torch.Tensor, alpha: float,
          rng: np.random.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mix each item with a random partner of the same batch (Zhang et al., ICLR 2018).

    Item i becomes ``lam_i * x_i + (1 - lam_i) * x_p(i)`` and its label the same mixture of the two label
    vectors, with ``lam_i`` drawn from Beta(alpha, alpha) and folded to ``max(lam_i, 1 - lam_i)`` so that
    every item stays mostly itself (row i of a memory bank still holds a view of item i). ``p`` is a random
    permutation of the batch. For single-label data a mixed label is a class distribution.

    Args:
        batch: float ``(B, ...)`` images or feature vectors.
        labels: float ``(B, C)`` labels.
        alpha: the Beta distribution's parameter (> 0).
        rng: the random source (seeded by the trainer).

    Returns:
        ``(mixed batch, mixed labels)``, new tensors.
    """
    b = batch.shape[0]
    lam, partner = _partners(b, alpha, rng, batch.device)
    lam_t = torch.from_numpy(lam).to(batch.device, batch.dtype)
    shape = (b,) + (1,) * (batch.ndim - 1)
    mixed = lam_t.view(shape) * batch + (1 - lam_t.view(shape)) * batch[partner]
    if batch.ndim == 4:
        mixed = mixed.contiguous(memory_format=torch.channels_last)
    return mixed, _mix_labels(labels, lam, partner)


def _partners(b: int, alpha: float, rng: np.random.Generator, device) -> Tuple[np.ndarray, torch.Tensor]:
    """Mixing weights from Beta(alpha, alpha) folded to ``max(l, 1 - l)``, then a random permutation of the
    batch (on ``device``), drawn from ``rng`` in that order: what :func:`mixup` and :func:`cutmix` share."""
    lam = rng.beta(alpha, alpha, size=b)
    lam = np.maximum(lam, 1.0 - lam)
    return lam, torch.from_numpy(rng.permutation(b)).to(device)


def _mix_labels(labels: torch.Tensor, own: np.ndarray, partner: torch.Tensor) -> torch.Tensor:
    """``own_i * y_i + (1 - own_i) * y_p(i)`` for every item i of the batch."""
    w = torch.from_numpy(own).to(labels.device, labels.dtype).view(-1, 1)
    return w * labels + (1 - w) * labels[partner.to(labels.device)]


def cutmix(batch: torch.Tensor, labels: torch.Tensor, alpha: float,
           rng: np.random.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
    """Paste a rectangle of a random partner into each image (Yun et al., ICCV 2019).

    Item i keeps a fraction ``lam_i`` of its own pixels and shows its partner ``p(i)`` in one axis-aligned
    rectangle elsewhere; its label becomes ``lam_i * y_i + (1 - lam_i) * y_p(i)`` with ``lam_i`` the exact
    fraction of the image left its own after clipping the rectangle to the image. The rectangle has the aspect
    of the image and at most the area ``1 - l`` of it (its sides rounded down), ``l`` drawn from
    Beta(alpha, alpha) and folded to ``max(l, 1 - l)`` as in :func:`mixup`, so every item stays mostly itself;
    its centre is uniform over the image. ``p`` is a random permutation of the batch. Images only (``(B, C, H, W)``): a rectangle of a
    pooled feature vector means nothing.

    Args:
        batch: float ``(B, C, H, W)`` images.
        labels: float ``(B, C')`` labels.
        alpha: the Beta distribution's parameter (> 0).
        rng: the random source (seeded by the trainer).

    Returns:
        ``(mixed batch, mixed labels)``, new tensors.
    """
    if batch.ndim != 4:
        raise ValueError(f"cutmix mixes images (B, C, H, W), got shape {tuple(batch.shape)}")
    b, _, h, w = batch.shape
    lam, partner = _partners(b, alpha, rng, batch.device)
    side = np.sqrt(1.0 - lam)
    ch, cw = np.floor(side * h).astype(np.int64), np.floor(side * w).astype(np.int64)  # own share >= lam
    cy, cx = rng.integers(0, h, size=b), rng.integers(0, w, size=b)
    top, bottom = np.clip(cy - ch // 2, 0, h), np.clip(cy - ch // 2 + ch, 0, h)
    left, right = np.clip(cx - cw // 2, 0, w), np.clip(cx - cw // 2 + cw, 0, w)
    own = 1.0 - (bottom - top) * (right - left) / float(h * w)
    inside = _boxes(*(torch.from_numpy(a).to(batch.device) for a in (top, bottom, left, right)), h, w)
    mixed = torch.where(inside.unsqueeze(1), batch[partner], batch)
    mixed = mixed.contiguous(memory_format=torch.channels_last)
    return mixed, _mix_labels(labels, own, partner)
