"""HashNet: deep learning to hash by continuation.

Cao, Long, Wang, Yu, "HashNet: Deep Learning to Hash by Continuation", ICCV 2017.

Weighted maximum likelihood (paper Eqs. 1-4) on the continuous codes h = tanh(beta z):

    sigma_ij = 1 / (1 + exp(-alpha <h_i, h_j>))
    w_ij     = |S| / |S1| if s_ij = 1,  |S| / |S0| if s_ij = 0        (Eq. 2, S = the pairs used)
    L        = 1/|S| sum_{(i, j) in S} w_ij [ log(1 + exp(alpha <h_i, h_j>)) - alpha s_ij <h_i, h_j> ]

which is the authors' ``pairwise_loss_updated`` (thuml/HashNet ``pytorch/src/loss.py``), with a stable
softplus instead of its ``l_threshold`` linearisation. alpha defaults to 10 / K (the authors'
``sigmoid_param = 10 / hash_bit``). HashNet has no quantization term: binarisation comes from the
continuation below.

Continuation (paper Sec. 3.3 and Algorithm 1): the hash layer's tanh(beta z) sharpens towards sign(z)
as beta grows. The authors' code sets beta = (1 + 0.005 t)^0.5 at iteration t, updated every 200
iterations, for 10 000 iterations (final beta ~ 7.1). The trainer here works in epochs, so
:meth:`head_scale` returns

    beta_e = beta0 * (1 + gamma * e)^power      (e = 0-based epoch, set by :meth:`on_epoch_start`)

with beta0 = 1 and power = 0.5 as in the authors' code, and gamma = 1 per epoch, which reaches the
authors' final beta ~ 7.1 at epoch 50 (the same square-root schedule, stepped once an epoch, as
swuxyj/DeepHash-pytorch ``HashNet.py``'s ``(epoch // step + 1) ** 0.5``).

Pairs: the authors pair two independently drawn batches; here a batch is paired with itself (i != j),
or, with ``memory_bank=True``, with every training item's latest code (swuxyj's port).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from csdh.losses.base import continuation_scale
from csdh.losses.pairwise import PairwiseHashingLoss, class_balance_weights
from csdh.losses.registry import LOSSES


@LOSSES.register("hashnet")
class HashNetLoss(PairwiseHashingLoss):
    """HashNet loss (Cao et al., ICCV 2017): class-balanced pairwise likelihood + beta continuation.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set (only used when ``memory_bank``).
        alpha: scale in sigma(alpha <h_i, h_j>); None means 10 / K (authors' code).
        beta0: initial tanh scale beta (authors' ``init_scale`` = 1).
        gamma: growth of beta per epoch (the authors' 0.005 per iteration, restated per epoch; see above).
        power: exponent of the schedule (authors' 0.5).
        continuation: if False, :meth:`head_scale` returns None and the model keeps its own scale.
        memory_bank: pair the batch with all training items' latest codes instead of with itself.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        alpha: Optional[float] = None,
        beta0: float = 1.0,
        gamma: float = 1.0,
        power: float = 0.5,
        continuation: bool = True,
        memory_bank: bool = False,
    ) -> None:
        super().__init__(n_bits, n_classes, n_train=n_train, memory_bank=memory_bank)
        if beta0 <= 0:
            raise ValueError(f"beta0 must be positive, got {beta0}")
        if gamma < 0 or power < 0:
            raise ValueError(f"gamma and power must be >= 0, got {gamma}, {power}")
        self.alpha = 10.0 / n_bits if alpha is None else float(alpha)
        self.beta0 = float(beta0)
        self.gamma = float(gamma)
        self.power = float(power)
        self.continuation = bool(continuation)
        self.epoch = 0

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def head_scale(self) -> Optional[float]:
        if not self.continuation:
            return None
        return continuation_scale(self.epoch, self.gamma, self.power, self.beta0)

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        pairs = self.pairs(codes, labels, index)
        dot = self.alpha * (codes @ pairs.codes.T)
        nll = F.softplus(dot) - pairs.sim * dot
        weights = class_balance_weights(pairs.sim, pairs.mask)
        l_sim = pairs.mean(weights * nll)
        self.last_terms = {"sim": float(l_sim.detach())}
        return l_sim
