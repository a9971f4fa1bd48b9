"""Base class of every deep hashing loss: it validates inputs, subclasses write the maths.

The pattern is pytorch-metric-learning's ``BaseMetricLossFunction``: :meth:`forward` checks shapes,
dtypes and devices, then calls :meth:`compute_loss`.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn


def continuation_scale(epoch: int, gamma: float, power: float, beta0: float = 1.0) -> float:
    """HashNet's continuation of the hash layer's tanh(beta z): beta = beta0 (1 + gamma epoch)^power."""
    return beta0 * (1.0 + gamma * epoch) ** power


class BaseHashingLoss(nn.Module):
    """A loss on continuous codes ``h`` in [-1, 1] and multi-hot labels.

    Every subclass receives its hyperparameters as explicit constructor arguments (never a config
    dict, never the dataset's size or name) plus ``n_bits`` and ``n_classes``.

    Call it as ``loss(codes, labels, index=None, class_targets=None)``:

    Args (forward):
        codes: float ``(B, K)`` continuous codes, the output of the hash layer.
        labels: ``(B, C)`` multi-hot labels (0/1, any numeric dtype); single-label data is one-hot.
        index: optional int64 ``(B,)`` positions of the batch items in the training set; losses that
            keep a memory bank of codes (CSDH, DPSH-style) use it, the others ignore it.
        class_targets: optional float ``(B, C)`` class distributions that a loss with a classification
            term on the codes (:meth:`has_classifier`) uses for that term instead of ``labels``, while its
            pairwise terms keep ``labels`` (a teacher's posteriors, :class:`csdh.engine.teacher.Teacher`);
            a loss without one refuses them.

    Returns:
        a scalar tensor. After each call, :attr:`last_terms` holds the detached value of each term
        (for logging).
    """

    #: set by subclasses that keep per-training-item state and so need ``n_train`` and ``index``
    uses_index: bool = False

    def __init__(self, n_bits: int, n_classes: int) -> None:
        super().__init__()
        if n_bits <= 0:
            raise ValueError(f"n_bits must be positive, got {n_bits}")
        if n_classes <= 0:
            raise ValueError(f"n_classes must be positive, got {n_classes}")
        self.n_bits = int(n_bits)
        self.n_classes = int(n_classes)
        self.last_terms: Dict[str, float] = {}

    def forward(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor] = None,
                class_targets: Optional[torch.Tensor] = None) -> torch.Tensor:
        if codes.ndim != 2 or codes.shape[1] != self.n_bits:
            raise ValueError(f"codes must have shape (B, {self.n_bits}), got {tuple(codes.shape)}")
        if labels.ndim != 2 or labels.shape != (codes.shape[0], self.n_classes):
            raise ValueError(f"labels must have shape ({codes.shape[0]}, {self.n_classes}), got {tuple(labels.shape)}")
        if labels.device != codes.device:
            raise ValueError(f"codes on {codes.device} but labels on {labels.device}")
        if index is not None:
            if index.shape != (codes.shape[0],):
                raise ValueError(f"index must have shape ({codes.shape[0]},), got {tuple(index.shape)}")
            index = index.to(codes.device, torch.long)
        elif self.uses_index:
            raise ValueError(f"{type(self).__name__} needs the batch's training-set index")
        if class_targets is None:
            return self.compute_loss(codes, labels.to(codes.dtype), index)
        if not self.has_classifier():
            raise ValueError(f"{type(self).__name__} has no classification term to give class targets to")
        if class_targets.shape != labels.shape:
            raise ValueError(f"class targets must have the labels' shape {tuple(labels.shape)}, "
                             f"got {tuple(class_targets.shape)}")
        return self.compute_loss(codes, labels.to(codes.dtype), index,
                                 class_targets=class_targets.to(codes.device, codes.dtype))

    def has_classifier(self) -> bool:
        """Whether the loss has a classification term on the codes, which ``class_targets`` may steer."""
        return False

    def compute_loss(self, codes: torch.Tensor, labels: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def on_epoch_start(self, epoch: int) -> None:
        """Hook called by the trainer before each epoch (0-based); e.g. HashNet's β continuation."""

    def head_scale(self) -> Optional[float]:
        """A scale β for the hash layer's ``tanh(β z)`` that the loss wants now, or None for the model's own."""
        return None
