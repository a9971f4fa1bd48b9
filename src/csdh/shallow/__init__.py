"""Shallow (non-deep) hashing methods on fixed feature vectors, one class per file, all registered in
``SHALLOW``: ``SHALLOW.create("itq", n_bits=48).fit(X).encode(X)`` gives uint8 ``(n, 6)`` codes."""
from csdh.shallow.base import NotFittedError, ShallowHasher, pca
from csdh.shallow.registry import SHALLOW
from csdh.shallow.lsh import LSH
from csdh.shallow.pcah import PCAH
from csdh.shallow.itq import ITQ
from csdh.shallow.sh import SH
from csdh.shallow.sdh import SDH
from csdh.shallow.ksh import KSH

__all__ = ["ShallowHasher", "NotFittedError", "pca", "SHALLOW", "LSH", "PCAH", "ITQ", "SH", "SDH", "KSH"]
