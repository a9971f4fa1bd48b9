import numpy as np
import pytest

from csdh.data.image_folder import load_image_folder
from csdh.errors import DataError

from .writers import write_png


def _px(v):
    return np.full((2, 3, 3), v, np.uint8)


def test_classes_sorted_and_images_found(tmp_path):
    write_png(tmp_path / "zebra" / "b.PNG", _px(1))
    write_png(tmp_path / "zebra" / "a.png", _px(2))
    write_png(tmp_path / "cat" / "sub" / "x.png", _px(3))
    write_png(tmp_path / "cat" / "c.png", _px(4))
    (tmp_path / "cat" / "c.JpG").write_bytes((tmp_path / "cat" / "c.png").read_bytes())  # PIL sniffs the format
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    write_png(tmp_path / "cat" / ".hidden" / "h.png", _px(5))
    write_png(tmp_path / "loose.png", _px(6))
    pool = load_image_folder(tmp_path)
    assert pool.class_names == ["cat", "zebra"]
    rel = [p[len(str(tmp_path)) + 1:] for p in pool.paths]
    assert rel == ["cat/c.JpG", "cat/c.png", "cat/sub/x.png", "zebra/a.png", "zebra/b.PNG"]
    np.testing.assert_array_equal(pool.labels.argmax(axis=1), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(pool.labels.sum(axis=1), 1)
    assert pool.load(3)[0, 0, 0] == 2


@pytest.mark.parametrize("ext", ["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff"])
def test_extensions(tmp_path, ext):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / f"i.{ext.upper()}").write_bytes(b"x")
    assert len(load_image_folder(tmp_path)) == 1


def test_empty_root(tmp_path):
    with pytest.raises(DataError, match="no class sub-folders"):
        load_image_folder(tmp_path)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="gone: image folder not found"):
        load_image_folder(tmp_path / "gone")


def test_class_without_images(tmp_path):
    write_png(tmp_path / "a" / "x.png", _px(0))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("")
    with pytest.raises(DataError, match="b: class folder has no images"):
        load_image_folder(tmp_path)
