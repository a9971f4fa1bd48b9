"""The loss registry: ``LOSSES.create("csdh", n_bits=48, n_classes=10, n_train=5000, alpha=0.25)``."""
from __future__ import annotations

from csdh.losses.base import BaseHashingLoss
from csdh.registry import Registry

LOSSES: Registry[BaseHashingLoss] = Registry("method")
