import numpy as np
import pytest

import csdh.data as data
from csdh.data import DATASETS, FilePool, load_dataset, make_split
from csdh.data import fashion_mnist as fm
from csdh.errors import DataError, UserError

from .writers import cifar_members, write_cifar_archive, write_fashion_mnist, write_list, write_png


def test_registered_names():
    assert DATASETS.names() == ["cifar10", "fashion-mnist", "image-folder", "image-list"]
    for name in ("ImagePool", "ArrayPool", "FilePool", "read_image", "decode_image_bytes", "Split", "make_split",
                 "load_dataset", "DATASETS", "PROTOCOLS"):
        assert hasattr(data, name)


def test_unknown_dataset():
    with pytest.raises(UserError, match="unknown data set 'mnist'; known: cifar10, fashion-mnist"):
        load_dataset("mnist")


def test_fashion_mnist(tmp_path):
    write_fashion_mnist(tmp_path)
    pool, given, protocol = load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert len(pool) == 30 and given is None and protocol == "fashion-mnist"


def test_cifar10(tmp_path):
    members, images, _ = cifar_members()
    write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", members)
    pool, given, protocol = load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert given is None and protocol == "cifar10"
    np.testing.assert_array_equal(pool.images, images)


def test_image_list(tmp_path):
    write_list(tmp_path / "train.txt", ["im/a.png 1 0", "im/b.png 0 1"])
    write_list(tmp_path / "test.txt", ["im/a.png 1 0"])
    write_list(tmp_path / "database.txt", ["im/b.png 0 1", "im/a.png 1 1"])
    for n in ("a", "b"):
        write_png(tmp_path / "im" / f"{n}.png", np.zeros((2, 2, 3), np.uint8))
    pool, given, protocol = load_dataset("image-list", data_dir=tmp_path)
    assert isinstance(pool, FilePool) and protocol == "image-list"
    split = make_split(protocol, pool, given=given, n_val=1)
    np.testing.assert_array_equal(split.query, [2])
    with pytest.raises(UserError, match="needs --data-dir"):
        load_dataset("image-list")


def test_image_folder(tmp_path):
    for c in ("a", "b"):
        for i in range(3):
            write_png(tmp_path / c / f"{i}.png", np.zeros((2, 2, 3), np.uint8))
    pool, given, protocol = load_dataset("image-folder", data_dir=tmp_path)
    assert len(pool) == 6 and given is None and protocol == "image-folder"
    assert len(make_split(protocol, pool).query) == 2
    with pytest.raises(UserError, match="needs --data-dir"):
        load_dataset("image-folder")


def test_missing_data_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("CSDH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    with pytest.raises(DataError, match="CIFAR-10 not found"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)
