"""The contract every backbone follows."""
from __future__ import annotations

from typing import List

import torch
from torch import nn


def has_parameters(module: nn.Module) -> bool:
    """Whether ``module`` (or anything inside it) holds a parameter."""
    return next(module.parameters(), None) is not None


class Backbone(nn.Module):
    """A feature extractor: float images in [0, 1], ``(B, 3, S, S)`` -> pooled features ``(B, out_dim)``.

    Each backbone normalises its input itself (its own mean and std), so callers only scale pixels to
    [0, 1]. Subclasses set ``name``, ``out_dim`` and implement :meth:`forward_features`.
    """

    name: str = ""
    out_dim: int = 0
    #: whether the constructor takes ``drop_path`` (a stochastic-depth rate for training)
    supports_drop_path: bool = False

    def __init__(self, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images -> pooled features ``(B, out_dim)``."""
        raise NotImplementedError

    def stages(self) -> List[nn.Module]:
        """The backbone's parameterised parts from input to output, the units of ``--freeze-stages``.

        The default is the direct children that hold parameters, in registration order; subclasses whose
        children are not in forward order, or are too coarse, list their own.
        """
        return [m for m in self.children() if has_parameters(m)]

    def freeze_stages(self, n: int) -> List[nn.Module]:
        """Stop gradients to the first ``n`` stages (their weights stay pretrained); returns those stages."""
        stages = self.stages()
        if not 0 <= n <= len(stages):
            raise ValueError(f"{self.name} has {len(stages)} stages; cannot freeze {n}")
        for stage in stages[:n]:
            for p in stage.parameters():
                p.requires_grad_(False)
        return stages[:n]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.normalize(x))
