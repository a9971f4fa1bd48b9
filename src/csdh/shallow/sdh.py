"""SDH: supervised discrete hashing.

Shen, Shen, Liu, Shao, "Supervised Discrete Hashing", CVPR 2015. With RBF anchor features
``phi(x)`` (m anchors, plus a constant 1 as bias, as in the authors' ``demo_SDH.m``), hash functions
``F(x) = P^T phi(x)``, multi-hot labels ``Y (n, C)`` and a linear classifier ``W (K, C)`` on the codes,
SDH solves (Eq. 6)

    min_{B, W, P}  ||Y - B W||^2 + lambda ||W||^2 + nu ||B - phi(X) P||^2,   B in {-1, +1}^{n x K}

by alternating (the authors' ``SDH.m``, loss 'L2'):

    G-step (Eq. 9):  W = (B^T B + lambda I)^-1 B^T Y
    F-step (Eq. 8):  P = (phi^T phi + delta I)^-1 phi^T B       (ridge delta = 1e-2 as in the demo)
    B-step (Eq. 10-16): min ||B W||^2 - 2 tr(B^T Q),  Q = Y W^T + nu phi(X) P, by discrete cyclic
                     coordinate descent: for each bit k, with B', W' the others,
                     b_k = sgn(q_k - B' W' w_k)                                    (Eq. 16)

starting from random B, W and P fitted to it, for ``n_iter`` rounds.
"""
from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from csdh.shallow.base import ShallowHasher
from csdh.shallow.kernel import mean_anchor_distance, rbf_features, sample_anchors
from csdh.shallow.registry import SHALLOW

LOG = logging.getLogger(__name__)


def discrete_cyclic_coordinate_descent(Q: np.ndarray, W: np.ndarray, n_iter: int = 10, tol: float = 1e-6) -> np.ndarray:
    """SDH's B-step: approximately ``argmin_B ||B W||_F^2 - 2 tr(B^T Q)`` over ``B in {-1, +1}^{n x K}``.

    As ``SDH.m``: start from ``B = 0``, sweep the bits ``k = 0..K-1`` setting
    ``b_k = sgn(q_k - B_{-k} W_{-k} w_k)`` (sgn(0) = +1), stop after ``n_iter`` sweeps or when a sweep
    changes ``B`` by less than ``tol`` relative (Frobenius).

    Args:
        Q: ``(n, K)``.
        W: ``(K, C)`` classifier; ``w_k`` is its row ``k``.

    Returns:
        float64 ``(n, K)`` in {-1, +1}.
    """
    n, k_bits = Q.shape
    B = np.zeros((n, k_bits))
    G = W @ W.T  # B_{-k} W_{-k} w_k = B G[:, k] - b_k G[k, k]
    for _ in range(n_iter):
        B0 = B.copy()
        for k in range(k_bits):
            r = Q[:, k] - B @ G[:, k] + B[:, k] * G[k, k]
            B[:, k] = np.where(r >= 0, 1.0, -1.0)
        if np.linalg.norm(B - B0) < tol * np.linalg.norm(B0):
            break
    return B


@SHALLOW.register("sdh")
class SDH(ShallowHasher):
    """Supervised discrete hashing on RBF anchor features.

    Args:
        n_bits: K, the code length (multiple of 8).
        seed: seed of the anchor sample and the random initial codes.
        n_anchors: m, anchors drawn from the training data (1000 in the paper; capped at n).
        lam: lambda, the classifier's ridge (1).
        nu: weight of the fitting term ``||B - F(X)||^2`` (1e-5).
        ridge: delta, the ridge of the projection's regression (1e-2, the authors' demo).
        n_iter: outer rounds of B-, G- and F-steps (5).
        n_dcc_iter: DCC sweeps per B-step (10, ``SDH.m``).

    The kernel width sigma is the mean Euclidean distance between training points and anchors.
    """

    name = "sdh"
    supervised = True
    state_keys = ("anchors", "sigma", "P")

    def __init__(
        self,
        n_bits: int,
        seed: int = 0,
        n_anchors: int = 1000,
        lam: float = 1.0,
        nu: float = 1e-5,
        ridge: float = 1e-2,
        n_iter: int = 5,
        n_dcc_iter: int = 10,
    ) -> None:
        super().__init__(n_bits, seed)
        if n_anchors < 1 or n_iter < 0 or n_dcc_iter < 1:
            raise ValueError("SDH needs n_anchors >= 1, n_iter >= 0 and n_dcc_iter >= 1")
        if lam <= 0 or nu < 0 or ridge <= 0:
            raise ValueError("SDH needs lam > 0, nu >= 0 and ridge > 0")
        self.n_anchors = int(n_anchors)
        self.lam = float(lam)
        self.nu = float(nu)
        self.ridge = float(ridge)
        self.n_iter = int(n_iter)
        self.n_dcc_iter = int(n_dcc_iter)

    def _features(self, X: np.ndarray) -> np.ndarray:
        phi = rbf_features(X, self.anchors_, float(self.sigma_))
        return np.hstack([phi, np.ones((phi.shape[0], 1))])

    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        assert Y is not None
        rng = self._rng()
        if self.n_anchors > X.shape[0]:
            LOG.warning("SDH: %d anchors requested but only %d training vectors; using all", self.n_anchors, X.shape[0])
        self.anchors_ = sample_anchors(X, self.n_anchors, rng)
        self.sigma_ = np.array(mean_anchor_distance(X, self.anchors_))
        phi = self._features(X)
        gram = phi.T @ phi
        gram[np.diag_indices_from(gram)] += self.ridge
        eye_k = self.lam * np.eye(self.n_bits)

        B = np.where(rng.standard_normal((X.shape[0], self.n_bits)) >= 0, 1.0, -1.0)
        W = np.linalg.solve(B.T @ B + eye_k, B.T @ Y)
        P = np.linalg.solve(gram, phi.T @ B)
        for it in range(self.n_iter):
            F = phi @ P
            Q = Y @ W.T + self.nu * F
            B = discrete_cyclic_coordinate_descent(Q, W, self.n_dcc_iter)
            if LOG.isEnabledFor(logging.DEBUG):
                LOG.debug("SDH round %d: ||Y - BW||^2 = %.4g, ||B - F(X)||^2 = %.4g (before the W, P updates)",
                          it, np.sum((Y - B @ W) ** 2), np.sum((B - F) ** 2))
            W = np.linalg.solve(B.T @ B + eye_k, B.T @ Y)
            P = np.linalg.solve(gram, phi.T @ B)
        self.P_ = P

    def _project(self, X: np.ndarray) -> np.ndarray:
        return self._features(X) @ self.P_
