"""An image pool: every image of a data set in one indexable collection, with multi-hot labels.

Protocols (query / train / database / validation splits) are arrays of int64 positions into a pool.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import List, Optional, Sequence

import numpy as np


class ImagePool(ABC):
    """All images of a data set.

    Attributes:
        name: the data set's name ("fashion-mnist", "cifar10", ...).
        labels: uint8 ``(n, C)`` multi-hot labels; single-label data is one-hot.
        class_names: ``C`` names.
    """

    name: str
    labels: np.ndarray
    class_names: List[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.labels.shape[1])

    @property
    def multi_label(self) -> bool:
        return bool((self.labels.sum(axis=1) != 1).any())

    @abstractmethod
    def load(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8 ``(H, W, 3)`` RGB (grey images are replicated to 3 channels).

        Raises:
            DataError: the image cannot be read (naming the file).
        """

    def load_stored(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8 ``(H, W, 3)`` RGB or, where the pool stores grey images, ``(H, W)``: what
        :func:`csdh.data.transforms.resize_square` takes, cheaper to resize than the 3-channel copy
        :meth:`load` makes (the same pixels once resized)."""
        return self.load(i)

    def describe(self, i: int) -> str:
        """A human-readable locator of image ``i``: its path, or ``name#i`` for in-memory arrays."""
        p = self.path(i)
        return p if p is not None else f"{self.name}#{i}"

    def path(self, i: int) -> Optional[str]:
        """The image file of item ``i``, or None for images held in memory."""
        return None

    def fingerprint(self) -> str:
        """A short string that changes when the pool's content changes (keys the feature cache)."""
        return f"{self.name}-{len(self)}"


class ArrayPool(ImagePool):
    """Images held in memory as one uint8 array ``(n, H, W)`` (grey) or ``(n, H, W, 3)``."""

    def __init__(self, name: str, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                 fingerprint: Optional[str] = None) -> None:
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise ValueError(f"images must be uint8 (n, H, W[, 3]), got {images.dtype} {images.shape}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.name = name
        self.images = images
        self.labels = np.ascontiguousarray(labels, dtype=np.uint8)
        self.class_names = list(class_names)
        self._fingerprint = fingerprint

    def load(self, i: int) -> np.ndarray:
        img = self.images[i]
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        return img

    def load_stored(self, i: int) -> np.ndarray:
        return self.images[i]

    def fingerprint(self) -> str:
        return self._fingerprint or super().fingerprint()


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer class indices ``(n,)`` -> uint8 one-hot labels ``(n, n_classes)``."""
    out = np.zeros((len(y), n_classes), dtype=np.uint8)
    out[np.arange(len(y)), y] = 1
    return out


def content_fingerprint(name: str, images: np.ndarray, y: np.ndarray) -> str:
    """``name-n-<sha1 of the image and label bytes>``: the fingerprint of an in-memory pool's content."""
    digest = hashlib.sha1(images.tobytes())
    digest.update(y.tobytes())
    return f"{name}-{len(y)}-{digest.hexdigest()[:12]}"
