"""Label similarity between items, s_ij in [0, 1]."""
from __future__ import annotations

import torch


def label_similarity(labels_a: torch.Tensor, labels_b: torch.Tensor, soft: bool = False) -> torch.Tensor:
    """Pairwise label similarity.

    Args:
        labels_a: ``(n, C)`` multi-hot labels (single-label data is one-hot).
        labels_b: ``(m, C)`` multi-hot labels.
        soft: if False (the field's convention), s_ij = 1 when the items share at least one label, else 0.
            If True, the cosine <y_i, y_j> / (|y_i| |y_j|) (0 for an item with no label).
            Either way, labels with fractional entries (mixup of single-label data, where a label is a
            class distribution) give the probability that the two items are of one class,
            s_ij = <y_i, y_j>, which equals the field's rule on one-hot labels.

    Returns:
        float ``(n, m)`` similarities in [0, 1], dtype of ``labels_a`` if floating else float32.
    """
    dtype = labels_a.dtype if labels_a.is_floating_point() else torch.float32
    a = labels_a.to(dtype)
    b = labels_b.to(dtype)
    inner = a @ b.T
    if is_fractional(a) or is_fractional(b):
        return inner.clamp(0.0, 1.0)
    if not soft:
        return (inner > 0).to(dtype)
    na = a.norm(dim=1, keepdim=True)
    nb = b.norm(dim=1, keepdim=True)
    denom = (na @ nb.T).clamp_min(torch.finfo(dtype).tiny)
    return (inner / denom).clamp(0.0, 1.0)


def is_fractional(labels: torch.Tensor) -> bool:
    """Whether any entry of ``labels`` lies strictly between 0 and 1 (a mixed label)."""
    return bool(((labels > 0) & (labels < 1)).any())
