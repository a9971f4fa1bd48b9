"""Shared machinery of the pairwise baselines (DPSH, HashNet, DSH, DHN, DCH): where pairs come from.

A pairwise loss compares each batch item i with a set of other items j, either

* the other items of the batch (``memory_bank=False``): all ordered pairs (i, j), i != j; or
* a :class:`~csdh.losses.memory_bank.MemoryBank` of every training item's latest code
  (``memory_bank=True``), as in DPSH's reference code: the bank is refreshed with the batch first, and
  i is paired with every filled row except itself; the bank's codes carry no gradient.

Every pairwise term is a mean over the pairs that count (:attr:`Pairs.mask`).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from csdh.losses.base import BaseHashingLoss
from csdh.losses.memory_bank import MemoryBank
from csdh.losses.similarity import label_similarity


class Pairs(NamedTuple):
    """The items a batch is compared with.

    Attributes:
        codes: ``(N, K)`` codes of the other items (the batch itself, or the memory bank).
        sim: ``(B, N)`` label similarity s_ij in {0, 1} (1 when the items share a label).
        mask: ``(B, N)`` bool, the pairs that count.
    """

    codes: torch.Tensor
    sim: torch.Tensor
    mask: torch.Tensor

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean of ``(B, N)`` ``values`` over the pairs that count (0 when there are none)."""
        maskf = self.mask.to(values.dtype)
        return (values * maskf).sum() / maskf.sum().clamp_min(1.0)


def class_balance_weights(sim: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """HashNet's / DCH's pair weights: w_ij = |S| / |S1| for similar pairs, |S| / |S0| for dissimilar ones.

    S is the set of pairs that count (``mask``), S1 its similar (s_ij > 0) and S0 its dissimilar pairs,
    so that ``sum(w * l) / |S|`` = mean over S1 of l + mean over S0 of l. With one group empty, the other
    gets weight 1. Pairs outside ``mask`` get 0.

    Args:
        sim: ``(n, m)`` similarities in [0, 1].
        mask: ``(n, m)`` bool.
    """
    pos = (sim > 0) & mask
    neg = (sim <= 0) & mask
    total = mask.sum().to(sim.dtype)
    w_pos = total / pos.sum().clamp_min(1).to(sim.dtype)
    w_neg = total / neg.sum().clamp_min(1).to(sim.dtype)
    zero = torch.zeros((), dtype=sim.dtype, device=sim.device)
    return torch.where(pos, w_pos, torch.where(neg, w_neg, zero))


class PairwiseHashingLoss(BaseHashingLoss):
    """Base class of losses on pairs of items; subclasses call :meth:`pairs` in ``compute_loss``.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set (the memory bank's length; only used when ``memory_bank``).
        memory_bank: pair the batch with every training item's latest code instead of with itself.
    """

    def __init__(self, n_bits: int, n_classes: int, n_train: int = 0, memory_bank: bool = False) -> None:
        super().__init__(n_bits, n_classes)
        if memory_bank and n_train <= 0:
            raise ValueError("memory_bank=True needs n_train > 0")
        self.memory_bank = bool(memory_bank)
        self.uses_index = self.memory_bank
        self.bank: Optional[MemoryBank] = MemoryBank(n_train, n_bits, n_classes) if self.memory_bank else None

    def pairs(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> Pairs:
        """The items the batch ``codes (B, K)`` / ``labels (B, C)`` is compared with (refreshes the bank)."""
        if self.bank is not None:
            if index is None:
                raise ValueError(f"{type(self).__name__}(memory_bank=True) needs the batch's training-set index")
            other_codes, other_labels, mask = self.bank.pairs(codes, labels, index)
        else:
            other_codes, other_labels = codes, labels
            mask = ~torch.eye(codes.shape[0], dtype=torch.bool, device=codes.device)
        sim = label_similarity(labels, other_labels)
        return Pairs(other_codes, sim, mask)
