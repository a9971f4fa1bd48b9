"""The data set registry: a name -> a loader returning ``(pool, given_splits_or_None, default_protocol)``."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from csdh.data.cifar10 import load_cifar10
from csdh.data.fashion_mnist import load_fashion_mnist
from csdh.data.image_folder import load_image_folder
from csdh.data.image_list import load_image_list
from csdh.data.pool import ImagePool
from csdh.errors import UserError
from csdh.registry import Registry

PathLike = Union[str, Path]
Loaded = Tuple[ImagePool, Optional[Dict[str, np.ndarray]], str]

DATASETS: Registry[Loaded] = Registry("data set")


def load_dataset(name: str, data_dir: Optional[PathLike] = None, image_root: Optional[PathLike] = None,
                 download: bool = True) -> Loaded:
    """Load a registered data set.

    Args:
        name: a name in ``DATASETS`` ("fashion-mnist", "cifar10", "image-list", "image-folder").
        data_dir: where the data is (required for "image-list" and "image-folder").
        image_root: the folder image-list paths are relative to (default ``data_dir``).
        download: whether a public data set may be downloaded into the cache.

    Returns:
        ``(pool, given, protocol)``: the pool, the predefined ``{"train", "query", "database"}`` positions (or
        None) and the name of the data set's default protocol.
    """
    return DATASETS.create(name, data_dir=data_dir, image_root=image_root, download=download)


@DATASETS.register("fashion-mnist")
def _fashion_mnist(data_dir: Optional[PathLike] = None, image_root: Optional[PathLike] = None,
                   download: bool = True) -> Loaded:
    return load_fashion_mnist(data_dir, download=download), None, "fashion-mnist"


@DATASETS.register("cifar10")
def _cifar10(data_dir: Optional[PathLike] = None, image_root: Optional[PathLike] = None,
             download: bool = True) -> Loaded:
    return load_cifar10(data_dir, download=download), None, "cifar10"


@DATASETS.register("image-list")
def _image_list(data_dir: Optional[PathLike] = None, image_root: Optional[PathLike] = None,
                download: bool = True) -> Loaded:
    if data_dir is None:
        raise UserError("the image-list data set needs --data-dir: a folder with train.txt, test.txt and "
                        "database.txt")
    pool, given = load_image_list(data_dir, image_root)
    return pool, given, "image-list"


@DATASETS.register("image-folder")
def _image_folder(data_dir: Optional[PathLike] = None, image_root: Optional[PathLike] = None,
                  download: bool = True) -> Loaded:
    if data_dir is None:
        raise UserError("the image-folder data set needs --data-dir: a folder with one sub-folder per class")
    return load_image_folder(data_dir), None, "image-folder"
