import gzip
import hashlib
import io
import time
import urllib.error

import numpy as np
import pytest

from csdh.data import download as download_mod
from csdh.data import fashion_mnist as fm
from csdh.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist, read_idx
from csdh.errors import DataError

from .writers import idx_bytes, write_fashion_mnist


@pytest.fixture
def no_system_copy(tmp_path, monkeypatch):
    """Hide the system-wide copy so that the search order and download paths can be tested."""
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "no-system-copy")


def test_loads_tiny_files_train_then_test(tmp_path):
    truth = write_fashion_mnist(tmp_path / "d", n_train_per_class=3, n_test_per_class=2)
    pool = load_fashion_mnist(tmp_path / "d", cache_dir=tmp_path / "cache", download=False)
    assert pool.name == "fashion-mnist" and len(pool) == 50 and pool.n_train_official == 30
    assert pool.images.shape == (50, 28, 28) and pool.images.dtype == np.uint8
    np.testing.assert_array_equal(pool.images[:30], truth["train-images"])
    np.testing.assert_array_equal(pool.images[30:], truth["t10k-images"])
    assert pool.labels.shape == (50, 10) and pool.labels.dtype == np.uint8
    np.testing.assert_array_equal(pool.labels.sum(axis=1), 1)
    np.testing.assert_array_equal(pool.labels.argmax(axis=1),
                                  np.concatenate([truth["train-labels"], truth["t10k-labels"]]))
    assert pool.class_names == list(CLASS_NAMES) and pool.class_names[0] == "T-shirt/top"
    assert pool.load(31).shape == (28, 28, 3)
    np.testing.assert_array_equal(pool.load(31)[:, :, 2], truth["t10k-images"][1])
    assert pool.fingerprint() == load_fashion_mnist(tmp_path / "d", download=False).fingerprint()


def test_accepts_uncompressed_files(tmp_path):
    truth = write_fashion_mnist(tmp_path, gz=False)
    pool = load_fashion_mnist(tmp_path, download=False)
    np.testing.assert_array_equal(pool.images[:20], truth["train-images"])


def test_read_idx_checks_magic_and_size(tmp_path):
    good = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    (tmp_path / "ok").write_bytes(good)
    assert read_idx(tmp_path / "ok", 2051).shape == (2, 3, 4)
    with pytest.raises(DataError, match="ok: .*magic number 2051, expected 2049"):
        read_idx(tmp_path / "ok", 2049)
    (tmp_path / "short").write_bytes(good[:-1])
    with pytest.raises(DataError, match="short: truncated IDX file"):
        read_idx(tmp_path / "short", 2051)
    (tmp_path / "long").write_bytes(good + b"\0")
    with pytest.raises(DataError, match="long: over-long"):
        read_idx(tmp_path / "long", 2051)
    (tmp_path / "tiny").write_bytes(good[:6])
    with pytest.raises(DataError, match="tiny: truncated IDX header"):
        read_idx(tmp_path / "tiny", 2051)


@pytest.mark.parametrize("damage", ["truncated-gzip", "wrong-magic", "short-data", "not-gzip"])
def test_corrupt_file_is_named(tmp_path, damage):
    write_fashion_mnist(tmp_path)
    name = "t10k-images-idx3-ubyte.gz"
    path = tmp_path / name
    raw = gzip.decompress(path.read_bytes())
    if damage == "truncated-gzip":
        path.write_bytes(path.read_bytes()[:-30])
    elif damage == "wrong-magic":
        path.write_bytes(gzip.compress(b"\0\0\x08\x01" + raw[4:]))
    elif damage == "short-data":
        path.write_bytes(gzip.compress(raw[:-5]))
    else:
        path.write_bytes(raw)
    with pytest.raises(DataError, match=name):
        load_fashion_mnist(tmp_path, download=False)


def test_label_count_mismatch(tmp_path):
    write_fashion_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: 3 labels but .* has 20 images"):
        load_fashion_mnist(tmp_path, download=False)


def test_label_out_of_range(tmp_path):
    write_fashion_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(10, 10, np.uint8))))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: label 10 out of range"):
        load_fashion_mnist(tmp_path, download=False)


def test_incomplete_data_dir(tmp_path):
    write_fashion_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(tmp_path, download=False)


def test_search_order_data_dir_then_system_then_cache(tmp_path, monkeypatch):
    write_fashion_mnist(tmp_path / "system", seed=1)
    write_fashion_mnist(tmp_path / "cache", seed=2)
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "system")
    empty = tmp_path / "empty"
    empty.mkdir()
    a = load_fashion_mnist(empty, cache_dir=tmp_path / "cache", download=False)
    b = load_fashion_mnist(None, cache_dir=tmp_path / "cache", download=False)
    assert a.fingerprint() == b.fingerprint() == load_fashion_mnist(tmp_path / "system").fingerprint()
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "gone")
    c = load_fashion_mnist(None, cache_dir=tmp_path / "cache", download=False)
    assert c.fingerprint() == load_fashion_mnist(tmp_path / "cache").fingerprint() != a.fingerprint()


def test_cache_dir_from_environment(tmp_path, monkeypatch, no_system_copy):
    write_fashion_mnist(tmp_path / "env" / "fashion-mnist")
    monkeypatch.setenv("CSDH_CACHE", str(tmp_path / "env"))
    assert download_mod.cache_dir("fashion-mnist") == tmp_path / "env" / "fashion-mnist"
    assert len(load_fashion_mnist(download=False)) == 30


def test_not_found_without_download(tmp_path, no_system_copy):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist.*--data-dir"):
        load_fashion_mnist(tmp_path / "nothing", cache_dir=tmp_path / "cache", download=False)


def _offline(*args, **kwargs):
    raise urllib.error.URLError("no network")


def test_offline_download_says_how_to_get_the_data(tmp_path, monkeypatch, no_system_copy):
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", _offline)
    with pytest.raises(DataError, match="could not be downloaded.*no network.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())  # no partial files left


def _serve(files):
    """A fake ``urlopen`` serving ``files`` (by URL basename), counting the requests."""
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    return urlopen, calls


def test_download_verifies_md5_then_renames(tmp_path, monkeypatch, no_system_copy):
    src = tmp_path / "src"
    truth = write_fashion_mnist(src)
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    urlopen, calls = _serve(files)
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", urlopen)

    # the real checksums do not match the tiny files: nothing may be kept
    with pytest.raises(DataError, match="MD5"):
        load_fashion_mnist(cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())

    md5s = {n: (hashlib.md5(files[n + ".gz"]).hexdigest(), magic) for n, (_, magic) in fm.FILES.items()}
    monkeypatch.setattr(fm, "FILES", md5s)
    calls.clear()
    pool = load_fashion_mnist(cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(pool.images[:20], truth["train-images"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(files)
    assert len(calls) == 4 and calls[0].startswith(fm.MIRRORS[0])
    calls.clear()
    load_fashion_mnist(cache_dir=tmp_path / "cache")
    assert calls == []  # the cache is used


@pytest.mark.skipif(not fm.SYSTEM_DIR.is_dir(), reason="no system copy of Fashion-MNIST")
def test_real_fashion_mnist():
    start = time.perf_counter()
    pool = load_fashion_mnist(download=False)
    assert time.perf_counter() - start < 2.0
    assert pool.images.shape == (70000, 28, 28) and pool.n_train_official == 60000
    np.testing.assert_array_equal(pool.labels[:60000].sum(axis=0), 6000)
    np.testing.assert_array_equal(pool.labels[60000:].sum(axis=0), 1000)
    assert pool.labels[60000].argmax() == 9  # the first test image is an ankle boot
