"""SH: spectral hashing.

Weiss, Torralba, Fergus, "Spectral Hashing", NIPS 2008. Following the authors' reference MATLAB
``trainSH.m`` / ``compressSH.m``:

1. PCA: ``npca = min(K, d)`` leading directions ``pc`` of the covariance; ``Z = X pc`` (the mean is not
   removed; only the interval below moves).
2. Fit a uniform distribution on ``[a_j, b_j] = [min Z_j, max Z_j]`` along each direction.
3. The eigenfunctions of the 1-D Laplacian on ``[a, b]`` are ``Phi_m(x) = sin(pi/2 + m pi / (b - a) (x - a))``
   with eigenvalue ``(m pi / (b - a))^2`` (Eq. 6-7 of the paper, up to the constant). Enumerate modes
   ``m = 1 .. ceil((K + 1) (b_j - a_j) / max(b - a))`` along each direction, sort all (mode, direction)
   pairs by eigenvalue and keep the K smallest (skipping the constant mode ``m = 0``).
4. Bit ``i``: ``sgn( prod_j sin(pi/2 + omega_ij (Z_j - a_j)) )``, ``omega_ij = modes_ij pi / (b_j - a_j)``
   (one nonzero mode per row, so the product has one non-trivial factor).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from csdh.shallow.base import ShallowHasher, pca
from csdh.shallow.registry import SHALLOW


@SHALLOW.register("sh")
class SH(ShallowHasher):
    """Spectral hashing with uniform-distribution eigenfunctions along PCA directions.

    Args:
        n_bits: K, the code length (multiple of 8).
        seed: unused (the method is deterministic), kept for a uniform interface.
    """

    name = "sh"
    supervised = False
    state_keys = ("pc", "mn", "mx", "modes")

    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        k = self.n_bits
        npca = min(k, X.shape[1])
        _, pc, _ = pca(X, npca)
        Z = np.asarray(X, dtype=np.float64) @ pc
        eps = np.finfo(np.float64).eps
        mn = Z.min(axis=0) - eps
        mx = Z.max(axis=0) + eps
        R = mx - mn
        max_mode = np.ceil((k + 1) * R / R.max()).astype(np.int64)
        n_modes = int(max_mode.sum() - len(max_mode) + 1)
        modes = np.ones((n_modes, npca))
        m = 1  # row 0 is the all-ones row, the constant mode after "- 1" below
        for i in range(npca):
            modes[m : m + max_mode[i] - 1, i] = np.arange(2, max_mode[i] + 1)
            m += max_mode[i] - 1
        modes -= 1
        omegas = modes * (np.pi / R)
        eig = np.sum(omegas**2, axis=1)
        order = np.argsort(eig, kind="stable")
        self.pc_ = pc
        self.mn_ = mn
        self.mx_ = mx
        self.modes_ = modes[order[1 : k + 1]]

    def _project(self, X: np.ndarray) -> np.ndarray:
        Z = np.asarray(X, dtype=np.float64) @ self.pc_ - self.mn_
        omegas = self.modes_ * (np.pi / (self.mx_ - self.mn_))  # (K, npca)
        U = np.empty((X.shape[0], self.n_bits))
        for i in range(self.n_bits):
            active = np.flatnonzero(omegas[i])  # sin(pi/2 + 0) = 1 elsewhere
            U[:, i] = np.prod(np.sin(Z[:, active] * omegas[i, active] + np.pi / 2), axis=1)
        return U
