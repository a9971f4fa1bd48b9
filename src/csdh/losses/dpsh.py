"""DPSH: Deep Pairwise-Supervised Hashing.

Li, Wang, Kang, "Feature Learning based Deep Supervised Hashing with Pairwise Labels", IJCAI 2016.
The relaxed objective (paper Eqs. 2-3):

    Theta_ij = 1/2 <u_i, u_j>
    J = - sum_{s_ij in S} ( s_ij Theta_ij - log(1 + e^{Theta_ij}) ) + eta * sum_i || b_i - u_i ||^2,
    b_i = sign(u_i)

Here, as in the reference implementation (swuxyj/DeepHash-pytorch ``DPSH.py``, a port of the authors'
jiangqy/DPSH-pytorch), each batch item is paired with a memory bank of the latest codes of all training
items, and both sums are means:

    L_lik = mean_{(i, j)} [ softplus(Theta_ij) - s_ij Theta_ij ]
    L_q   = mean_{i, k} (b_ik - u_ik)^2
    L     = L_lik + eta * L_q

Unlike the reference code, bank rows not yet filled (still zero) and the pair (i, i) are left out of the
mean (as in :class:`~csdh.losses.csdh_loss.CSDHLoss`); from the second epoch on this only drops the
self pairs. ``sign(0)`` is taken as +1, the convention of :mod:`csdh.codes`.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from csdh.losses.pairwise import PairwiseHashingLoss
from csdh.losses.registry import LOSSES


@LOSSES.register("dpsh")
class DPSHLoss(PairwiseHashingLoss):
    """DPSH loss (Li, Wang, Kang, IJCAI 2016): pairwise likelihood + quantization to sign(u).

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set, the memory bank's length (needed when ``memory_bank``).
        eta: weight of the quantization term (the paper's eta). Default 0.1, the ``alpha`` of the
            reference port swuxyj/DeepHash-pytorch ``DPSH.py`` for the mean-normalised terms used here
            (the authors' jiangqy/DPSH-pytorch uses ``lambda`` = 10 with sums divided by n_train * B).
        memory_bank: pair the batch with all training items' latest codes (reference code, default) or
            only with the other batch items.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        eta: float = 0.1,
        memory_bank: bool = True,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train=n_train, memory_bank=memory_bank)
        self.eta = float(eta)

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        pairs = self.pairs(codes, labels, index)
        theta = 0.5 * (codes @ pairs.codes.T)
        l_lik = pairs.mean(F.softplus(theta) - pairs.sim * theta)
        b = torch.where(codes >= 0, 1.0, -1.0).to(codes.dtype)
        l_q = ((b - codes) ** 2).mean()
        self.last_terms = {"lik": float(l_lik.detach()), "q": float(l_q.detach())}
        return l_lik + self.eta * l_q
