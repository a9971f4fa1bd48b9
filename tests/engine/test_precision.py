"""Encoding in bfloat16: the backbone under autocast, the head in float32, cache entries of their own."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from csdh.data.image_folder import load_image_folder
from csdh.engine.features import FeatureCache, forward_pool
from csdh.engine.precision import PRECISIONS, check_precision, encoding_autocast
from csdh.errors import UserError
from csdh.models import HashHead


def _folder(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    return load_image_folder(tmp_path)


class _ConvPool(torch.nn.Module):
    out_dim = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


def test_check_precision_accepts_the_known_values_and_names_the_bad_ones():
    assert PRECISIONS == ("fp32", "bf16")
    assert check_precision("fp32", "cpu") == "fp32"
    assert check_precision("bf16", "cpu") == "bf16"
    with pytest.raises(UserError, match="fp16"):
        check_precision("fp16", "cpu")
    with pytest.raises(UserError, match="meta"):
        check_precision("bf16", "meta")


def test_bf16_autocast_lowers_the_backbone_arithmetic_and_fp32_does_not():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with encoding_autocast("fp32", "cpu"):
        assert lin(x).dtype == torch.float32
    with encoding_autocast("bf16", "cpu"):
        assert lin(x).dtype == torch.bfloat16


def test_the_hash_head_stays_float32_under_autocast():
    torch.manual_seed(0)
    head = HashHead(16, 8, hidden=32, dropout=0.0).eval()
    feats = torch.randn(5, 16)
    with encoding_autocast("bf16", "cpu"):
        inside = head(feats)
        inside_bf16_input = head(feats.bfloat16())
    assert inside.dtype == torch.float32 and inside_bf16_input.dtype == torch.float32
    assert torch.equal(inside, head(feats))  # the same float32 arithmetic as outside autocast
    assert torch.equal(inside_bf16_input, head(feats.bfloat16().float()))


def test_forward_pool_in_bf16_is_float32_output_close_to_fp32_but_not_the_same(tmp_path):
    pool = _folder(tmp_path)
    net = _ConvPool().eval()
    positions = np.arange(len(pool))
    full = forward_pool(net, pool, positions, 16, batch_size=3)
    low = forward_pool(net, pool, positions, 16, batch_size=3, precision="bf16")
    assert low.dtype == np.float32 and low.shape == full.shape
    np.testing.assert_allclose(low, full, rtol=0.02, atol=0.02)
    assert not np.array_equal(low, full)  # bfloat16 arithmetic really ran


def test_bf16_features_are_a_cache_entry_of_their_own_and_fp32_keys_are_unchanged(tmp_path):
    pool = _folder(tmp_path / "images")
    cache = FeatureCache(tmp_path / "cache")
    fp32_key = cache.key("toy", 16, pool)
    digest = hashlib.sha1(f"toy|16|{pool.fingerprint()}|{len(pool)}".encode()).hexdigest()[:16]
    assert fp32_key == f"toy-16-{digest}"  # entries written before --precision existed still match
    assert cache.key("toy", 16, pool, "bf16") != fp32_key
    net = _ConvPool().eval()
    positions = np.arange(len(pool))
    full = cache.get(net, "toy", 16, pool, positions)
    low = cache.get(net, "toy", 16, pool, positions, precision="bf16")
    assert not np.array_equal(low, full)
    np.testing.assert_array_equal(cache.get(net, "toy", 16, pool, positions), full)  # fp32 entry untouched
    assert len(list((tmp_path / "cache").glob("*.f32"))) == 2
