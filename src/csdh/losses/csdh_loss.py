"""CSDH: Code Similarity-based Deep Hashing loss.

Liu, Wu, Yin, Yu, Zhu, Lou, "An improved deep hashing model for image retrieval with binary code
similarities", Journal of Big Data 11:54 (2024). Our reading of the method is written out, term by term,
in ``docs/method.md``; this file implements exactly that:

    L = L_sim + lambda_ham * L_ham + lambda_q * L_q  [+ lambda_cls * L_cls, an optional extension, off by default]

    Theta_ij = alpha * <h_i, h_j> / 2
    L_sim    = mean_ij  w_ij * [ log(1 + exp(Theta_ij)) - s_ij * Theta_ij ]
    d_ij     = K (1 - cos(h_i, h_j)) / 2    (relaxed Hamming distance; ham_cosine=False: (K - <h_i, h_j>) / 2)
    L_ham    = mean_ij  v_ij * [ s_ij * d_ij + (1 - s_ij) * max(0, m - d_ij) ] / K
    L_q      = mean( (|h| - 1)^2 )
    L_cls    = mean_i  - sum_c  (y_ic / sum_c' y_ic') * log softmax(W h_i + b)_c      (items with a label)
               (cls_sign=True: W sign(h_i) + b in the forward pass, the gradient passed straight through to h_i;
               y_i: the ``class_targets`` of the call when given, e.g. a teacher's posteriors, else the labels)

where s_ij is the label similarity (:func:`csdh.losses.similarity.label_similarity`); w_ij (v_ij) are 1
or, with ``balance=True`` (``balance_ham=True``), weights that give similar and dissimilar pairs equal
total mass. L_cls is not part of our reading of the paper: a linear classifier on the codes (DSDH's
auxiliary term, Li et al. 2017), trained with the loss; it is off (``lambda_cls = 0``) unless asked for.
``beta_gamma > 0`` adds HashNet's continuation of the hash layer's tanh(beta z) (:meth:`CSDHLoss.head_scale`),
also not in our reading of the paper and off by default.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from csdh.losses.base import BaseHashingLoss, continuation_scale
from csdh.losses.registry import LOSSES
from csdh.losses.similarity import label_similarity


def balanced_pair_weights(sim: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Weights that give similar (s > 0.5) and dissimilar pairs equal total weight, normalised so that
    the weights of the ``mask``-ed pairs sum to the number of such pairs (a weighted mean stays a mean).

    Args:
        sim: ``(n, m)`` similarities in [0, 1].
        mask: ``(n, m)`` bool, pairs that count.
    """
    pos = (sim > 0.5) & mask
    neg = (~(sim > 0.5)) & mask
    n_pos = pos.sum().clamp_min(1).to(sim.dtype)
    n_neg = neg.sum().clamp_min(1).to(sim.dtype)
    total = mask.sum().to(sim.dtype)
    w = torch.zeros_like(sim)
    groups = int(pos.any()) + int(neg.any())
    if groups == 0:
        return w
    w = torch.where(pos, total / (groups * n_pos), w)
    w = torch.where(neg, total / (groups * n_neg), w)
    return w


def straight_through_sign(codes: torch.Tensor) -> torch.Tensor:
    """``sign(codes)`` with sign(0) = +1 in the forward pass; the backward pass treats it as the identity."""
    signs = torch.where(codes >= 0, torch.ones_like(codes), -torch.ones_like(codes))
    return codes + (signs - codes).detach()


def code_classification_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of ``logits`` ``(B, C)`` against label vectors normalised to distributions.

    A one-hot row is its class, a multi-hot row its labels in equal parts, a mixed (mixup) row the mixed
    distribution. With ``smoothing`` = eps the target is ``(1 - eps) t + eps / C`` (label smoothing).
    Rows without any label carry no class and are left out; if no row has one, the loss is 0 (still
    connected to ``logits``, so backward works).
    """
    mass = labels.sum(dim=1)
    keep = mass > 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    # probability targets; PyTorch's label_smoothing mixes them with the uniform distribution as documented above
    return F.cross_entropy(logits[keep], labels[keep] / mass[keep].unsqueeze(1), label_smoothing=smoothing)


@LOSSES.register("csdh")
class CSDHLoss(BaseHashingLoss):
    """CSDH loss (Liu et al., J. Big Data 2024): label-similarity likelihood + Hamming embedding + quantization.

    Args:
        n_bits: K, the code length.
        n_classes: C, the label dimension.
        n_train: size of the training set, the memory bank's length (needed when ``memory_bank``).
        alpha: scale of the inner product in Theta_ij = alpha <h_i, h_j> / 2; None means 8 / K (0.5 at 16 bits,
            0.125 at 64), so that Theta spans the same range [-4, 4] at every code length; chosen on
            validation queries searched against the held-out database at 16, 32, 48 and 64 bits
            (docs/method.md).
        lambda_ham: weight of the Hamming embedding term L_ham; None means 32 / K (2 at 16 bits, 0.5 at 64),
            chosen on the validation split at 16, 32, 48 and 64 bits (docs/method.md): short codes, where
            the likelihood is weakest, need the margin most.
        lambda_q: weight of the quantization term L_q.
        margin: m, the Hamming distance dissimilar pairs are pushed past; None means K / 2.
        balance: re-weight the pairs of L_sim so that similar and dissimilar pairs carry equal total weight.
        balance_ham: apply the same re-weighting to the pairs of L_ham.
        ham_cosine: measure d_ij in L_ham on codes rescaled to norm sqrt(K),
            d_ij = K (1 - cos(h_i, h_j)) / 2, which equals the Hamming distance of binary codes like the
            plain relaxation but cannot be satisfied by shrinking the codes towards 0.
        soft_similarity: cosine label similarity instead of "shares at least one label".
        lambda_cls: weight of an auxiliary classification term on the codes, L_cls, the cross-entropy of a
            linear classifier ``Linear(K, C)`` on ``h`` against the label vector normalised to a distribution
            (one-hot: the class; multi-hot: its labels in equal parts; mixup: the mixed distribution); items
            without a label are left out. The classifier is a parameter of the loss (the trainer optimises it
            with the hash head and saves it in checkpoints) and is not used at search time. 0 (default): off,
            the loss is exactly L_sim + lambda_ham L_ham + lambda_q L_q. Not in the paper; see docs/method.md.
        cls_sign: the classifier of L_cls reads the binary codes ``sign(h)`` (sign(0) = +1), as DSDH's reads
            its binary codes, with the straight-through gradient (the gradient with respect to the signs is
            passed to ``h`` unchanged). False (default): it reads ``h``.
        cls_smoothing: label smoothing eps of L_cls: its target becomes ``(1 - eps) t + eps / C``.
            0 (default): off. Needs ``lambda_cls > 0``.
        beta_gamma: HashNet's continuation for the hash layer's ``tanh(beta z)``, not in the paper: before
            epoch e (0-based, head warm-up included) the trainer sets beta = (1 + beta_gamma e)^beta_power,
            so the codes sharpen towards their signs as training goes on. 0 (default): off, the model keeps
            its own beta (1). See docs/method.md.
        beta_power: exponent of that schedule (HashNet's 0.5).
        memory_bank: pair each batch item with the latest codes of all training items seen so far
            (the bank is refreshed with the batch's codes first; an item is never paired with itself);
            if False, only pairs within the batch (i != j) count.
    """

    def __init__(
        self,
        n_bits: int,
        n_classes: int,
        n_train: int = 0,
        alpha: Optional[float] = None,
        lambda_ham: Optional[float] = None,
        lambda_q: float = 0.003,
        margin: Optional[float] = None,
        balance: bool = True,
        balance_ham: bool = True,
        ham_cosine: bool = True,
        soft_similarity: bool = False,
        lambda_cls: float = 0.0,
        cls_sign: bool = False,
        cls_smoothing: float = 0.0,
        beta_gamma: float = 0.0,
        beta_power: float = 0.5,
        memory_bank: bool = True,
    ) -> None:
        super().__init__(n_bits, n_classes)
        if memory_bank and n_train <= 0:
            raise ValueError("memory_bank=True needs n_train > 0")
        self.alpha = 8.0 / n_bits if alpha is None else float(alpha)
        self.lambda_ham = 32.0 / n_bits if lambda_ham is None else float(lambda_ham)
        self.lambda_q = float(lambda_q)
        self.margin = float(n_bits) / 2 if margin is None else float(margin)
        self.balance = bool(balance)
        self.balance_ham = bool(balance_ham)
        self.ham_cosine = bool(ham_cosine)
        self.soft_similarity = bool(soft_similarity)
        self.memory_bank = bool(memory_bank)
        if lambda_cls < 0:
            raise ValueError(f"lambda_cls must be >= 0, got {lambda_cls}")
        self.lambda_cls = float(lambda_cls)
        self.classifier = nn.Linear(n_bits, n_classes) if self.lambda_cls > 0 else None
        if cls_sign and not self.lambda_cls:
            raise ValueError("cls_sign changes what the classification term reads: it needs lambda_cls > 0")
        self.cls_sign = bool(cls_sign)
        if not 0 <= cls_smoothing < 1:
            raise ValueError(f"cls_smoothing must be in [0, 1), got {cls_smoothing}")
        if cls_smoothing and not self.lambda_cls:
            raise ValueError("cls_smoothing changes the classification term's targets: it needs lambda_cls > 0")
        self.cls_smoothing = float(cls_smoothing)
        if beta_gamma < 0 or beta_power < 0:
            raise ValueError(f"beta_gamma and beta_power must be >= 0, got {beta_gamma}, {beta_power}")
        self.beta_gamma = float(beta_gamma)
        self.beta_power = float(beta_power)
        self.epoch = 0
        self.uses_index = self.memory_bank
        if self.memory_bank:
            self.register_buffer("bank_codes", torch.zeros(n_train, n_bits))
            self.register_buffer("bank_labels", torch.zeros(n_train, n_classes))
            self.register_buffer("bank_filled", torch.zeros(n_train, dtype=torch.bool))

    def has_classifier(self) -> bool:
        return self.classifier is not None

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def head_scale(self) -> Optional[float]:
        if self.beta_gamma == 0:
            return None
        return continuation_scale(self.epoch, self.beta_gamma, self.beta_power)

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor],
                     class_targets: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.memory_bank:
            assert index is not None
            with torch.no_grad():
                self.bank_codes[index] = codes.detach().to(self.bank_codes.dtype)
                self.bank_labels[index] = labels.to(self.bank_labels.dtype)
                self.bank_filled[index] = True
            other_codes = self.bank_codes.to(codes.dtype)
            other_labels = self.bank_labels.to(codes.dtype)
            mask = self.bank_filled.unsqueeze(0).expand(codes.shape[0], -1).clone()
            mask[torch.arange(codes.shape[0], device=codes.device), index] = False
        else:
            other_codes = codes
            other_labels = labels
            mask = ~torch.eye(codes.shape[0], dtype=torch.bool, device=codes.device)

        sim = label_similarity(labels, other_labels, soft=self.soft_similarity)
        inner = codes @ other_codes.T
        maskf = mask.to(codes.dtype)
        n_pairs = maskf.sum().clamp_min(1.0)

        theta = self.alpha * inner / 2
        nll = F.softplus(theta) - sim * theta  # log(1 + e^theta) - s theta, stable
        balanced = balanced_pair_weights(sim, mask) if (self.balance or self.balance_ham) else maskf
        w_sim = balanced if self.balance else maskf
        w_ham = balanced if self.balance_ham else maskf
        l_sim = (w_sim * nll).sum() / n_pairs

        k = float(self.n_bits)
        if self.ham_cosine:
            cos = F.normalize(codes, dim=1, eps=1e-6) @ F.normalize(other_codes, dim=1, eps=1e-6).T
            dist = k * (1 - cos) / 2
        else:
            dist = (k - inner) / 2
        ham = sim * dist + (1 - sim) * torch.clamp(self.margin - dist, min=0)
        l_ham = (w_ham * ham).sum() / n_pairs / k

        l_q = ((codes.abs() - 1) ** 2).mean()

        self.last_terms = {"sim": float(l_sim.detach()), "ham": float(l_ham.detach()), "q": float(l_q.detach())}
        total = l_sim + self.lambda_ham * l_ham + self.lambda_q * l_q
        if self.classifier is not None:
            read = straight_through_sign(codes) if self.cls_sign else codes
            l_cls = code_classification_loss(self.classifier(read), labels if class_targets is None else class_targets,
                                             self.cls_smoothing)
            self.last_terms["cls"] = float(l_cls.detach())
            total = total + self.lambda_cls * l_cls
        return total
