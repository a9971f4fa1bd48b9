import io
import time

import numpy as np
import pytest
from PIL import Image

from csdh.data.images import decode_image_bytes, read_image
from csdh.errors import DataError

from .writers import png_header_only, write_png


def _encoded(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def test_rgb_png_round_trips(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    out = read_image(write_png(tmp_path / "a.png", arr))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("mode", ["L", "1", "P", "RGBA", "LA", "CMYK"])
def test_modes_convert_to_rgb(tmp_path, mode):
    rgb = np.random.default_rng(1).integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    im = Image.fromarray(rgb).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    path = tmp_path / f"x.{fmt.lower()}"
    im.save(path, format=fmt)
    out = read_image(path)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))


def test_grey_is_replicated(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = read_image(write_png(tmp_path / "g.png", grey))
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_sixteen_bit_grey_is_scaled(tmp_path):
    grey = np.array([[0, 256, 65535]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(grey).save(path)
    out = read_image(path)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 255])


def test_decode_bytes_matches_file(tmp_path):
    arr = np.random.default_rng(2).integers(0, 256, size=(3, 3, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(arr), "PNG")
    np.testing.assert_array_equal(decode_image_bytes(data), arr)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.png.*no such"):
        read_image(tmp_path / "nope.png")


def test_directory(tmp_path):
    with pytest.raises(DataError, match="directory"):
        read_image(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty.jpg.*empty"):
        read_image(path)
    with pytest.raises(DataError, match="^my-upload: .*empty"):
        decode_image_bytes(b"", name="my-upload")


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text")
    with pytest.raises(DataError, match="notes.png.*not an image"):
        read_image(path)
    with pytest.raises(DataError, match="^upload: .*not an image"):
        decode_image_bytes(b"hello")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated(tmp_path, fmt):
    arr = np.random.default_rng(3).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(arr), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=f"cut.{fmt.lower()}.*(truncated|corrupt)"):
        read_image(path)
    with pytest.raises(DataError, match="^q.png: "):
        decode_image_bytes(data[: len(data) // 2], name="q.png")


def test_max_pixels_checked_from_header(tmp_path):
    path = write_png(tmp_path / "one.png", np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(DataError, match="one.png.*decompression bomb"):
        read_image(path, max_pixels=0)
    assert read_image(path, max_pixels=1).shape == (1, 1, 3)


def test_large_real_image_is_refused_before_decoding(tmp_path):
    # 10000 x 6000 = 60 M pixels > the default 50 M; mode "1" keeps it cheap to make (~7 kB PNG).
    path = tmp_path / "big.png"
    Image.new("1", (10000, 6000)).save(path)
    start = time.perf_counter()
    with pytest.raises(DataError, match="big.png.*10000x6000.*decompression bomb"):
        read_image(path)
    assert time.perf_counter() - start < 0.5  # the header was read, the 180 MB RGB image never made


def test_header_claiming_huge_size(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(100_000, 100_000))
    with pytest.raises(DataError, match="bomb.png.*decompression bomb"):
        read_image(path)
    with pytest.raises(DataError, match="^bomb: .*decompression bomb"):
        decode_image_bytes(path.read_bytes(), max_pixels=10**12, name="bomb")


def test_pil_bomb_warning_is_an_error(tmp_path):
    # 10000 x 9000 = 90 M pixels: above PIL's warning threshold (~89.5 M), below its error threshold.
    assert Image.MAX_IMAGE_PIXELS < 90_000_000 < 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(DataError, match="decompression bomb"):
        decode_image_bytes(png_header_only(10_000, 9_000), max_pixels=10**12)


def test_header_only_png_within_limits_is_truncated():
    with pytest.raises(DataError, match="^h: .*(truncated|corrupt)"):
        decode_image_bytes(png_header_only(4, 4), name="h")
