"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 grey 28x28 images of 10 clothing classes.

The four official IDX files are looked for, in order, in ``data_dir``, in ``SYSTEM_DIR`` (where the
``dataset-fashion-mnist`` package installs them) and in the cache folder (``~/.cache/csdh/fashion-mnist``, or
``$CSDH_CACHE/fashion-mnist``); failing that they are downloaded into the cache and checked against their MD5.
"""
from __future__ import annotations

import gzip
import logging
import zlib
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from csdh.data.download import cache_dir as default_cache_dir
from csdh.data.download import download as download_file
from csdh.data.pool import ArrayPool, content_fingerprint, one_hot
from csdh.errors import DataError

LOG = logging.getLogger(__name__)

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

# name -> (MD5 of the .gz file, IDX magic number)
FILES: Dict[str, tuple] = {
    "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", 2051),
    "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe", 2049),
    "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79", 2051),
    "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310", 2049),
}

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

HOW_TO_GET = ("install it with `apt-get install dataset-fashion-mnist`, or put the four files "
              + ", ".join(n + ".gz" for n in FILES) + " in a folder and pass it as --data-dir")


class FashionMNIST(ArrayPool):
    """The Fashion-MNIST pool: the official training images, then the official test images.

    Attributes:
        images: uint8 ``(n, 28, 28)``.
        labels: uint8 one-hot ``(n, 10)``.
        n_train_official: how many leading positions come from the official training part (60,000);
            positions ``>= n_train_official`` are the official test part.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, n_train_official: int,
                 fingerprint: Optional[str] = None) -> None:
        super().__init__("fashion-mnist", images, labels, CLASS_NAMES, fingerprint)
        self.n_train_official = int(n_train_official)


def load_fashion_mnist(data_dir: Optional[Union[str, Path]] = None, cache_dir: Optional[Union[str, Path]] = None,
                       download: bool = True) -> FashionMNIST:
    """Load Fashion-MNIST as one pool (positions 0..59,999 official train, 60,000..69,999 official test).

    Args:
        data_dir: a folder holding the four IDX files (gzipped or not); searched first.
        cache_dir: the download cache; default ``$CSDH_CACHE/fashion-mnist`` or ``~/.cache/csdh/fashion-mnist``.
        download: whether to download missing files into the cache.

    Raises:
        DataError: the files are nowhere to be found (and cannot be downloaded), or one is corrupt.
    """
    cache = default_cache_dir("fashion-mnist", cache_dir)
    folder = _find(data_dir, cache)
    if folder is None:
        if not download:
            raise DataError(f"Fashion-MNIST not found (looked in {_looked(data_dir, cache)}); {HOW_TO_GET}")
        _download_all(cache)
        folder = cache
    paths = {name: _file(folder, name) for name in FILES}
    arrays = {name: read_idx(paths[name], FILES[name][1]) for name in FILES}

    parts = []
    for split in ("train", "t10k"):
        images = arrays[f"{split}-images-idx3-ubyte"]
        labels = arrays[f"{split}-labels-idx1-ubyte"]
        lpath = paths[f"{split}-labels-idx1-ubyte"]
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{labels.shape[0]} labels but {paths[f'{split}-images-idx3-ubyte'].name} "
                            f"has {images.shape[0]} images", lpath)
        if labels.size and labels.max() >= len(CLASS_NAMES):
            raise DataError(f"label {int(labels.max())} out of range 0..{len(CLASS_NAMES) - 1}", lpath)
        parts.append((images, labels))
    (tr_x, tr_y), (te_x, te_y) = parts
    if tr_x.shape[1:] != te_x.shape[1:]:
        raise DataError(f"test images are {te_x.shape[1:]} but training images are {tr_x.shape[1:]}",
                        paths["t10k-images-idx3-ubyte"])

    images = np.concatenate([tr_x, te_x])
    y = np.concatenate([tr_y, te_y])
    LOG.info("loaded Fashion-MNIST from %s: %d train + %d test images", folder, len(tr_x), len(te_x))
    return FashionMNIST(images, one_hot(y, len(CLASS_NAMES)), n_train_official=len(tr_x),
                        fingerprint=content_fingerprint("fashion-mnist", images, y))


def read_idx(path: Union[str, Path], magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (gzipped if the name ends in ``.gz``).

    Format: a big-endian int32 magic number ``0x0000 08 D`` (type 0x08 = ubyte, ``D`` dimensions), then
    ``D`` big-endian int32 sizes, then the data in row-major order.

    Args:
        path: the file.
        magic: the expected magic number: 2051 for images (3 dims), 2049 for labels (1 dim).

    Returns:
        uint8 array of the stored shape.

    Raises:
        DataError: wrong magic number, truncated or over-long data, or a corrupt gzip stream.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"cannot read the file (corrupt or truncated gzip?): {e}", path) from None
    if len(raw) < 4:
        raise DataError(f"truncated IDX file ({len(raw)} bytes, no header)", path)
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"not an IDX file of the expected kind: magic number {found}, expected {magic}", path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"truncated IDX header ({len(raw)} bytes, need {header})", path)
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "over-long"
        raise DataError(f"{kind} IDX file: {len(raw)} bytes, but the header {dims} implies {expected}", path)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _file(folder: Path, name: str) -> Path:
    gz = folder / (name + ".gz")
    return gz if gz.is_file() else folder / name


def _has_all(folder: Path) -> bool:
    return all(_file(folder, name).is_file() for name in FILES)


def _find(data_dir: Optional[Union[str, Path]], cache: Path) -> Optional[Path]:
    if data_dir is not None:
        data_dir = Path(data_dir)
        if _has_all(data_dir):
            return data_dir
        present = [n for n in FILES if _file(data_dir, n).is_file()]
        if present:
            missing = [n + ".gz" for n in FILES if n not in present]
            raise DataError(f"incomplete Fashion-MNIST folder, missing {', '.join(missing)}; {HOW_TO_GET}",
                            data_dir)
        LOG.warning("no Fashion-MNIST files in %s; looking elsewhere", data_dir)
    for folder in (SYSTEM_DIR, cache):
        if _has_all(folder):
            return folder
    return None


def _looked(data_dir: Optional[Union[str, Path]], cache: Path) -> str:
    places: Sequence = ([data_dir] if data_dir is not None else []) + [SYSTEM_DIR, cache]
    return ", ".join(str(p) for p in places)


def _download_all(cache: Path) -> None:
    for name, (md5, _) in FILES.items():
        if _file(cache, name).is_file():
            continue
        try:
            download_file([m + name + ".gz" for m in MIRRORS], cache / (name + ".gz"), md5)
        except DataError as e:
            raise DataError(f"Fashion-MNIST is not available locally and could not be downloaded ({e}); "
                            f"{HOW_TO_GET}") from None
