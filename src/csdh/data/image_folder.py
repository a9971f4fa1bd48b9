"""A folder of class sub-folders (``root/<class>/**/<image>``), as torchvision's ``ImageFolder``."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Union

import numpy as np

from csdh.data.file_pool import FilePool
from csdh.errors import DataError

LOG = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset((".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"))


def load_image_folder(root: Union[str, Path], name: str = "image-folder") -> FilePool:
    """One class per sub-folder of ``root`` (sorted by name); its images, found recursively, are sorted by path.

    Images are files with the extensions in ``IMAGE_EXTENSIONS`` (case-insensitive); hidden files and folders
    (names starting with ".") and files directly in ``root`` are ignored. Labels are one-hot.

    Raises:
        DataError: ``root`` is missing, has no class sub-folders, or a class sub-folder has no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("image folder not found", root)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError("no class sub-folders (expected root/<class>/<image files>)", root)
    paths: List[str] = []
    y: List[int] = []
    for c, folder in enumerate(classes):
        found = sorted(str(p) for p in folder.rglob("*")
                       if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        if not found:
            raise DataError(f"class folder has no images (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})",
                            folder)
        paths += found
        y += [c] * len(found)
    labels = np.zeros((len(y), len(classes)), dtype=np.uint8)
    labels[np.arange(len(y)), y] = 1
    LOG.info("found %d images of %d classes in %s", len(paths), len(classes), root)
    return FilePool(name, paths, labels, [p.name for p in classes])
