"""Backbones (registry), the hash head and the hashing network."""
from csdh.models.backbone import Backbone
from csdh.models.registry import BACKBONES
from csdh.models import efficientnet_lite as _efficientnet_lite  # noqa: F401  (registers)
from csdh.models import torchvision_backbones as _torchvision_backbones  # noqa: F401  (registers)
from csdh.models.hash_head import HashHead
from csdh.models.hashing_net import HashingNet

__all__ = ["Backbone", "BACKBONES", "HashHead", "HashingNet"]
