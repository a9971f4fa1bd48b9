"""Data sets as image pools, safe image decoding, and evaluation protocols (seeded splits)."""
from csdh.data.cifar10 import CIFAR10, load_cifar10
from csdh.data.datasets import DATASETS, load_dataset
from csdh.data.fashion_mnist import FashionMNIST, load_fashion_mnist
from csdh.data.file_pool import FilePool
from csdh.data.image_folder import load_image_folder
from csdh.data.image_list import load_image_list
from csdh.data.images import DEFAULT_MAX_PIXELS, decode_image_bytes, read_image
from csdh.data.pool import ArrayPool, ImagePool
from csdh.data.protocols import PROTOCOLS, Split, make_split

__all__ = [
    "ArrayPool", "CIFAR10", "DATASETS", "DEFAULT_MAX_PIXELS", "FashionMNIST", "FilePool", "ImagePool", "PROTOCOLS",
    "Split", "decode_image_bytes", "load_cifar10", "load_dataset", "load_fashion_mnist", "load_image_folder",
    "load_image_list", "make_split", "read_image",
]
