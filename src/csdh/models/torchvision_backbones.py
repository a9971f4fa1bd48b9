"""The field's usual backbones (AlexNet, VGG-16, ResNet-50) from torchvision, an optional extra.

torchvision downloads ImageNet weights on first use (when online) into its own cache.
"""
from __future__ import annotations

from typing import List

import torch
from torch import nn

from csdh.errors import UserError
from csdh.models.backbone import Backbone, has_parameters
from csdh.models.registry import BACKBONES

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _torchvision():
    try:
        import torchvision  # noqa: F401
        from torchvision import models
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        raise UserError(
            "this backbone needs torchvision: `pip install 'csdh[torchvision]'` (a torchvision matching "
            f"your torch); import failed with: {exc}"
        ) from None
    return models


class _TorchvisionBackbone(Backbone):
    def __init__(self) -> None:
        super().__init__(mean=_IMAGENET_MEAN, std=_IMAGENET_STD)

    def stages(self) -> List[nn.Module]:
        """AlexNet and VGG-16: each convolution of ``features``, then fc6 and fc7."""
        return [m for m in list(self.features) + list(self.fc) if has_parameters(m)]


@BACKBONES.register("alexnet")
class AlexNet(_TorchvisionBackbone):
    """AlexNet up to fc7 (4096-d), as in DPSH/HashNet/CSDH-style pipelines."""

    name = "alexnet"
    out_dim = 4096

    def __init__(self, pretrained: bool = True, input_size: int = 224) -> None:
        super().__init__()
        models = _torchvision()
        net = models.alexnet(weights=models.AlexNet_Weights.IMAGENET1K_V1 if pretrained else None)
        self.features = net.features
        self.avgpool = net.avgpool
        self.fc = nn.Sequential(*list(net.classifier.children())[:6])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


@BACKBONES.register("vgg16")
class VGG16(_TorchvisionBackbone):
    """VGG-16 up to fc7 (4096-d)."""

    name = "vgg16"
    out_dim = 4096

    def __init__(self, pretrained: bool = True, input_size: int = 224) -> None:
        super().__init__()
        models = _torchvision()
        net = models.vgg16(weights=models.VGG16_Weights.IMAGENET1K_V1 if pretrained else None)
        self.features = net.features
        self.avgpool = net.avgpool
        self.fc = nn.Sequential(*list(net.classifier.children())[:6])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


@BACKBONES.register("resnet50")
class ResNet50(_TorchvisionBackbone):
    """ResNet-50, global-average-pooled 2048-d features."""

    name = "resnet50"
    out_dim = 2048

    def __init__(self, pretrained: bool = True, input_size: int = 224) -> None:
        super().__init__()
        models = _torchvision()
        net = models.resnet50(weights=models.ResNet50_Weights.IMAGENET1K_V2 if pretrained else None)
        net.fc = nn.Identity()
        self.net = net

    def stages(self) -> List[nn.Module]:
        """The stem (convolution and batch norm), then the four residual layers."""
        n = self.net
        return [nn.ModuleList([n.conv1, n.bn1]), n.layer1, n.layer2, n.layer3, n.layer4]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
