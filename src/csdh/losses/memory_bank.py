"""A memory bank of the latest continuous codes and labels of every training item.

DPSH's reference code (and its DeepHash-pytorch port, used for DSH, DHN and HashNet too) pairs each
batch item with the codes of *all* training items, kept in a table ``U`` that is refreshed with each
batch's codes. This class is that table, as buffers, so that it is saved with checkpoints.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


class MemoryBank(nn.Module):
    """The latest (detached) code and the label of each training item seen so far.

    Args:
        n_train: number of training items (rows of the bank).
        n_bits: K, the code length.
        n_classes: C, the label dimension.
    """

    def __init__(self, n_train: int, n_bits: int, n_classes: int) -> None:
        super().__init__()
        if n_train <= 0:
            raise ValueError(f"a memory bank needs n_train > 0, got {n_train}")
        self.register_buffer("codes", torch.zeros(n_train, n_bits))
        self.register_buffer("labels", torch.zeros(n_train, n_classes))
        self.register_buffer("filled", torch.zeros(n_train, dtype=torch.bool))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @torch.no_grad()
    def update(self, codes: torch.Tensor, labels: torch.Tensor, index: torch.Tensor) -> None:
        """Store the batch's codes ``(B, K)`` and labels ``(B, C)`` at rows ``index`` ``(B,)``."""
        if int(index.min()) < 0 or int(index.max()) >= len(self):
            raise IndexError(f"index out of range for a memory bank of {len(self)} items")
        self.codes[index] = codes.detach().to(self.codes.dtype)
        self.labels[index] = labels.detach().to(self.labels.dtype)
        self.filled[index] = True

    def pairs(
        self, codes: torch.Tensor, labels: torch.Tensor, index: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Refresh the bank with the batch, then pair the batch with every filled row.

        Returns:
            ``(other_codes (N, K), other_labels (N, C), mask (B, N) bool)``: the bank's codes (no
            gradient) and labels in ``codes``' dtype, and which pairs count: filled rows, never an item
            with itself.
        """
        self.update(codes, labels, index)
        mask = self.filled.unsqueeze(0).expand(codes.shape[0], -1).clone()
        mask[torch.arange(codes.shape[0], device=mask.device), index.to(mask.device)] = False
        return self.codes.to(codes.dtype), self.labels.to(codes.dtype), mask.to(codes.device)
