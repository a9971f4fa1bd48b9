"""forward_pool: batches in order, the same result with loader worker processes, clean errors from them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from csdh.data.image_folder import load_image_folder
from csdh.engine.features import forward_pool
from csdh.errors import DataError


def _folder(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    return load_image_folder(tmp_path)


def _means(x):
    return x.mean(dim=(2, 3))


@pytest.mark.parametrize("workers", [0, 2])
def test_forward_pool_matches_a_per_image_loop(tmp_path, workers):
    from csdh.data.transforms import resize_square

    pool = _folder(tmp_path)
    positions = np.array([9, 0, 4, 7, 1, 3, 2])
    out = forward_pool(_means, pool, positions, 16, batch_size=3, workers=workers)
    expected = np.stack([resize_square(pool.load(int(p)), 16).reshape(-1, 3).mean(0) / 255.0 for p in positions])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_unusable_image_is_one_clean_error_naming_the_file(tmp_path, workers):
    pool = _folder(tmp_path)
    bad = tmp_path / "b" / "3.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated after the pool was listed
    with pytest.raises(DataError) as info:
        forward_pool(_means, pool, np.arange(len(pool)), 16, batch_size=4, workers=workers)
    message = str(info.value)
    assert "3.png" in message
    assert "Traceback" not in message and "worker" not in message
