"""WeightEMA against the averaging formula written out by hand."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from csdh.engine.weight_ema import WeightEMA


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_update_follows_the_formula_with_warmed_up_decay():
    model = _model()
    ema = WeightEMA(model, decay=0.9)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    for n in range(1, 30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model.train()(torch.randn(8, 4))  # moves the batch-norm running statistics
        ema.update(model)
        d = min(0.9, (1 + n) / (10 + n))
        for k, v in model.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    got = ema.shadow.state_dict()
    for k, v in expected.items():
        assert torch.allclose(got[k], v, atol=1e-5), k
    assert got["1.num_batches_tracked"] == model.state_dict()["1.num_batches_tracked"] == 29
    assert not any(p.requires_grad for p in ema.shadow.parameters())


def test_reset_and_state_round_trip():
    model = _model()
    ema = WeightEMA(model, decay=0.5)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    ema.update(model)
    assert not torch.equal(ema.shadow[0].weight, model[0].weight)
    other = WeightEMA(_model(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 1 and torch.equal(other.shadow[0].weight, ema.shadow[0].weight)
    ema.reset(model)
    assert ema.updates == 0 and torch.equal(ema.shadow[0].weight, model[0].weight)


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_bad_decay(decay):
    with pytest.raises(ValueError, match="EMA decay"):
        WeightEMA(_model(), decay)
