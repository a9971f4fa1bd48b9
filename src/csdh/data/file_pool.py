"""A pool of image files on disk, decoded on demand."""
from __future__ import annotations

import hashlib
import os
from typing import List, Optional, Sequence

import numpy as np

from csdh.data.images import DEFAULT_MAX_PIXELS, read_image
from csdh.data.pool import ImagePool
from csdh.errors import DataError


class FilePool(ImagePool):
    """Images stored as files; ``load(i)`` decodes file ``i`` with :func:`~csdh.data.images.read_image`.

    Args:
        name: the data set's name.
        paths: ``n`` image paths.
        labels: ``(n, C)`` 0/1 labels.
        class_names: ``C`` names.
        list_files: the list files the items were read from, if any.
        list_lines: int64 ``(n, 2)``: for each item, the index into ``list_files`` and the 1-based line, so a
            missing image is reported with the line that names it.
        max_pixels: passed to ``read_image``.
    """

    def __init__(self, name: str, paths: Sequence[str], labels: np.ndarray, class_names: Sequence[str],
                 list_files: Sequence[str] = (), list_lines: Optional[np.ndarray] = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.shape[0] != len(paths):
            raise ValueError(f"{len(paths)} paths but labels of shape {labels.shape}")
        if labels.shape[1] != len(class_names):
            raise ValueError(f"{labels.shape[1]} label columns but {len(class_names)} class names")
        if list_lines is not None and np.shape(list_lines) != (len(paths), 2):
            raise ValueError(f"list_lines must be ({len(paths)}, 2), got {np.shape(list_lines)}")
        self.name = name
        self.paths: List[str] = [str(p) for p in paths]
        self.labels = np.ascontiguousarray(labels, dtype=np.uint8)
        self.class_names = list(class_names)
        self.list_files = [str(f) for f in list_files]
        self.list_lines = None if list_lines is None else np.asarray(list_lines, dtype=np.int64)
        self.max_pixels = int(max_pixels)
        self._fingerprint: Optional[str] = None

    def load(self, i: int) -> np.ndarray:
        try:
            return read_image(self.paths[i], self.max_pixels)
        except DataError as e:
            if self.list_lines is None:
                raise
            f, line = self.list_lines[i]
            raise DataError(f"listed image cannot be used: {e}", self.list_files[int(f)], int(line)) from None

    def path(self, i: int) -> Optional[str]:
        return self.paths[i]

    def fingerprint(self) -> str:
        """A hash of the paths, the labels and each file's size and modification time (computed once)."""
        if self._fingerprint is None:
            h = hashlib.sha1()
            h.update(self.labels.tobytes())
            h.update(str(self.labels.shape).encode())
            for p in self.paths:
                try:
                    st = os.stat(p)
                    stamp = f"{st.st_size}:{st.st_mtime_ns}"
                except OSError:
                    stamp = "missing"
                h.update(f"{p}\0{stamp}\n".encode("utf-8", "surrogateescape"))
            self._fingerprint = f"{self.name}-{len(self)}-{h.hexdigest()[:12]}"
        return self._fingerprint
