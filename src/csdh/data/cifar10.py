"""CIFAR-10 (Krizhevsky, 2009): 60,000 colour 32x32 images of 10 classes, from the official python version.

``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``. Each batch
is a (Python 2) pickle of a dict with ``b"data"``, a uint8 ``(10000, 3072)`` array whose rows are the red, then
green, then blue plane of a 32x32 image in row-major order, and ``b"labels"``, a list of ints; the meta file
has ``b"label_names"``. The archive is read in place (never extracted); the pickles are loaded with an
unpickler that only accepts the few globals a numpy array needs, so a malicious file cannot run code.

The data is looked for in ``data_dir``, then in the cache folder (``~/.cache/csdh/cifar10``, or
``$CSDH_CACHE/cifar10``), as the archive or as the extracted ``cifar-10-batches-py`` folder (or a folder holding
the batch files directly); failing that the archive is downloaded into the cache and checked against its MD5.
"""
from __future__ import annotations

import codecs
import io
import logging
import pickle
import tarfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from csdh.data.download import cache_dir as default_cache_dir
from csdh.data.download import download as download_file
from csdh.data.pool import ArrayPool, content_fingerprint, one_hot
from csdh.errors import DataError

LOG = logging.getLogger(__name__)

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
N_CLASSES = 10

HOW_TO_GET = (f"download {URL} (or let csdh download it) and put {ARCHIVE}, or the extracted {FOLDER} folder, "
              "in a folder passed as --data-dir")


class CIFAR10(ArrayPool):
    """The CIFAR-10 pool: the 50,000 official training images (batches 1..5 in order), then the 10,000 test images.

    Attributes:
        images: uint8 ``(n, 32, 32, 3)`` RGB.
        labels: uint8 one-hot ``(n, 10)``.
        n_train_official: how many leading positions come from the official training part (50,000).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, class_names: List[str], n_train_official: int,
                 fingerprint: Optional[str] = None) -> None:
        super().__init__("cifar10", images, labels, class_names, fingerprint)
        self.n_train_official = int(n_train_official)


def load_cifar10(data_dir: Optional[Union[str, Path]] = None, cache_dir: Optional[Union[str, Path]] = None,
                 download: bool = True) -> CIFAR10:
    """Load CIFAR-10 as one pool (positions 0..49,999 official train, 50,000..59,999 official test).

    Args:
        data_dir: a folder holding ``cifar-10-python.tar.gz`` or the extracted ``cifar-10-batches-py``.
        cache_dir: the download cache; default ``$CSDH_CACHE/cifar10`` or ``~/.cache/csdh/cifar10``.
        download: whether to download the archive into the cache when it is nowhere else.

    Raises:
        DataError: the data is not found (and cannot be downloaded), or a file is corrupt.
    """
    cache = default_cache_dir("cifar10", cache_dir)
    source = _find(data_dir, cache)
    if source is None:
        if not download:
            looked = ", ".join(str(p) for p in ([data_dir] if data_dir is not None else []) + [cache])
            raise DataError(f"CIFAR-10 not found (looked in {looked}); {HOW_TO_GET}")
        try:
            source = download_file([URL], cache / ARCHIVE, ARCHIVE_MD5, timeout=120.0)
        except DataError as e:
            raise DataError(f"CIFAR-10 is not available locally and could not be downloaded ({e}); "
                            f"{HOW_TO_GET}") from None

    raw = _read_members(source)
    meta = _unpickle(raw[META], _where(source, META))
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != N_CLASSES:
        raise DataError(f"expected a dict with {N_CLASSES} b'label_names'", _where(source, META))
    class_names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]

    parts = [_batch(raw[name], _where(source, name)) for name in TRAIN_BATCHES + (TEST_BATCH,)]
    images = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    n_train = sum(len(p[1]) for p in parts[:-1])
    LOG.info("loaded CIFAR-10 from %s: %d train + %d test images", source, n_train, len(y) - n_train)
    return CIFAR10(images, one_hot(y, N_CLASSES), class_names, n_train_official=n_train,
                   fingerprint=content_fingerprint("cifar10", images, y))


def _find(data_dir: Optional[Union[str, Path]], cache: Path) -> Optional[Path]:
    """The archive or the folder of batch files, searched in ``data_dir`` then ``cache``."""
    for base in ([Path(data_dir)] if data_dir is not None else []) + [cache]:
        for candidate in (base / FOLDER, base):
            if (candidate / TRAIN_BATCHES[0]).is_file():
                return candidate
        if (base / ARCHIVE).is_file():
            return base / ARCHIVE
        if base.is_file() and base.name.endswith((".tar.gz", ".tgz")):
            return base
    return None


def _where(source: Path, member: str) -> str:
    return f"{source}!{FOLDER}/{member}" if source.is_file() else str(source / member)


def _read_members(source: Path) -> Dict[str, bytes]:
    """The bytes of the seven needed files, from the archive or the folder."""
    wanted = TRAIN_BATCHES + (TEST_BATCH, META)
    found: Dict[str, bytes] = {}
    if source.is_dir():
        for name in wanted:
            path = source / name
            try:
                found[name] = path.read_bytes()
            except FileNotFoundError:
                raise DataError(f"missing CIFAR-10 batch file {name}; {HOW_TO_GET}", path) from None
            except OSError as e:
                raise DataError(f"cannot read: {e}", path) from None
        return found
    try:
        with tarfile.open(source, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile() and len(parts) == 2 and parts[0] == FOLDER and parts[1] in wanted:
                    f = tar.extractfile(member)
                    if f is not None:
                        found[parts[1]] = f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"corrupt or truncated archive: {e}", source) from None
    missing = [f"{FOLDER}/{n}" for n in wanted if n not in found]
    if missing:
        raise DataError(f"not the CIFAR-10 python archive: missing {', '.join(missing)}", source)
    return found


def _batch(raw: bytes, where: str) -> Tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 ``(n, 32, 32, 3)``, int64 ``(n,)`` labels)."""
    d = _unpickle(raw, where)
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError("expected a pickled dict with b'data' and b'labels'", where)
    data, labels = d[b"data"], d[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"b'data' must be a uint8 (n, 3072) array, got "
                        f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}", where)
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError("b'labels' must be a list of ints", where) from None
    if y.shape != (data.shape[0],):
        raise DataError(f"{data.shape[0]} images but b'labels' has shape {y.shape}", where)
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise DataError(f"labels must lie in 0..{N_CLASSES - 1}, found {int(y.min())}..{int(y.max())}", where)
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, y


_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_SAFE_GLOBALS: Dict[Tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def _unpickle(raw: bytes, where: str) -> Any:
    try:
        return _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # pickle raises many types on corrupt input
        raise DataError(f"corrupt pickle: {str(e) or type(e).__name__}", where) from None
