"""The shallow-method registry: ``SHALLOW.create("itq", n_bits=48, seed=0)``."""
from __future__ import annotations

from csdh.registry import Registry
from csdh.shallow.base import ShallowHasher

SHALLOW: Registry[ShallowHasher] = Registry("shallow method")
