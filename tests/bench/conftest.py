"""A tiny image-folder data set for the benchmark tests: 3 classes x 30 distinct 32x32 PNGs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

N_PER_CLASS = 30
SIZE = 32


def class_image(c: int, i: int, rng: np.random.Generator) -> np.ndarray:
    """Class 0: red horizontal stripes; 1: green vertical stripes; 2: blue checkerboard; plus noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    period = 4 + (i % 3)
    pattern = [(yy // period) % 2, (xx // period) % 2, ((yy // period) + (xx // period)) % 2][c]
    img = np.zeros((SIZE, SIZE, 3), dtype=np.float64)
    img[..., c] = 80 + 150 * pattern
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_image_folder(root: Path, n_per_class: int = N_PER_CLASS, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for c, name in enumerate(("red", "green", "blue")):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            Image.fromarray(class_image(c, i, rng)).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("bench-data") / "images")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``CSDH_CACHE`` for every benchmark test, so the tiny folder's features are extracted once."""
    return tmp_path_factory.mktemp("bench-cache")
