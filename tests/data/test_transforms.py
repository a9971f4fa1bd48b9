"""Image preprocessing and training augmentation."""
import numpy as np
import pytest
import torch

from csdh.data.pool import ArrayPool, one_hot
from csdh.data.pool_dataset import PoolDataset
from csdh.data.transforms import (augment_batch, cutmix, mixup, random_erase, resize_square, rotate_scale,
                                  square_chw, to_float, translate)
from naive_translate import translate_naive


def test_resize_square_keeps_the_centre_of_a_wide_image():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # the centre square is white, the sides black
    out = resize_square(img, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out[:, 2:30].min() > 200


@pytest.mark.parametrize("shape, size", [((28, 28), 160), ((28, 28), 96), ((30, 50), 37), ((64, 48), 32)])
def test_a_grey_image_resizes_like_its_three_channel_copy(shape, size):
    grey = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    expected = resize_square(rgb, size)
    assert expected.shape == (size, size, 3)
    np.testing.assert_array_equal(resize_square(grey, size), expected)
    for img in (grey, rgb):
        chw = square_chw(img, size)
        assert chw.flags["C_CONTIGUOUS"] and chw.dtype == np.uint8
        np.testing.assert_array_equal(chw, expected.transpose(2, 0, 1))


def test_pool_items_of_a_grey_pool_equal_the_resized_rgb_images():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    pool = ArrayPool("grey", images, one_hot(np.arange(5) % 2, 2), ["a", "b"])
    assert pool.load_stored(2).shape == (28, 28) and pool.load(2).shape == (28, 28, 3)
    ds = PoolDataset(pool, np.arange(5), 64)
    for k in range(5):
        image, labels, pos = ds[k]
        assert image.shape == (3, 64, 64) and pos == k
        np.testing.assert_array_equal(image.numpy(), resize_square(pool.load(k), 64).transpose(2, 0, 1))


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


def rotate_scale_naive(img: np.ndarray, degrees: float, factor: float) -> np.ndarray:
    """Per-pixel reference of rotate_scale for points that stay inside the image: the output pixel centre at
    (x, y) (x right, y down, measured from the image centre) shows the input at R(-angle) (x, y) / factor as the
    eye sees a counter-clockwise turn with y down, read bilinearly from the pixel centres."""
    c, h, w = img.shape
    a = np.deg2rad(degrees)
    out = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            x, y = j + 0.5 - w / 2, i + 0.5 - h / 2
            xs = (np.cos(a) * x - np.sin(a) * y) / factor
            ys = (np.sin(a) * x + np.cos(a) * y) / factor
            u, v = xs + w / 2 - 0.5, ys + h / 2 - 0.5  # in pixel-index units
            j0, i0 = int(np.floor(u)), int(np.floor(v))
            fu, fv = u - j0, v - i0
            assert 0 <= j0 < w - 1 and 0 <= i0 < h - 1, "the reference covers interior points only"
            out[:, i, j] = ((1 - fv) * ((1 - fu) * img[:, i0, j0] + fu * img[:, i0, j0 + 1])
                            + fv * ((1 - fu) * img[:, i0 + 1, j0] + fu * img[:, i0 + 1, j0 + 1]))
    return out


def test_rotate_scale_by_quarter_turns_equals_rot90_and_identity_keeps_the_batch():
    x = torch.rand(4, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    y = rotate_scale(x, torch.tensor([0.0, 90.0, 180.0, -90.0]), torch.ones(4))
    assert torch.allclose(y[0], x[0], atol=1e-6)
    for i, k in ((1, 1), (2, 2), (3, -1)):
        assert torch.allclose(y[i], torch.rot90(x[i], k, dims=(1, 2)), atol=1e-5)
    corner = torch.zeros(1, 1, 8, 8)
    corner[0, 0, 0, 7] = 1.0  # top right; a counter-clockwise quarter turn takes it to the top left
    assert rotate_scale(corner, torch.tensor([90.0]), torch.ones(1))[0, 0].nonzero().tolist() == [[0, 0]]


@pytest.mark.parametrize("degrees, factor", [(0.0, 1.6), (17.0, 1.5), (-33.0, 2.0), (8.0, 1.45)])
def test_rotate_scale_matches_a_per_pixel_bilinear_reference(degrees, factor):
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = rotate_scale(x, torch.tensor([degrees, degrees]), torch.tensor([factor, factor]))
    for i in range(2):
        assert np.allclose(y[i].numpy(), rotate_scale_naive(x[i].numpy(), degrees, factor), atol=1e-6)


def test_augment_batch_rotation_and_scaling_are_seeded_and_off_by_default():
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    plain = augment_batch(x, generator=torch.Generator().manual_seed(5))
    off = augment_batch(x, generator=torch.Generator().manual_seed(5), rotate=0.0, scale=0.0)
    a = augment_batch(x, generator=torch.Generator().manual_seed(5), rotate=10.0, scale=0.1)
    b = augment_batch(x, generator=torch.Generator().manual_seed(5), rotate=10.0, scale=0.1)
    assert torch.equal(plain, off) and torch.equal(a, b) and not torch.allclose(a, plain, atol=1e-3)
    assert a.shape == x.shape and a.is_contiguous(memory_format=torch.channels_last)
    # the flips and translations are drawn first, so they are those of the plain batch, then turned
    g = torch.Generator().manual_seed(5)
    flipped_shifted = augment_batch(x, generator=g)
    angles = (2 * torch.rand(6, generator=g) - 1) * 10.0
    factors = 1 + (2 * torch.rand(6, generator=g) - 1) * 0.1
    assert angles.abs().max() <= 10.0 and (factors - 1).abs().max() <= 0.1
    assert torch.allclose(a, rotate_scale(flipped_shifted, angles, factors), atol=1e-6)


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


def test_mixup_mixes_each_item_with_one_partner_and_its_label_alike():
    x = torch.rand(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.nn.functional.one_hot(torch.arange(8) % 3, 3).float()
    mx, my = mixup(x, y, 0.4, np.random.default_rng(7))
    assert mx.shape == x.shape and my.shape == y.shape
    assert mx.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(my.sum(1), torch.ones(8))  # a mixed one-hot label is a class distribution
    n_mixed = 0
    for i in range(8):  # x_i' = lam x_i + (1 - lam) x_p for some partner p, lam >= 1/2, label alike
        if torch.allclose(mx[i], x[i], atol=1e-5):  # lam ~ 1, or paired with itself
            assert torch.allclose(my[i], y[i], atol=1e-4)
            continue
        fits = []
        for p in range(8):
            diff = x[i] - x[p]
            if p == i or diff.abs().max() < 1e-6:
                continue
            lam = float(((mx[i] - x[p]) * diff).sum() / (diff * diff).sum())
            if torch.allclose(mx[i], lam * x[i] + (1 - lam) * x[p], atol=1e-5):
                fits.append((p, lam))
        (p, lam), = fits
        assert 0.5 <= lam <= 1.0
        assert torch.allclose(my[i], lam * y[i] + (1 - lam) * y[p], atol=1e-5)
        n_mixed += 1
    assert n_mixed >= 4


def test_mixup_is_reproducible_and_mixes_feature_vectors():
    x = torch.rand(16, 5, generator=torch.Generator().manual_seed(1))
    y = torch.nn.functional.one_hot(torch.arange(16) % 4, 4).float()
    a = mixup(x, y, 0.4, np.random.default_rng(3))
    b = mixup(x, y, 0.4, np.random.default_rng(3))
    c = mixup(x, y, 0.4, np.random.default_rng(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    own = (a[1] * y).sum(1)  # the weight of each item's own class
    assert (own >= 0.5 - 1e-6).all() and (own < 1).any()


def test_cutmix_pastes_one_rectangle_of_one_partner_and_mixes_labels_by_its_area():
    x = torch.rand(12, 3, 10, 14, generator=torch.Generator().manual_seed(5))  # all pixels distinct
    y = torch.nn.functional.one_hot(torch.arange(12) % 4, 4).float()
    mx, my = cutmix(x, y, 1.0, np.random.default_rng(11))
    assert mx.shape == x.shape and mx.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(my.sum(1), torch.ones(12))
    n_cut = 0
    for i in range(12):
        changed = (mx[i] != x[i]).any(0)  # (H, W)
        if not changed.any():  # an empty rectangle, or paired with itself
            assert torch.equal(my[i], y[i]) or torch.equal(mx[i], x[i])
            continue
        rows, cols = changed.any(1).nonzero().flatten(), changed.any(0).nonzero().flatten()
        box = (slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1))
        assert changed[box].all() and int(changed.sum()) == changed[box].numel()  # one filled rectangle
        partners = [p for p in range(12) if torch.equal(mx[i][:, box[0], box[1]], x[p][:, box[0], box[1]])]
        assert len(partners) == 1 and partners[0] != i
        area = changed[box].numel() / changed.numel()
        assert area <= 0.5  # every image stays mostly itself
        assert torch.allclose(my[i], (1 - area) * y[i] + area * y[partners[0]], atol=1e-6)
        n_cut += 1
    assert n_cut >= 6


def test_cutmix_is_reproducible_and_refuses_feature_vectors():
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    y = torch.nn.functional.one_hot(torch.arange(8) % 2, 2).float()
    a = cutmix(x, y, 1.0, np.random.default_rng(3))
    b = cutmix(x, y, 1.0, np.random.default_rng(3))
    c = cutmix(x, y, 1.0, np.random.default_rng(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    with pytest.raises(ValueError, match="cutmix mixes images"):
        cutmix(torch.rand(8, 5), y, 1.0, np.random.default_rng(0))


@pytest.mark.parametrize("dx,dy", [(3, 0), (-3, 0), (0, 5), (2, -4), (0, 0)])
def test_translate_moves_the_image_and_reflects_the_uncovered_border(dx, dy):
    x = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    got = translate(x, dx, dy)
    want = torch.from_numpy(translate_naive(x.numpy(), dx, dy))
    assert got.shape == x.shape and torch.equal(got, want)
