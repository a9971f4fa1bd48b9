import numpy as np
import pytest

from csdh.data.image_list import load_image_list
from csdh.errors import DataError

from .writers import write_list, write_png


def _img(seed):
    return np.random.default_rng(seed).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)


@pytest.fixture
def lists(tmp_path):
    """train 3, test 2, database 4 entries over 3 classes; images under tmp/img, one path with a space."""
    rows = {
        "train.txt": ["img/a.png 1 0 0", "img/b.png 0 1 1", "", "img/my photo.png 0 0 1"],
        "test.txt": ["img/q1.png 1 1 0", "img/q2.png   0 0 1  "],
        "database.txt": ["img/a.png 1 0 0", "img/d1.png 0 1 0", "img/d2.png 1 0 1", "img/d3.png 0 0 0"],
    }
    for name, r in rows.items():
        write_list(tmp_path / name, r)
    names = {r.rsplit(maxsplit=3)[0] for rs in rows.values() for r in rs if r.strip()}
    for k, n in enumerate(sorted(names)):
        write_png(tmp_path / n, _img(k))
    return tmp_path


def test_loads_lists(lists):
    pool, splits = load_image_list(lists)
    assert len(pool) == 9 and pool.n_classes == 3 and pool.class_names == ["0", "1", "2"]
    np.testing.assert_array_equal(splits["train"], [0, 1, 2])
    np.testing.assert_array_equal(splits["query"], [3, 4])
    np.testing.assert_array_equal(splits["database"], [5, 6, 7, 8])
    assert all(v.dtype == np.int64 for v in splits.values())
    np.testing.assert_array_equal(pool.labels[[0, 1, 2, 4, 8]],
                                  [[1, 0, 0], [0, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]])
    assert pool.labels.dtype == np.uint8
    assert pool.path(2) == str(lists / "img" / "my photo.png")
    assert pool.describe(2) == pool.path(2)
    np.testing.assert_array_equal(pool.load(0), pool.load(5))  # the same file listed twice
    assert pool.load(2).shape == (4, 5, 3)


def test_image_root_and_class_names(lists, tmp_path_factory):
    other = tmp_path_factory.mktemp("lists")
    for name in ("train.txt", "test.txt", "database.txt"):
        (other / name).write_bytes((lists / name).read_bytes())
    (other / "classes.txt").write_text("sky\nsea\n\nsand\n")
    pool, _ = load_image_list(other, image_root=lists, check_files=True)
    assert pool.class_names == ["sky", "sea", "sand"]
    assert pool.path(0) == str(lists / "img" / "a.png")
    (other / "classes.txt").write_text("sky\nsea\n")
    with pytest.raises(DataError, match="classes.txt: 2 class names, but the label vectors have 3"):
        load_image_list(other, image_root=lists)


def test_missing_list_file(lists):
    (lists / "database.txt").unlink()
    with pytest.raises(DataError, match="database.txt: list file not found"):
        load_image_list(lists)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="nowhere: image-list folder not found"):
        load_image_list(tmp_path / "nowhere")


def test_empty_list(lists):
    write_list(lists / "test.txt", ["", "  "])
    with pytest.raises(DataError, match="test.txt: the list has no entries"):
        load_image_list(lists)


@pytest.mark.parametrize("line, message", [
    ("img/x.png", "no 0/1 label vector"),
    ("img/x.png 0 2 1", "label '2' is not 0 or 1"),
    ("img/x.png 0 1 -1", "label '-1' is not 0 or 1"),
    ("img/x.png 0.5 1 0", "label '0.5' is not 0 or 1"),
    ("0 1 0", "no image path before the labels"),
    ("img/x.png 0 1", r"label vector has 2 entries, but .*train.txt:1 has 3"),
    ("img/x.png 0 1 0 1", r"label vector has 4 entries, but .*train.txt:1 has 3"),
])
def test_malformed_line_names_file_and_line(lists, line, message):
    write_list(lists / "database.txt", ["img/d1.png 0 1 0", "", line])
    with pytest.raises(DataError, match=f"database.txt:3: {message}"):
        load_image_list(lists)


@pytest.mark.parametrize("line, message", [
    ("img/a.png 1 2 0", "label '2' is not 0 or 1"),
    ("img/a.png", "no 0/1 label vector"),
    ("1 0 1", "no image path"),
])
def test_malformed_first_line(lists, line, message):
    write_list(lists / "train.txt", [line, "img/b.png 0 1 1"])
    with pytest.raises(DataError, match=f"train.txt:1: {message}"):
        load_image_list(lists)


def test_not_utf8(lists):
    (lists / "test.txt").write_bytes(b"img/q1.png 1 1 0\nimg/\xff.png 0 0 1\n")
    with pytest.raises(DataError, match="test.txt:2: .*UTF-8"):
        load_image_list(lists)


def test_missing_image_reported_on_load_with_list_line(lists):
    (lists / "img" / "d2.png").unlink()
    pool, _ = load_image_list(lists)
    pool.load(6)  # d1 is fine
    with pytest.raises(DataError, match=r"database.txt:3: listed image cannot be used: .*d2.png: no such image"):
        pool.load(7)
    with pytest.raises(DataError, match=r"database.txt:3: image file .*d2.png not found"):
        load_image_list(lists, check_files=True)


def test_unreadable_image_reported_with_list_line(lists):
    (lists / "img" / "q1.png").write_bytes(b"")
    pool, _ = load_image_list(lists)
    with pytest.raises(DataError, match=r"test.txt:1: listed image cannot be used: .*q1.png: empty"):
        pool.load(3)


def test_crlf_line_endings(lists):
    (lists / "train.txt").write_bytes(b"img/a.png 1 0 0\r\nimg/b.png 0 1 1\r\n")
    pool, splits = load_image_list(lists)
    assert len(splits["train"]) == 2 and pool.path(1).endswith("b.png")
