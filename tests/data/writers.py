"""Writers of tiny data files in the exact original formats (shared by the data tests)."""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zlib
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
from PIL import Image


def write_png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG")
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A well-formed PNG claiming ``width x height`` RGB whose image data is one empty zlib stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b""))
            + _chunk(b"IEND", b""))


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000 08 <ndim>, big-endian int32 dims, data."""
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_fashion_mnist(folder: Path, n_train_per_class: int = 2, n_test_per_class: int = 1, gz: bool = True,
                        seed: int = 0) -> Dict[str, np.ndarray]:
    """Write the four Fashion-MNIST IDX files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, k in (("train", n_train_per_class), ("t10k", n_test_per_class)):
        y = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), k))
        x = rng.integers(0, 256, size=(len(y), 28, 28), dtype=np.uint8)
        out[f"{split}-images"], out[f"{split}-labels"] = x, y
        for name, arr in ((f"{split}-images-idx3-ubyte", x), (f"{split}-labels-idx1-ubyte", y)):
            data = idx_bytes(arr)
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return out


def cifar_pickle(obj: object, py2_module_names: bool = True) -> bytes:
    """Pickle protocol 2 with bytes keys; optionally name numpy's reconstructor as Python 2 / numpy 1 did."""
    raw = pickle.dumps(obj, protocol=2)
    if py2_module_names:
        raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    return raw


CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def cifar_members(per_batch: int = 3, n_test: int = 4, seed: int = 0,
                  py2_module_names: bool = True) -> Tuple[Dict[str, bytes], np.ndarray, np.ndarray]:
    """The seven files of ``cifar-10-batches-py``, and the images ``(n, 32, 32, 3)`` and labels they hold."""
    rng = np.random.default_rng(seed)
    members: Dict[str, bytes] = {}
    images, labels = [], []
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, size=n)]
        data = x.transpose(0, 3, 1, 2).reshape(n, 3072)  # R plane, G plane, B plane, each row-major
        members[name] = cifar_pickle({b"batch_label": name.encode(), b"labels": y, b"data": data,
                                      b"filenames": [f"img_{j}.png".encode() for j in range(n)]},
                                     py2_module_names)
        images.append(x)
        labels += y
    members["batches.meta"] = cifar_pickle({b"num_cases_per_batch": per_batch, b"label_names": CIFAR_NAMES,
                                            b"num_vis": 3072}, py2_module_names)
    return members, np.concatenate(images), np.asarray(labels)


def write_cifar_archive(path: Path, members: Dict[str, bytes], skip: Sequence[str] = ()) -> Path:
    """``cifar-10-python.tar.gz`` with members ``cifar-10-batches-py/<name>`` (plus the readme)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        items = [("readme.html", b"<html></html>")] + list(members.items())
        for name, data in items:
            if name in skip:
                continue
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_list(path: Path, rows: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
