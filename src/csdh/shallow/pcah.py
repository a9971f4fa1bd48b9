"""PCAH: PCA hashing, the sign of the top-K principal components.

The baseline of e.g. Wang, Kumar, Chang, "Semi-supervised hashing for large-scale search", TPAMI 2012
(and Gong & Lazebnik's ITQ paper, where it is ITQ without the rotation): ``h(x) = sgn(W^T (x - mu))``
with ``W`` the K leading eigenvectors of the covariance matrix.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from csdh.shallow.base import ShallowHasher, pca
from csdh.shallow.registry import SHALLOW


@SHALLOW.register("pcah")
class PCAH(ShallowHasher):
    """Sign of the projections on the top-K PCA directions of the mean-centred features.

    Args:
        n_bits: K, the code length (multiple of 8); needs ``K <= d``.
        seed: unused (PCA is deterministic), kept for a uniform interface.
    """

    name = "pcah"
    supervised = False
    state_keys = ("mean", "W")

    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        if self.n_bits > X.shape[1]:
            raise ValueError(f"PCAH needs n_bits <= feature dimension, got {self.n_bits} > {X.shape[1]}")
        self.mean_, self.W_, _ = pca(X, self.n_bits)

    def _project(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) @ self.W_
