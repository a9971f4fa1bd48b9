"""LSH: random-hyperplane locality-sensitive hashing.

Charikar, "Similarity estimation techniques from rounding algorithms", STOC 2002: for a Gaussian random
vector ``w``, ``P[sgn(w.x) != sgn(w.y)] = angle(x, y) / pi``, so the Hamming distance between K such bits
estimates the angle. Features are mean-centred first (the usual baseline in the learning-to-hash
literature), so the hyperplanes pass through the data mean.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from csdh.shallow.base import ShallowHasher
from csdh.shallow.registry import SHALLOW


@SHALLOW.register("lsh")
class LSH(ShallowHasher):
    """Random hyperplanes: ``h(x) = sgn(W^T (x - mu))`` with ``W_ij ~ N(0, 1)`` drawn from ``seed``.

    Args:
        n_bits: K, the code length (multiple of 8).
        seed: seed of the Gaussian projection.
    """

    name = "lsh"
    supervised = False
    state_keys = ("mean", "W")

    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self.W_ = self._rng().standard_normal((X.shape[1], self.n_bits))

    def _project(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) @ self.W_
