"""A hashing network: backbone features, then the hash head."""
from __future__ import annotations

import torch
from torch import nn

from csdh.models.backbone import Backbone
from csdh.models.hash_head import HashHead


class HashingNet(nn.Module):
    """Backbone + hash head, split as timm's ``forward_features`` / ``forward_head``.

    Args:
        backbone: a :class:`Backbone` (images in [0, 1] -> pooled features).
        head: a :class:`HashHead` whose ``in_dim`` is ``backbone.out_dim``.
    """

    def __init__(self, backbone: Backbone, head: HashHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 3, S, S)`` in [0, 1] -> features ``(B, d)``."""
        return self.backbone(images)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(B, d)`` -> continuous codes ``(B, K)`` in [-1, 1]."""
        return self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(images))

    @torch.inference_mode()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Continuous codes of images in eval mode (binarise with :func:`csdh.codes.pack`)."""
        was_training = self.training
        self.eval()
        try:
            return self(images)
        finally:
            self.train(was_training)
