"""The contract every backbone follows."""
from __future__ import annotations

import torch
from torch import nn


class Backbone(nn.Module):
    """A feature extractor: float images in [0, 1], ``(B, 3, S, S)`` -> pooled features ``(B, out_dim)``.

    Each backbone normalises its input itself (its own mean and std), so callers only scale pixels to
    [0, 1]. Subclasses set ``name``, ``out_dim`` and implement :meth:`forward_features`.
    """

    name: str = ""
    out_dim: int = 0

    def __init__(self, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images -> pooled features ``(B, out_dim)``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.normalize(x))
