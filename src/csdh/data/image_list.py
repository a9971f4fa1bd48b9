"""Image lists in the field's format (NUS-WIDE, MS-COCO, ImageNet-100 in DeepHash code).

A folder holds ``train.txt``, ``test.txt`` (the queries) and ``database.txt``; each line is an image path
followed by its 0/1 label vector, separated by whitespace::

    images/0001.jpg 0 1 0 0 1
    images/0002.jpg 1 0 0 0 0

Parsing rules:

* the number of classes ``C`` is the number of trailing 0/1 tokens on the first line of ``train.txt``; every
  other line of the three files must end in exactly ``C`` such tokens;
* the path is everything before the last ``C`` tokens, so it may contain spaces, as long as it does not itself
  end in a separate "0"/"1" token (or in a separate number, which reads as a bad label);
* blank lines are skipped; paths are relative to ``image_root`` (default: the list folder) unless absolute;
* ``classes.txt`` in the folder, if present, names the classes (one per line), else they are "0".."C-1".

The pool is ``train``, then ``test``, then ``database``, in file order; an image listed in two files (DeepHash's
``database.txt`` often repeats the training images) appears at two positions.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from csdh.data.file_pool import FilePool
from csdh.errors import DataError

LOG = logging.getLogger(__name__)

LIST_FILES = (("train", "train.txt"), ("query", "test.txt"), ("database", "database.txt"))
CLASSES_FILE = "classes.txt"

_BITS = frozenset(("0", "1"))
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def load_image_list(data_dir: Union[str, Path], image_root: Optional[Union[str, Path]] = None,
                    check_files: bool = False, name: str = "image-list") -> Tuple[FilePool, Dict[str, np.ndarray]]:
    """Read ``train.txt``, ``test.txt`` and ``database.txt`` from ``data_dir`` into one pool.

    Args:
        data_dir: the folder with the list files.
        image_root: the folder image paths are relative to; default ``data_dir``.
        check_files: check up front that every image file exists (otherwise a missing image is reported when
            it is loaded, naming the list file and line).
        name: the pool's name.

    Returns:
        ``(pool, splits)``, where ``splits`` maps "train", "query" and "database" to int64 position arrays
        (consecutive ranges, in that order).

    Raises:
        DataError: a list file is missing, empty or malformed (naming the file and line), ``classes.txt`` does
            not match, or (with ``check_files``) an image is missing.
    """
    data_dir = Path(data_dir)
    root = Path(image_root) if image_root is not None else data_dir
    if not data_dir.is_dir():
        raise DataError("image-list folder not found", data_dir)

    paths: List[str] = []
    label_rows: List[bytes] = []
    lines: List[Tuple[int, int]] = []
    list_files: List[str] = []
    splits: Dict[str, np.ndarray] = {}
    ref: Optional[Tuple[str, int, int]] = None  # (file, line, C) that fixed the number of classes
    for key, fname in LIST_FILES:
        path = data_dir / fname
        start = len(paths)
        list_files.append(str(path))
        ref = _read_list(path, root, ref, len(list_files) - 1, paths, label_rows, lines)
        if len(paths) == start:
            raise DataError("the list has no entries", path)
        splits[key] = np.arange(start, len(paths), dtype=np.int64)
    assert ref is not None
    n_classes = ref[2]
    labels = (np.frombuffer(b"".join(label_rows), dtype=np.uint8) - ord("0")).reshape(len(paths), n_classes)
    n_empty = int((labels.sum(axis=1) == 0).sum())
    if n_empty:
        LOG.warning("%d listed images have no label (all-zero vector)", n_empty)

    class_names = _class_names(data_dir / CLASSES_FILE, n_classes)
    pool = FilePool(name, paths, labels, class_names, list_files=list_files,
                    list_lines=np.asarray(lines, dtype=np.int64).reshape(-1, 2))
    if check_files:
        missing = [i for i, p in enumerate(pool.paths) if not os.path.isfile(p)]
        if missing:
            f, line = pool.list_lines[missing[0]]
            more = f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""
            raise DataError(f"image file {pool.paths[missing[0]]} not found{more}", list_files[int(f)], int(line))
    LOG.info("read image lists from %s: %s, %d classes", data_dir,
             ", ".join(f"{k} {len(v)}" for k, v in splits.items()), n_classes)
    return pool, splits


def _read_list(path: Path, root: Path, ref: Optional[Tuple[str, int, int]], file_index: int,
               paths: List[str], label_rows: List[bytes], lines: List[Tuple[int, int]]
               ) -> Optional[Tuple[str, int, int]]:
    """Append the entries of one list file; returns the reference (file, line, C)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("list file not found", path) from None
    except OSError as e:
        raise DataError(f"cannot read the list file: {e}", path) from None
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise DataError("the line is not valid UTF-8", path, lineno) from None
        if not line:
            continue
        tokens = line.split()
        t = 0
        while t < len(tokens) and tokens[-1 - t] in _BITS:
            t += 1
        c = ref[2] if ref is not None else t
        if (ref is None or t < c) and t < len(tokens) - 1 and _NUMBER.match(tokens[-1 - t]):
            raise DataError(f"label {tokens[-1 - t]!r} is not 0 or 1", path, lineno)
        if t == 0:
            raise DataError("no 0/1 label vector after the image path", path, lineno)
        if t == len(tokens):
            raise DataError("no image path before the labels", path, lineno)
        if ref is None:
            ref = (str(path), lineno, t)
        elif t != c:
            raise DataError(f"label vector has {t} entries, but {ref[0]}:{ref[1]} has {c}", path, lineno)
        rel = line.rsplit(maxsplit=c)[0]
        paths.append(os.path.normpath(os.path.join(root, rel)))
        label_rows.append("".join(tokens[-c:]).encode("ascii"))
        lines.append((file_index, lineno))
    return ref


def _class_names(path: Path, n_classes: int) -> List[str]:
    if not path.is_file():
        return [str(c) for c in range(n_classes)]
    try:
        names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the class names: {e}", path) from None
    names = [n for n in names if n]
    if len(names) != n_classes:
        raise DataError(f"{len(names)} class names, but the label vectors have {n_classes} entries", path)
    return names
