"""DHN: Deep Hashing Network.

Zhu, Long, Wang, Cao, "Deep Hashing Network for Efficient Similarity Retrieval", AAAI 2016.
Pairwise cross-entropy (paper Eqs. 1-3) plus the pairwise quantization loss (Eq. 4) made smooth with
|x| ~ log cosh x (Eq. 5); objective L + lambda Q (Eq. 6):

    L = mean_{(i, j)} [ log(1 + exp(alpha <h_i, h_j>)) - alpha s_ij <h_i, h_j> ]
    Q = mean_{i, k} log cosh( |h_ik| - 1 )

The paper's Q sums log cosh(|h_ik| - 1) + log cosh(|h_jk| - 1) over the pairs; over all pairs of a batch
each item occurs equally often (2 (B - 1) times), so that sum is a constant multiple of the per-item
mean used here; the constant is absorbed into lambda (means as in swuxyj/DeepHash-pytorch ``DHN.py``,
whose quantization weight 0.1 is the default of ``lambda_q``).

alpha: the paper's sigma(<h_i, h_j>) is alpha = 1, which saturates for K-bit codes in [-1, 1]; the
authors' code (thulab/DeepHash ``dhn.py``, ``examples/dhn/train_val.sh``) uses alpha = 10 on the cosine
of the codes, i.e. about 10 / K on codes near +-1, the scale HashNet adopted. Default: 10 / K.

Pairs: the ordered pairs (i, j), i != j, of the batch, or batch x memory bank with ``memory_bank=True``.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from csdh.losses.pairwise import PairwiseHashingLoss
from csdh.losses.registry import LOSSES


def log_cosh(x: torch.Tensor) -> torch.Tensor:
    """log(cosh(x)) without overflow: |x| + log1p(exp(-2|x|)) - log 2."""
    a = x.abs()
    return a + torch.log1p(torch.exp(-2.0 * a)) - math.log(2.0)


@LOSSES.register("dhn")
class DHNLoss(PairwiseHashingLoss):
    """DHN loss (Zhu et al., AAAI 2016): pairwise cross-entropy + smooth (log cosh) quantization.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set (only used when ``memory_bank``).
        alpha: scale of the inner product in the sigmoid; None means 10 / K (see above).
        lambda_q: weight lambda of the quantization loss (0.1, swuxyj/DeepHash-pytorch).
        memory_bank: pair the batch with all training items' latest codes instead of with itself.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        alpha: Optional[float] = None,
        lambda_q: float = 0.1,
        memory_bank: bool = False,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train=n_train, memory_bank=memory_bank)
        self.alpha = 10.0 / n_bits if alpha is None else float(alpha)
        self.lambda_q = float(lambda_q)

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        pairs = self.pairs(codes, labels, index)
        dot = self.alpha * (codes @ pairs.codes.T)
        l_ce = pairs.mean(F.softplus(dot) - pairs.sim * dot)
        l_q = log_cosh(codes.abs() - 1).mean()
        self.last_terms = {"ce": float(l_ce.detach()), "q": float(l_q.detach())}
        return l_ce + self.lambda_q * l_q
