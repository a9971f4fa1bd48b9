import hashlib
import io
import pickle
import urllib.error

import numpy as np
import pytest

from csdh.data import cifar10 as cf
from csdh.data import download as download_mod
from csdh.data.cifar10 import load_cifar10
from csdh.errors import DataError

from .writers import CIFAR_NAMES, cifar_members, cifar_pickle, write_cifar_archive


@pytest.mark.parametrize("py2_module_names", [True, False])
def test_archive_round_trips_pixel_layout(tmp_path, py2_module_names):
    members, images, labels = cifar_members(per_batch=3, n_test=4, py2_module_names=py2_module_names)
    write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", members)
    pool = load_cifar10(tmp_path, cache_dir=tmp_path / "cache", download=False)
    assert pool.name == "cifar10" and len(pool) == 19 and pool.n_train_official == 15
    assert pool.images.shape == (19, 32, 32, 3) and pool.images.dtype == np.uint8
    np.testing.assert_array_equal(pool.images, images)
    np.testing.assert_array_equal(pool.labels.argmax(axis=1), labels)
    np.testing.assert_array_equal(pool.labels.sum(axis=1), 1)
    assert pool.class_names == [n.decode() for n in CIFAR_NAMES]
    # the stored row is the R plane, then G, then B, each row-major over 32 x 32
    row = pickle.loads(members["data_batch_2"], encoding="bytes")[b"data"][0]
    img = pool.load(3)
    assert img[0, 0, 0] == row[0] and img[0, 1, 0] == row[1] and img[1, 0, 0] == row[32]
    assert img[0, 0, 1] == row[1024] and img[0, 0, 2] == row[2048] and img[31, 31, 2] == row[3071]


def test_extracted_folder(tmp_path):
    members, images, _ = cifar_members()
    folder = tmp_path / "b" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, data in members.items():
        (folder / name).write_bytes(data)
    np.testing.assert_array_equal(load_cifar10(tmp_path / "b", download=False).images, images)
    # the batch folder itself is accepted too
    pool = load_cifar10(tmp_path / "b" / "cifar-10-batches-py", download=False)
    np.testing.assert_array_equal(pool.images, images)


def test_missing_member(tmp_path):
    members, _, _ = cifar_members()
    path = write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", members, skip=["data_batch_4"])
    with pytest.raises(DataError, match="cifar-10-python.tar.gz: .*missing cifar-10-batches-py/data_batch_4"):
        load_cifar10(tmp_path, download=False)
    assert path.exists()


def test_truncated_archive(tmp_path):
    members, _, _ = cifar_members()
    path = write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", members)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match="cifar-10-python.tar.gz: corrupt or truncated archive"):
        load_cifar10(tmp_path, download=False)


def test_missing_batch_file_in_folder(tmp_path):
    members, _, _ = cifar_members()
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, data in members.items():
        if name != "test_batch":
            (folder / name).write_bytes(data)
    with pytest.raises(DataError, match="test_batch: missing CIFAR-10 batch file"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.parametrize("bad, message", [
    (b"\x80\x02garbage", "data_batch_3: corrupt pickle"),
    (b"cos\nsystem\n(S'echo pwned'\ntR.", "data_batch_3: corrupt pickle: refusing to load global os.system"),
    (cifar_pickle({b"labels": [1]}), "data_batch_3: expected a pickled dict"),
    (cifar_pickle({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}), "data_batch_3: b'data' must be"),
    (cifar_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}), "data_batch_3: 2 images but"),
    (cifar_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}), "data_batch_3: labels must lie"),
])
def test_bad_batch_is_named(tmp_path, bad, message):
    members, _, _ = cifar_members()
    members["data_batch_3"] = bad
    write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", members)
    with pytest.raises(DataError, match=f"cifar-10-python.tar.gz!cifar-10-batches-py/{message}"):
        load_cifar10(tmp_path, download=False)


def test_bad_meta(tmp_path):
    members, _, _ = cifar_members()
    members["batches.meta"] = cifar_pickle({b"label_names": CIFAR_NAMES[:9]})
    write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", members)
    with pytest.raises(DataError, match="batches.meta: expected a dict with 10"):
        load_cifar10(tmp_path, download=False)


def test_not_found_without_download(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 not found .*cifar-10-python.tar.gz"):
        load_cifar10(tmp_path, cache_dir=tmp_path / "cache", download=False)


def test_offline(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(download_mod.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="could not be downloaded.*no network.*--data-dir"):
        load_cifar10(cache_dir=tmp_path / "cache")


def test_download_checks_md5(tmp_path, monkeypatch):
    members, images, _ = cifar_members()
    archive = write_cifar_archive(tmp_path / "src" / "cifar-10-python.tar.gz", members).read_bytes()
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        return io.BytesIO(archive)

    monkeypatch.setattr(download_mod.urllib.request, "urlopen", urlopen)
    with pytest.raises(DataError, match="MD5"):
        load_cifar10(cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())
    monkeypatch.setattr(cf, "ARCHIVE_MD5", hashlib.md5(archive).hexdigest())
    pool = load_cifar10(cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(pool.images, images)
    assert calls == [cf.URL] * 2 and (tmp_path / "cache" / "cifar-10-python.tar.gz").is_file()
    load_cifar10(cache_dir=tmp_path / "cache")
    assert len(calls) == 2
