"""CSQ: Central Similarity Quantization.

Yuan et al., "Central Similarity Quantization for Efficient Image and Video Retrieval", CVPR 2020.

Hash centres (paper Sec. 3.2, Algorithm 1): one K-bit centre c_y in {-1, +1}^K per class,

* when K is a power of 2 and C <= 2K: the first C rows of [H_K; -H_K], H_K the Sylvester Hadamard
  matrix, so any two centres are exactly K/2 apart;
* otherwise random centres, each with K/2 bits set to -1 (the authors' tutorial notebook; the paper's
  Bernoulli(0.5) sampling), redrawn up to ``max_tries`` times until the minimum pairwise Hamming
  distance is >= ``min_distance`` and the mean >= K/2 (the authors' acceptance test; the best draw is
  kept, with a warning, if none passes). Seeded by ``seed``.

Multi-label items (Sec. 3.2): the centroid of the centres of the item's labels, binarised by sign,
with the zero bits (ties) taken from one fixed random +-1 vector (the authors' ``random_center``),
also seeded. For one label this is that label's centre; an item without labels gets the tie vector.

Loss (Sec. 3.3), as in the reference code (swuxyj/DeepHash-pytorch ``CSQ.py``, the authors'
yuanli2333/Hadamard-Matrix-for-hashing ``train.py``):

    L_C = BCE( (h + 1) / 2, (c + 1) / 2 )       mean over items and bits
    L_Q = mean (|h| - 1)^2                      (the reference code's form; the paper uses a log cosh)
    L   = L_C + lambda L_Q

lambda defaults to 1e-4 (swuxyj's ``"lambda": 0.0001``; the authors' ``train.py`` defaults
``lambda2`` = 0.05 with a pairwise term it adds on top). The centres and the tie vector are buffers,
so they are saved with checkpoints.
"""
from __future__ import annotations

import logging
from typing import Optional

import torch
import torch.nn.functional as F

from csdh.losses.base import BaseHashingLoss
from csdh.losses.registry import LOSSES
from csdh.losses.similarity import is_fractional

LOG = logging.getLogger(__name__)


def sylvester_hadamard(n: int) -> torch.Tensor:
    """The ``(n, n)`` Sylvester Hadamard matrix of +-1 (``scipy.linalg.hadamard``); n a power of 2."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"n must be a power of 2, got {n}")
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], dim=1), torch.cat([h, -h], dim=1)], dim=0)
    return h


def pairwise_hamming(centers: torch.Tensor) -> torch.Tensor:
    """Hamming distances ``(C, C)`` between +-1 rows."""
    return (centers.shape[1] - centers @ centers.T) / 2


def random_centers(
    n_classes: int,
    n_bits: int,
    generator: torch.Generator,
    min_distance: float,
    max_tries: int = 1000,
) -> torch.Tensor:
    """Random balanced +-1 centres ``(C, K)``, redrawn until min distance >= ``min_distance`` and mean >= K/2.

    Returns the first draw that passes, else the draw with the largest minimum distance (logged).
    """
    best: Optional[torch.Tensor] = None
    best_key = (-1.0, -1.0)
    off_diag = ~torch.eye(n_classes, dtype=torch.bool)
    for _ in range(max(1, max_tries)):
        ranks = torch.rand(n_classes, n_bits, generator=generator).argsort(dim=1).argsort(dim=1)
        centers = torch.where(ranks < n_bits // 2, -1.0, 1.0)
        if n_classes < 2:
            return centers
        dist = pairwise_hamming(centers)[off_diag]
        key = (float(dist.min()), float(dist.mean()))
        if key[0] >= min_distance and key[1] >= n_bits / 2:
            return centers
        if key > best_key:
            best, best_key = centers, key
    assert best is not None
    LOG.warning(
        "no %d random %d-bit hash centres with minimum distance >= %s in %d tries; using a draw with "
        "minimum %s, mean %.2f",
        n_classes, n_bits, min_distance, max_tries, best_key[0], best_key[1],
    )
    return best


def hash_centers(
    n_classes: int,
    n_bits: int,
    generator: torch.Generator,
    min_distance: Optional[float] = None,
    max_tries: int = 1000,
) -> torch.Tensor:
    """CSQ's class centres ``(C, K)`` in {-1, +1}: Hadamard rows when they fit, else random (see module doc).

    Args:
        min_distance: minimum pairwise Hamming distance of random centres; None means > K/4 (the check
            of the reference port), i.e. floor(K/4) + 1.
    """
    if n_bits & (n_bits - 1) == 0 and n_classes <= 2 * n_bits:
        h = sylvester_hadamard(n_bits)
        return torch.cat([h, -h], dim=0)[:n_classes].clone()
    if min_distance is None:
        min_distance = n_bits // 4 + 1
    return random_centers(n_classes, n_bits, generator, float(min_distance), max_tries)


@LOSSES.register("csq")
class CSQLoss(BaseHashingLoss):
    """CSQ loss (Yuan et al., CVPR 2020): BCE to the item's hash centre + quantization.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: unused (CSQ keeps no per-item state); accepted for the common signature.
        lambda_q: weight lambda of the quantization term (1e-4, reference code).
        seed: seed of the random centres (when Hadamard ones do not fit) and of the tie-break vector.
        min_distance: minimum pairwise Hamming distance of random centres; None means floor(K/4) + 1.
        max_tries: draws of random centres before settling for the best.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        lambda_q: float = 1e-4,
        seed: int = 0,
        min_distance: Optional[float] = None,
        max_tries: int = 1000,
    ) -> None:
        super().__init__(n_bits, n_classes)
        self.lambda_q = float(lambda_q)
        self.seed = int(seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.register_buffer("centers", hash_centers(n_classes, n_bits, generator, min_distance, max_tries))
        tie = torch.randint(0, 2, (n_bits,), generator=generator).to(torch.float32) * 2 - 1
        self.register_buffer("tie_break", tie)

    def label_centers(self, labels: torch.Tensor) -> torch.Tensor:
        """Target centre ``(B, K)`` in {-1, +1} of each item: the binarised centroid of its labels' centres."""
        total = labels.to(self.centers.dtype) @ self.centers
        total = torch.where(total == 0, self.tie_break.expand_as(total), total)
        return torch.where(total > 0, 1.0, -1.0).to(self.centers.dtype)

    def target_probabilities(self, labels: torch.Tensor) -> torch.Tensor:
        """Per-bit target ``(B, K)`` in [0, 1] of each item: ``(centre + 1) / 2`` of :meth:`label_centers`; for
        mixed labels (mixup of single-label data: class distributions), the same mixture of the classes'
        targets."""
        if is_fractional(labels):
            dist = labels.to(self.centers.dtype)
            dist = dist / dist.sum(1, keepdim=True).clamp_min(torch.finfo(dist.dtype).tiny)
            return dist @ ((self.centers + 1) / 2)
        return (self.label_centers(labels) + 1) / 2

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        target = self.target_probabilities(labels).to(codes.dtype)
        prob = ((codes + 1) / 2).clamp(0.0, 1.0)
        l_c = F.binary_cross_entropy(prob, target)
        l_q = ((codes.abs() - 1) ** 2).mean()
        self.last_terms = {"center": float(l_c.detach()), "q": float(l_q.detach())}
        return l_c + self.lambda_q * l_q
