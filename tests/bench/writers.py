"""Writers of the tiny benchmark data sets (an image folder and a multi-label image list)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
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


def write_multilabel_list(root: Path, seed: int = 0) -> Path:
    """An image-list data set with 3 multi-hot classes (a colour channel each; images may mix colours):
    40 training, 10 query and 60 database images (the training images plus 20 more)."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)

    def image(i: int) -> str:
        labels = rng.random(3) < 0.45
        if not labels.any():
            labels[rng.integers(0, 3)] = True
        img = rng.normal(40, 10, (SIZE, SIZE, 3))
        img[..., labels] += 160
        name = f"img/{i:03d}.png"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / name)
        return name + " " + " ".join(str(int(v)) for v in labels)

    lines = [image(i) for i in range(70)]
    (root / "train.txt").write_text("\n".join(lines[:40]) + "\n")
    (root / "test.txt").write_text("\n".join(lines[40:50]) + "\n")
    (root / "database.txt").write_text("\n".join(lines[:40] + lines[50:]) + "\n")
    return root
