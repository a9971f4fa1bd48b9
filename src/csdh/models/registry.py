"""The backbone registry: ``BACKBONES.create("efficientnet-lite0", pretrained=True)``."""
from __future__ import annotations

from torch import nn

from csdh.registry import Registry

BACKBONES: Registry[nn.Module] = Registry("backbone")
