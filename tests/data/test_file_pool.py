import os

import numpy as np
import pytest

from csdh.data.file_pool import FilePool
from csdh.errors import DataError

from .writers import write_png


def _pool(tmp_path, labels=((1, 0), (0, 1)), write=True):
    paths = [tmp_path / f"{i}.png" for i in range(2)]
    if write:
        for i, p in enumerate(paths):
            write_png(p, np.full((2, 2, 3), i * 50, np.uint8))
    return FilePool("files", [str(p) for p in paths], np.array(labels), ["a", "b"])


def test_load_path_describe(tmp_path):
    pool = _pool(tmp_path)
    assert len(pool) == 2 and pool.n_classes == 2 and not pool.multi_label
    assert pool.load(1)[0, 0, 0] == 50 and pool.load(1).shape == (2, 2, 3)
    assert pool.path(0) == str(tmp_path / "0.png") == pool.describe(0)


def test_load_error_names_the_image(tmp_path):
    pool = _pool(tmp_path)
    os.unlink(pool.path(1))
    with pytest.raises(DataError, match=r"1.png: no such image file"):
        pool.load(1)


def test_fingerprint_tracks_content(tmp_path):
    pool = _pool(tmp_path)
    fp = pool.fingerprint()
    assert fp.startswith("files-2-") and fp == _pool(tmp_path, write=False).fingerprint()
    assert _pool(tmp_path, labels=((1, 1), (0, 1)), write=False).fingerprint() != fp
    write_png(tmp_path / "1.png", np.zeros((3, 3, 3), np.uint8))  # different size
    assert _pool(tmp_path, write=False).fingerprint() != fp


def test_shape_checks(tmp_path):
    with pytest.raises(ValueError):
        FilePool("x", ["a.png"], np.zeros((2, 2), np.uint8), ["a", "b"])
    with pytest.raises(ValueError):
        FilePool("x", ["a.png"], np.zeros((1, 2), np.uint8), ["a"])
