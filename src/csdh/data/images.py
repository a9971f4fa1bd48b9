"""Safe image decoding: any PIL-readable file to uint8 RGB ``(H, W, 3)``, or a ``DataError`` naming the file.

Guards, in order:

* empty input is rejected before PIL sees it;
* the size in the header (``Image.open`` is lazy) is checked against ``max_pixels`` before any pixel is
  decoded, and PIL's own ``DecompressionBombWarning`` is turned into an error, so the effective limit is
  ``min(max_pixels, PIL.Image.MAX_IMAGE_PIXELS)`` (about 89 M pixels by default);
* the image is fully loaded, so a truncated file fails here (``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set),
  not later inside a data loader.

Animated images (GIF, WebP, multi-page TIFF) give their first frame. EXIF orientation is not applied, as in
the field's loaders (``PIL.Image.open(path).convert("RGB")``), so database images and uploaded queries are
treated alike.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image

from csdh.errors import DataError

DEFAULT_MAX_PIXELS = 50_000_000

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def read_image(path: Union[str, Path], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB.

    Grey, palette, RGBA (alpha dropped), CMYK and other modes are converted to RGB; 16-bit grey is scaled
    to 8 bits.

    Args:
        path: the image file.
        max_pixels: largest accepted ``width * height``, checked from the header before decoding.

    Returns:
        uint8 ``(H, W, 3)``.

    Raises:
        DataError: missing, empty, truncated, oversized or not-an-image file; the message names ``path``.
    """
    path = str(path)
    try:
        size = os.path.getsize(path)
        if os.path.isdir(path):
            raise DataError("is a directory, not an image file", path)
        if size == 0:
            raise DataError("empty file, not an image", path)
        with open(path, "rb") as f:
            return _decode(f, path, max_pixels)
    except FileNotFoundError:
        raise DataError("no such image file", path) from None
    except PermissionError:
        raise DataError("permission denied reading the image file", path) from None
    except OSError as e:  # e.g. I/O errors of the file system, not of the decoder
        raise DataError(f"cannot read the image file: {e}", path) from None


def decode_image_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "upload") -> np.ndarray:
    """Decode an encoded image held in memory (an HTTP upload) with the same checks as :func:`read_image`.

    Args:
        data: the encoded file (PNG, JPEG, ...).
        max_pixels: largest accepted ``width * height``.
        name: how the image is named in error messages.

    Returns:
        uint8 ``(H, W, 3)``.

    Raises:
        DataError: empty, truncated, oversized or not an image; the message names ``name``.
    """
    if len(data) == 0:
        raise DataError("empty file, not an image", name)
    return _decode(io.BytesIO(data), name, max_pixels)


def _decode(fp: BinaryIO, name: str, max_pixels: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise DataError(f"image is {w}x{h} = {w * h} pixels, more than the limit of {max_pixels} "
                                    "(possible decompression bomb)", name)
                if w == 0 or h == 0:
                    raise DataError(f"image has no pixels ({w}x{h})", name)
                im.load()
                return _to_rgb(im)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"image too large, possible decompression bomb: {e}", name) from None
    except Image.UnidentifiedImageError:
        raise DataError("not an image file, or a format PIL cannot read", name) from None
    except MemoryError:
        raise DataError("out of memory decoding the image", name) from None
    except Exception as e:  # corrupt files make PIL raise OSError, SyntaxError, ValueError, struct.error, ...
        reason = str(e) or type(e).__name__
        raise DataError(f"corrupt or truncated image: {reason}", name) from None


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(im).astype(np.int64)
        grey = (np.clip(grey, 0, 65535) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode == "F":
        grey = np.clip(np.asarray(im), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode != "RGB":
        im = im.convert("RGB")
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:  # defensive: convert("RGB") always gives (H, W, 3)
        raise ValueError(f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)
