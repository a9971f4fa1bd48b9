"""ITQ: iterative quantization.

Gong & Lazebnik, "Iterative Quantization: A Procrustean Approach to Learning Binary Codes", CVPR 2011;
Gong, Lazebnik, Gordo, Perronnin, TPAMI 35(12) 2013. The features are mean-centred and projected on the
top-K PCA directions, ``V = (X - mu) W``; then an orthogonal rotation ``R`` minimises the quantization
loss (Eq. 2 of the CVPR paper)

    Q(B, R) = || B - V R ||_F^2,    B in {-1, +1}^{n x K},  R^T R = I,

by alternating (Sec. 2.3)

    fix R:  B = sgn(V R)                                    (sgn(0) = +1)
    fix B:  B^T V = S Omega S_hat^T (SVD),  R = S_hat S^T   (orthogonal Procrustes)

as in the authors' reference ``ITQ.m``, starting from a random orthogonal ``R``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from csdh.shallow.base import ShallowHasher, pca
from csdh.shallow.registry import SHALLOW


@SHALLOW.register("itq")
class ITQ(ShallowHasher):
    """PCA to K dimensions, then the rotation that best aligns the projections with the hypercube.

    Args:
        n_bits: K, the code length (multiple of 8); needs ``K <= d``.
        seed: seed of the random initial rotation.
        n_iter: alternations of the B- and R-steps (50 in the paper).

    After :meth:`fit`, ``history_`` holds the quantization loss ``||B - V R||_F^2`` after each iteration
    (B from the iteration's B-step, R from its R-step); it never rises.
    """

    name = "itq"
    supervised = False
    state_keys = ("mean", "W", "R")

    def __init__(self, n_bits: int, seed: int = 0, n_iter: int = 50) -> None:
        super().__init__(n_bits, seed)
        if n_iter < 0:
            raise ValueError(f"n_iter must be >= 0, got {n_iter}")
        self.n_iter = int(n_iter)
        self.history_ = np.zeros(0)

    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        k = self.n_bits
        if k > X.shape[1]:
            raise ValueError(f"ITQ needs n_bits <= feature dimension, got {k} > {X.shape[1]}")
        self.mean_, self.W_, _ = pca(X, k)
        V = (np.asarray(X, dtype=np.float64) - self.mean_) @ self.W_
        # random orthogonal initialisation, as ITQ.m: R = U of svd(randn(K, K))
        R, _, _ = np.linalg.svd(self._rng().standard_normal((k, k)))
        history = []
        for _ in range(self.n_iter):
            B = np.where(V @ R >= 0, 1.0, -1.0)
            # maximise tr(B^T V R): svd(B^T V) = U S Vt  ->  R = Vt^T U^T
            U, _, Vt = np.linalg.svd(B.T @ V)
            R = Vt.T @ U.T
            history.append(float(np.sum((B - V @ R) ** 2)))
        self.R_ = R
        self.history_ = np.asarray(history)

    def _project(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) @ self.W_) @ self.R_
