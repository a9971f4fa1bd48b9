"""DSH: Deep Supervised Hashing.

Liu, Wang, Shan, Chen, "Deep Supervised Hashing for Fast Image Retrieval", CVPR 2016. The relaxed loss
of a pair (paper Eqs. 3-4; written here with s = 1 - y, so s = 1 for similar pairs):

    D_ij = || h_i - h_j ||^2
    L_ij = 1/2 s_ij D_ij + 1/2 (1 - s_ij) max(m - D_ij, 0)
           + alpha ( || |h_i| - 1 ||_1 + || |h_j| - 1 ||_1 )

with m = 2K and alpha = 0.01 (paper Sec. 4 / the DSH-pytorch reimplementation weixu000/DSH-pytorch).
L is the mean of L_ij over the pairs: by default, as in the paper ("generate image pairs online" from
all pairs of a mini-batch), the ordered pairs (i, j), i != j, of the batch; with ``memory_bank=True``,
batch x all training items' latest codes (swuxyj/DeepHash-pytorch ``DSH.py``), where the bank side's
regulariser is a constant. Within a batch the regulariser's mean is 2 alpha mean_i || |h_i| - 1 ||_1,
exactly weixu000's ``alpha * (b.abs() - 1).abs().sum(dim=1).mean() * 2``.
"""
from __future__ import annotations

from typing import Optional

import torch

from csdh.losses.pairwise import PairwiseHashingLoss
from csdh.losses.registry import LOSSES


@LOSSES.register("dsh")
class DSHLoss(PairwiseHashingLoss):
    """DSH loss (Liu et al., CVPR 2016): contrastive loss on real-valued codes + L1 regulariser to +-1.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set (only used when ``memory_bank``).
        margin: m, the squared distance dissimilar pairs are pushed past; None means 2K (paper).
        alpha: weight of the regulariser (paper: 0.01).
        memory_bank: pair the batch with all training items' latest codes instead of with itself.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        margin: Optional[float] = None,
        alpha: float = 0.01,
        memory_bank: bool = False,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train=n_train, memory_bank=memory_bank)
        self.margin = 2.0 * n_bits if margin is None else float(margin)
        self.alpha = float(alpha)

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        pairs = self.pairs(codes, labels, index)
        other = pairs.codes
        sq_a = (codes**2).sum(dim=1, keepdim=True)
        sq_b = (other**2).sum(dim=1).unsqueeze(0)
        dist = (sq_a + sq_b - 2 * codes @ other.T).clamp_min(0.0)
        s = pairs.sim
        l_con = pairs.mean(0.5 * s * dist + 0.5 * (1 - s) * torch.clamp(self.margin - dist, min=0.0))
        q_a = (codes.abs() - 1).abs().sum(dim=1, keepdim=True)
        q_b = (other.abs() - 1).abs().sum(dim=1).unsqueeze(0)
        l_reg = pairs.mean(q_a + q_b)
        self.last_terms = {"contrastive": float(l_con.detach()), "reg": float(l_reg.detach())}
        return l_con + self.alpha * l_reg
