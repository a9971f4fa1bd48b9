"""DCH: Deep Cauchy Hashing.

Cao, Long, Liu, Wang, "Deep Cauchy Hashing for Hamming Space Retrieval", CVPR 2018.

    d(h_i, h_j) = K/2 (1 - cos(h_i, h_j))                     normalised Hamming distance (Eq. 6)
    P(s_ij = 1 | h_i, h_j) = gamma / (gamma + d_ij)            Cauchy probability
    w_ij = |S| / |S1| if s_ij = 1, |S| / |S0| if s_ij = 0      class-balance weights (Eq. 2)
    L = 1/|S| sum_ij w_ij [ s_ij log(d_ij / gamma) + log(1 + gamma / d_ij) ]    Cauchy cross-entropy (Eq. 8)
    Q = mean_i log(1 + d(|h_i|, 1) / gamma)                    Cauchy quantization loss (Eq. 9)
    objective L + lambda Q                                     (Eq. 7)

The cross-entropy term is computed as log(1 + d/gamma) + (1 - s)(log gamma - log d), the same value,
finite for similar pairs at d = 0; in the log d of dissimilar pairs d is clamped at 0.005 K, the floor
that the reference port's ``cos.clamp(max=0.99)`` puts on d (swuxyj/DeepHash-pytorch ``DCH.py``).
Defaults gamma = 20 and lambda = 0.1 are the reference port's (gamma = 20 is also the authors'
thulab/DeepHash default); the paper selects both by validation.

Pairs: the ordered pairs (i, j), i != j, of the batch (the port also uses in-batch pairs, with i = j),
or batch x memory bank with ``memory_bank=True``. Terms are means, as in the port.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from csdh.losses.pairwise import PairwiseHashingLoss, class_balance_weights
from csdh.losses.registry import LOSSES


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


@LOSSES.register("dch")
class DCHLoss(PairwiseHashingLoss):
    """DCH loss (Cao et al., CVPR 2018): class-balanced Cauchy cross-entropy + Cauchy quantization.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set (only used when ``memory_bank``).
        gamma: scale of the Cauchy distribution (20, reference code).
        lambda_q: weight lambda of the quantization loss (0.1, reference code).
        memory_bank: pair the batch with all training items' latest codes instead of with itself.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        gamma: float = 20.0,
        lambda_q: float = 0.1,
        memory_bank: bool = False,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train=n_train, memory_bank=memory_bank)
        if gamma <= 0:
            raise ValueError(f"gamma must be positive, got {gamma}")
        self.gamma = float(gamma)
        self.lambda_q = float(lambda_q)
        self.min_distance = 0.005 * n_bits

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        pairs = self.pairs(codes, labels, index)
        k = float(self.n_bits)
        dist = k / 2 * (1 - _unit(codes) @ _unit(pairs.codes).T)
        s = pairs.sim
        ce = torch.log1p(dist / self.gamma) + (1 - s) * (
            math.log(self.gamma) - torch.log(dist.clamp_min(self.min_distance))
        )
        weights = class_balance_weights(s, pairs.mask)
        l_ce = pairs.mean(weights * ce)

        abs_codes = codes.abs()
        cos_one = abs_codes.sum(dim=1) / (abs_codes.norm(dim=1).clamp_min(1e-12) * math.sqrt(k))
        l_q = torch.log1p(k / 2 * (1 - cos_one) / self.gamma).mean()

        self.last_terms = {"cauchy": float(l_ce.detach()), "q": float(l_q.detach())}
        return l_ce + self.lambda_q * l_q
