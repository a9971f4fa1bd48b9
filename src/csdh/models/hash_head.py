"""The hash head: pooled features -> K continuous codes in [-1, 1]."""
from __future__ import annotations

import contextlib

import torch
from torch import nn


class HashHead(nn.Module):
    """Linear(d, hidden) -> ReLU -> Dropout -> Linear(hidden, K) -> tanh(beta * z).

    The CSDH paper's hidden fully connected layer and hash layer with an activation.

    Args:
        in_dim: d, the backbone's feature size.
        n_bits: K.
        hidden: width of the hidden layer (1024).
        dropout: dropout probability after the hidden layer (0.5).
        beta: scale inside tanh; a loss may change it during training (HashNet's continuation).

    The head computes in float32 even inside a lower-precision autocast region (``--precision bf16`` encodes
    with the backbone in bfloat16): the codes' signs and grading stay float32 arithmetic.
    """

    def __init__(self, in_dim: int, n_bits: int, hidden: int = 1024, dropout: float = 0.5, beta: float = 1.0) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.hash = nn.Linear(hidden, n_bits)
        self.beta = float(beta)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The pre-activation z ``(B, K)``."""
        return self.hash(self.dropout(torch.relu(self.hidden(features))))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        kind = features.device.type
        inside = torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind)
        with torch.autocast(device_type=kind, enabled=False) if inside else contextlib.nullcontext():
            return torch.tanh(self.beta * self.logits(features.float()))  # .float(): a no-op on float32
