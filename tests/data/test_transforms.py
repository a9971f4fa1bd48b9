"""Image preprocessing and training augmentation."""
import numpy as np
import pytest
import torch

from csdh.data.transforms import augment_batch, random_erase, resize_square, to_float


def test_resize_square_keeps_the_centre_of_a_wide_image():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # the centre square is white, the sides black
    out = resize_square(img, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out[:, 2:30].min() > 200


def test_to_float_scales_and_uses_channels_last():
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    y = to_float(x)
    assert y.dtype == torch.float32 and float(y.max()) == 1.0
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_augment_batch_is_reproducible_with_a_seeded_generator():
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    a = augment_batch(x, generator=torch.Generator().manual_seed(5), erase_prob=0.5)
    b = augment_batch(x, generator=torch.Generator().manual_seed(5), erase_prob=0.5)
    c = augment_batch(x, generator=torch.Generator().manual_seed(6), erase_prob=0.5)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flip_only_mirrors_each_image_or_leaves_it():
    x = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = augment_batch(x, generator=torch.Generator().manual_seed(3), max_shift=0.0)
    flipped = [torch.equal(y[i], x[i].flip(2)) for i in range(16)]
    kept = [torch.equal(y[i], x[i]) for i in range(16)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert any(flipped) and any(kept)


def test_random_erase_replaces_one_rectangle_of_the_requested_size():
    x = torch.full((64, 3, 40, 40), 2.0)  # outside [0, 1], so erased pixels are recognisable
    y = random_erase(x, prob=1.0, area=(0.05, 0.2), generator=torch.Generator().manual_seed(0))
    for i in range(64):
        erased = (y[i, 0] != 2.0)
        assert torch.equal(erased, (y[i] != 2.0).all(0))  # the same pixels in every channel
        rows, cols = erased.nonzero(as_tuple=True)
        h = int(rows.max() - rows.min() + 1)
        w = int(cols.max() - cols.min() + 1)
        assert int(erased.sum()) == h * w  # a filled rectangle
        assert 0.04 <= h * w / 1600 <= 0.22  # rounding of the side lengths
        assert float(y[i][:, erased].min()) >= 0.0 and float(y[i][:, erased].max()) <= 1.0


def test_random_erase_probability():
    x = torch.full((400, 1, 16, 16), 2.0)
    none = random_erase(x, prob=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(none, x)
    some = random_erase(x, prob=0.3, generator=torch.Generator().manual_seed(0))
    frac = float((some != 2.0).flatten(1).any(1).float().mean())
    assert frac == pytest.approx(0.3, abs=0.07)
