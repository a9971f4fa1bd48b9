import dataclasses

import numpy as np
import pytest

from csdh.data import fashion_mnist as fm
from csdh.data.fashion_mnist import load_fashion_mnist
from csdh.data.pool import ArrayPool
from csdh.data.protocols import PROTOCOLS, Split, make_split
from csdh.errors import DataError, UserError


def _pool(train_per_class, test_per_class=0, n_classes=10, seed=0, name="synthetic"):
    """Single-label pool: the 'official training' part then the 'official test' part, classes shuffled."""
    rng = np.random.default_rng(seed)
    parts = [rng.permutation(np.repeat(np.arange(n_classes), k)) for k in (train_per_class, test_per_class)]
    y = np.concatenate(parts)
    labels = np.eye(n_classes, dtype=np.uint8)[y]
    pool = ArrayPool(name, np.zeros((len(y), 1, 1), np.uint8), labels, [f"c{c}" for c in range(n_classes)])
    pool.n_train_official = len(parts[0])
    return pool


def _multi_pool(n=30000, n_classes=21, seed=0, n_rare=600):
    """Multi-label pool with overlapping classes; class 0 is rare (exactly ``n_rare``) and always has class 1."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, n_classes)) < 0.08).astype(np.uint8)
    labels[:, 0] = 0
    labels[rng.choice(n, n // 50, replace=False)] = 0  # some unlabelled images
    labels[rng.choice(n, n_rare, replace=False), :2] = 1
    return ArrayPool("multi", np.zeros((n, 1, 1), np.uint8), labels, [str(c) for c in range(n_classes)])


def _per_class(pool, positions):
    return np.bincount(pool.labels[positions].argmax(axis=1), minlength=pool.n_classes)


def _check_common(split, n_pool):
    for name in ("query", "train", "database", "val_query", "val_database"):
        arr = getattr(split, name)
        assert arr.dtype == np.int64 and arr.ndim == 1
        assert np.all(np.diff(arr) > 0), f"{name} must be sorted and unique"
        assert arr.min(initial=0) >= 0 and arr.max(initial=0) < n_pool
    assert np.intersect1d(split.query, split.database).size == 0
    assert np.intersect1d(split.query, split.train).size == 0
    assert np.intersect1d(split.val_query, split.query).size == 0
    assert np.intersect1d(split.val_query, split.val_database).size == 0
    np.testing.assert_array_equal(split.val_database, split.train)


@pytest.fixture(scope="module")
def fashion_like():
    return _pool(train_per_class=560, test_per_class=110)


def test_fashion_mnist_protocol(fashion_like):
    pool = fashion_like
    s = make_split("fashion-mnist", pool, seed=3)
    _check_common(s, len(pool))
    assert s.protocol == "fashion-mnist" and s.seed == 3 and s.topk is None
    assert len(s.query) == 1000 and len(s.train) == 5000 and len(s.database) == len(pool) - 1000
    assert s.query.min() >= pool.n_train_official and s.train.max() < pool.n_train_official
    np.testing.assert_array_equal(_per_class(pool, s.query), 100)
    np.testing.assert_array_equal(_per_class(pool, s.train), 500)
    assert np.isin(s.train, s.database).all()  # the database includes the training images
    assert len(s.val_query) == 500 and not np.isin(s.val_query, s.train).any()
    assert np.isin(s.val_query, s.database).all()
    np.testing.assert_array_equal(_per_class(pool, s.val_query), 50)  # stratified (classes are balanced)


@pytest.fixture(scope="module")
def cifar_like():
    return _pool(train_per_class=560, test_per_class=100, name="cifar10")


def test_cifar10_protocol(cifar_like):
    pool = cifar_like
    s = make_split("cifar10", pool)
    _check_common(s, len(pool))
    assert (len(s.query), len(s.train), len(s.database)) == (1000, 5000, len(pool) - 6000)
    assert np.intersect1d(s.train, s.database).size == 0
    np.testing.assert_array_equal(_per_class(pool, s.query), 100)
    np.testing.assert_array_equal(_per_class(pool, s.train), 500)
    assert s.query.min() < pool.n_train_official <= s.query.max()  # drawn from the whole pool
    assert s.topk is None and len(s.val_query) == 500 and np.isin(s.val_query, s.database).all()


def test_cifar10_1_protocol(cifar_like):
    pool = cifar_like
    s = make_split("cifar10-1", pool, seed=1)
    _check_common(s, len(pool))
    assert (len(s.query), len(s.train), len(s.database)) == (1000, 5000, len(pool) - 1000)
    assert np.isin(s.train, s.database).all()
    np.testing.assert_array_equal(_per_class(pool, s.query), 100)
    np.testing.assert_array_equal(_per_class(pool, s.train), 500)


def test_cifar10_2_protocol_carves_validation_from_train(cifar_like):
    pool = cifar_like
    n_off = pool.n_train_official
    s = make_split("cifar10-2", pool, seed=2, n_val=200)
    _check_common(s, len(pool))
    np.testing.assert_array_equal(s.query, np.arange(n_off, len(pool)))
    np.testing.assert_array_equal(s.database, np.arange(n_off))
    assert len(s.val_query) == 200 and len(s.train) == n_off - 200
    np.testing.assert_array_equal(np.union1d(s.train, s.val_query), np.arange(n_off))
    np.testing.assert_array_equal(_per_class(pool, s.val_query), 20)


def test_nuswide21_protocol():
    pool = _multi_pool()
    s = make_split("nuswide21", pool, seed=5)
    _check_common(s, len(pool))
    assert len(s.query) == 2100 and len(s.train) == 10500 and s.topk == 5000
    np.testing.assert_array_equal(s.database, np.setdiff1d(np.arange(len(pool)), s.query))
    assert (pool.labels[s.query].sum(axis=0) >= 100).all()
    assert (pool.labels[s.train].sum(axis=0) >= 500).all()
    assert pool.labels[s.query].any(axis=1).all() and pool.labels[s.train].any(axis=1).all()
    # the rare class 0 (600 images, all also in class 1) got exactly its 100 + 500
    assert pool.labels[s.query, 0].sum() == 100 and pool.labels[s.train, 0].sum() == 500
    assert len(s.val_query) == 500 and not np.isin(s.val_query, s.train).any()
    assert make_split("nuswide21", pool, seed=5) == s


def test_nuswide21_too_few():
    pool = _multi_pool()
    labels = pool.labels.copy()
    labels[np.flatnonzero(labels[:, 7])[550:], 7] = 0
    small = ArrayPool("multi", pool.images, labels, pool.class_names)
    with pytest.raises(DataError, match=r"needs 600 images \(100 queries \+ 500 training\) of class '7'"):
        make_split("nuswide21", small)


def test_image_list_protocol():
    pool = _multi_pool(n=50, n_rare=5)
    given = {"train": np.arange(0, 10), "query": np.arange(10, 15), "database": np.arange(15, 50)}
    s = make_split("image-list", pool, given=given, n_val=5)
    _check_common(s, len(pool))
    np.testing.assert_array_equal(s.query, given["query"])
    np.testing.assert_array_equal(s.train, given["train"])
    np.testing.assert_array_equal(s.database, given["database"])
    assert s.topk is None and len(s.val_query) == 5
    assert make_split("image-list", pool, given=given, topk=7).topk == 7
    with pytest.raises(UserError, match="image-list"):
        make_split("image-list", pool)


def test_image_folder_protocol():
    pool = _pool(train_per_class=40, n_classes=3)
    s = make_split("image-folder", pool, n_val=10)
    _check_common(s, len(pool))
    np.testing.assert_array_equal(_per_class(pool, s.query), 4)
    np.testing.assert_array_equal(_per_class(pool, s.database), 36)
    np.testing.assert_array_equal(_per_class(pool, s.train), 18)
    assert np.isin(s.train, s.database).all() and np.isin(s.val_query, s.database).all()
    np.testing.assert_array_equal(np.union1d(s.query, s.database), np.arange(len(pool)))
    s2 = make_split("image-folder", pool, query_fraction=0.25, train_fraction=1.0, n_val=0)
    np.testing.assert_array_equal(_per_class(pool, s2.query), 10)
    assert len(s2.val_query) == 0 and len(s2.train) == 90


def test_image_folder_tiny_classes():
    pool = _pool(train_per_class=1, n_classes=2)  # one image per class: no queries possible
    s = make_split("image-folder", pool, n_val=5)
    assert len(s.query) == 0 and len(s.database) == 2
    pool = _pool(train_per_class=3, n_classes=2)
    s = make_split("image-folder", pool, n_val=5)
    np.testing.assert_array_equal(_per_class(pool, s.query), 1)  # at least one query per class


def test_same_seed_same_split_other_seed_other_split(fashion_like):
    a = make_split("fashion-mnist", fashion_like, seed=7)
    b = make_split("fashion-mnist", fashion_like, seed=7)
    c = make_split("fashion-mnist", fashion_like, seed=8)
    assert a == b and a != c
    assert not np.array_equal(a.query, c.query) and not np.array_equal(a.val_query, c.val_query)


def test_too_few_images_of_a_class():
    pool = _pool(train_per_class=520, test_per_class=110)
    labels = pool.labels.copy()
    labels[np.flatnonzero(labels[pool.n_train_official:, 4])[:20] + pool.n_train_official] = np.eye(10)[5]
    short = ArrayPool("short", pool.images, labels, pool.class_names)
    short.n_train_official = pool.n_train_official
    with pytest.raises(DataError, match="100 official test images of class 'c4', but 'short' has 90"):
        make_split("fashion-mnist", short)


def test_missing_class():
    pool = _pool(train_per_class=600)
    labels = pool.labels.copy()
    labels[labels[:, 9] == 1] = np.eye(10, dtype=np.uint8)[0]
    gone = ArrayPool("gone", pool.images, labels, pool.class_names)
    with pytest.raises(DataError, match="class 'c9', but 'gone' has 0"):
        make_split("cifar10", gone)


def test_protocol_needs_official_parts_and_single_labels():
    pool = ArrayPool("plain", np.zeros((10, 1, 1), np.uint8), np.eye(10, dtype=np.uint8), list("abcdefghij"))
    with pytest.raises(DataError, match="official training and test parts"):
        make_split("fashion-mnist", pool)
    with pytest.raises(DataError, match="single-label"):
        make_split("cifar10", _multi_pool(n=100, n_rare=5))


def test_unknown_protocol(fashion_like):
    with pytest.raises(UserError, match="unknown protocol 'nope'; known: cifar10, cifar10-1"):
        make_split("nope", fashion_like)
    assert PROTOCOLS.names() == ["cifar10", "cifar10-1", "cifar10-2", "fashion-mnist", "image-folder",
                                 "image-list", "nuswide21"]


def test_split_json_round_trip(tmp_path, fashion_like):
    s = make_split("fashion-mnist", fashion_like, seed=1)
    assert Split.from_json(s.to_json()) == s
    s.save(tmp_path / "split.json")
    loaded = Split.load(tmp_path / "split.json")
    assert loaded == s and loaded.topk is None and loaded.query.dtype == np.int64
    t = dataclasses.replace(s, topk=100)
    assert Split.from_json(t.to_json()).topk == 100


def test_split_is_frozen(fashion_like):
    s = make_split("cifar10-2", fashion_like, n_val=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 2
    with pytest.raises(ValueError):
        s.query[0] = 1
    s.check(len(fashion_like))
    with pytest.raises(DataError, match="outside the pool of 10 images"):
        s.check(10)


def test_bad_split_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="s.json: not valid JSON"):
        Split.load(path)
    path.write_text('{"protocol": "x", "seed": 0}')
    with pytest.raises(DataError, match="s.json: split is missing topk, query"):
        Split.load(path)
    path.write_text('{"protocol": "x", "seed": 0, "topk": null, "query": [[1]], "train": [], "database": [],'
                    ' "val_query": [], "val_database": []}')
    with pytest.raises(DataError, match="s.json: malformed split"):
        Split.load(path)
    with pytest.raises(DataError, match="missing.json: cannot read"):
        Split.load(tmp_path / "missing.json")


@pytest.mark.skipif(not fm.SYSTEM_DIR.is_dir(), reason="no system copy of Fashion-MNIST")
def test_real_fashion_mnist_protocol():
    pool = load_fashion_mnist(download=False)
    s = make_split("fashion-mnist", pool, seed=0)
    _check_common(s, len(pool))
    assert (len(s.query), len(s.train), len(s.database)) == (1000, 5000, 69000)
    assert s.query.min() >= 60000 and s.train.max() < 60000
    np.testing.assert_array_equal(_per_class(pool, s.query), 100)
    np.testing.assert_array_equal(_per_class(pool, s.train), 500)
    np.testing.assert_array_equal(_per_class(pool, s.val_query), 50)
    assert not np.isin(s.val_query, s.train).any() and np.isin(s.val_query, s.database).all()
    assert make_split("fashion-mnist", pool, seed=0) == s
