"""Where the images of an index come from: a folder, a list file, or a data set's database split.

A source is a list of light entries (path, labels, pool position), never the decoded images; images are
decoded one batch at a time by the builder.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from csdh.data.image_folder import IMAGE_EXTENSIONS
from csdh.data.images import DEFAULT_MAX_PIXELS, read_image
from csdh.data.pool import ImagePool
from csdh.errors import UserError
from csdh.index.metadata import Label

LOG = logging.getLogger(__name__)

PathLike = Union[str, Path]


@dataclass(frozen=True)
class SourceEntry:
    """One image to index: its file (None for in-memory data set images), labels and pool position."""

    path: Optional[str]
    labels: Tuple[Label, ...] = ()
    position: Optional[int] = None


class ImageSource:
    """Entries and how to decode them.

    Args:
        entries: the images, in the order they get ids.
        description: e.g. "images /home/me/Photos" (stored in the manifest).
        pool: for data set sources, the pool the positions refer to (lets a frozen-backbone run reuse its
            feature cache, and loads in-memory images).
        max_pixels: decompression-bomb limit for image files.
    """

    def __init__(self, entries: Sequence[SourceEntry], description: str, pool: Optional[ImagePool] = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.entries = list(entries)
        self.description = description
        self.pool = pool
        self.max_pixels = int(max_pixels)

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, i: int) -> np.ndarray:
        """Entry ``i`` as uint8 RGB ``(H, W, 3)``.

        Raises:
            DataError: the image cannot be read (the message names it).
        """
        e = self.entries[i]
        if e.position is not None and self.pool is not None:
            return self.pool.load(e.position)
        assert e.path is not None
        return read_image(e.path, self.max_pixels)

    def describe(self, i: int) -> str:
        e = self.entries[i]
        if e.path is not None:
            return e.path
        name = self.pool.name if self.pool is not None else "item"
        return f"{name}#{e.position}"


def _is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS


def folder_source(root: PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageSource:
    """Every image under ``root``, recursively, sorted by path; hidden files and folders are ignored.

    An image inside a first-level sub-folder gets that folder's name as its label (class folders), an image
    directly in ``root`` gets none.

    Raises:
        UserError: ``root`` is not a folder or holds no image files.
    """
    if not Path(root).is_dir():
        raise UserError("no such image folder", root)
    root = Path(root).resolve()  # absolute paths, so the index works from any working directory
    entries: List[SourceEntry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root)
        label: Tuple[Label, ...] = (rel.parts[0],) if rel.parts else ()
        for name in sorted(filenames):
            if name.startswith(".") or not _is_image(Path(name)):
                continue
            entries.append(SourceEntry(str(Path(dirpath) / name), label))
    entries.sort(key=lambda e: e.path or "")
    if not entries:
        raise UserError(f"no image files found (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})", root)
    LOG.info("found %d images under %s", len(entries), root)
    return ImageSource(entries, f"images {root}", max_pixels=max_pixels)


def list_source(list_file: PathLike, class_names: Optional[Sequence[str]] = None,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageSource:
    """Images listed one per line as ``path [0/1 labels...]`` (blank lines and ``#`` comments skipped).

    Relative paths are relative to the list file's folder. Every line must have the same number of
    trailing 0/1 label tokens (the first line sets it; it may be zero). Label names come from
    ``classes.txt`` next to the list, else ``class_names`` when their number matches, else the indices.

    Raises:
        UserError: a missing or malformed list (naming the file and line).
    """
    list_file = Path(list_file)
    try:
        text = list_file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError("no such list file", list_file) from None
    except UnicodeDecodeError:
        raise UserError("the list file is not valid UTF-8", list_file) from None
    except OSError as exc:
        raise UserError(f"cannot read the list file: {exc}", list_file) from None
    base = list_file.resolve().parent
    rows: List[Tuple[str, Optional[str], int]] = []  # (path, label bits, line)
    n_labels: Optional[int] = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        t = 0
        while t < len(tokens) - 1 and tokens[-1 - t] in ("0", "1"):
            t += 1
        if n_labels is None:
            n_labels = t
        elif t < n_labels:
            raise UserError(f"expected {n_labels} 0/1 labels after the path, as on the first entry", list_file, lineno)
        elif t > n_labels and n_labels == 0:
            t = 0  # a path that ends in " 0" or " 1" tokens in an unlabelled list
        path = line.rsplit(maxsplit=n_labels)[0] if n_labels else line
        bits = "".join(tokens[-n_labels:]) if n_labels else None
        rows.append((os.path.normpath(os.path.join(base, path)), bits, lineno))
    if not rows:
        raise UserError("the list has no entries", list_file)
    names: List[Label] = list(range(n_labels or 0))
    classes_txt = base / "classes.txt"
    if n_labels and classes_txt.is_file():
        found = [ln.strip() for ln in classes_txt.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        if len(found) != n_labels:
            raise UserError(f"{len(found)} class names, but the list has {n_labels} labels per line", classes_txt)
        names = list(found)
    elif n_labels and class_names is not None and len(class_names) == n_labels:
        names = list(class_names)
    entries = [SourceEntry(p, tuple(names[j] for j, b in enumerate(bits or "") if b == "1")) for p, bits, _ in rows]
    return ImageSource(entries, f"list {list_file.resolve()}", max_pixels=max_pixels)


def pool_source(pool: ImagePool, positions: np.ndarray, description: str) -> ImageSource:
    """Pool images at ``positions`` (e.g. a split's database), with their labels as class names."""
    positions = np.asarray(positions, dtype=np.int64)
    names = list(pool.class_names)
    entries = []
    for p in positions:
        row = pool.labels[int(p)]
        labels = tuple(names[j] if j < len(names) else j for j in np.flatnonzero(row))
        path = pool.path(int(p))
        entries.append(SourceEntry(os.path.abspath(path) if path is not None else None, labels, int(p)))
    return ImageSource(entries, description, pool=pool)


def dataset_source(model, name: str, data_dir: Optional[PathLike] = None, image_root: Optional[PathLike] = None,
                   download: bool = True) -> ImageSource:
    """The database split of a data set: the run's own split when it is the run's data set, else the data
    set's default protocol drawn with the run's seed.

    Args:
        model: a :class:`csdh.engine.run_model.RunModel`.
        name: a registered data set name.
        data_dir, image_root: where it lives (default: the run's, for the run's data set).
    """
    from csdh.data import load_dataset
    from csdh.data.protocols import Split, make_split

    c = model.config
    same_dir = data_dir is None or (c.data_dir is not None and Path(data_dir).resolve() == Path(c.data_dir).resolve())
    if name == c.dataset and same_dir:
        pool, _, _ = load_dataset(c.dataset, data_dir=c.data_dir if data_dir is None else data_dir,
                                  image_root=c.image_root if image_root is None else image_root, download=download)
        split = Split.load(model.run.split)
        if split.database.size and int(split.database.max()) >= len(pool):
            raise UserError("the run's split does not fit the data set (was it changed after training?)",
                            model.run.split)
    else:
        pool, given, protocol = load_dataset(name, data_dir=data_dir, image_root=image_root, download=download)
        split = make_split(protocol, pool, seed=c.seed, given=given)
    where = f" in {Path(data_dir).resolve()}" if data_dir is not None else ""
    return pool_source(pool, split.database, f"dataset {name}{where} (database split)")


__all__ = ["ImageSource", "SourceEntry", "dataset_source", "folder_source", "list_source", "pool_source"]
