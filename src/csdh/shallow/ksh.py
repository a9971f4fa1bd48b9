"""KSH: supervised hashing with kernels.

Liu, Wang, Ji, Jiang, Chang, "Supervised Hashing with Kernels", CVPR 2012. Hash functions
``h_k(x) = sgn(a_k^T kbar(x))`` on centred RBF anchor features ``kbar(x) = k(x) - mean_train k``
(Eq. 3-4). On ``l`` labelled items with ``S_ij = +1`` if i and j share at least one label, else -1,
code inner products should match ``K S`` (Eq. 7). Bits are learnt greedily (Eq. 9-12): with the residue
``R_{k-1} = K S - sum_{t<k} h_t h_t^T`` (``h_t`` the bits already fixed on the labelled items), bit k
maximises ``h_k^T R_{k-1} h_k``:

1. spectral relaxation (Eq. 11): ``a_k^0`` is the top generalized eigenvector of
   ``Kl^T R_{k-1} Kl a = lambda Kl^T Kl a``, scaled so that ``||Kl a||^2 = l``;
2. sigmoid smoothing (Eq. 12): minimise ``-psi^T R_{k-1} psi`` with ``psi = 2 / (1 + exp(-Kl a)) - 1``
   by Nesterov's accelerated gradient with backtracking, from ``a_k^0`` (the authors'
   ``OptProjectionFast.m``);
3. keep whichever of ``a_k^0`` and the refined ``a_k`` has the larger ``h^T R_{k-1} h``.

Defaults and deviations from the authors' ``trainKSH``: m = 300 anchors and l = 2000 labelled items
as in the paper; the gradient refinement runs at most ``n_grad_iter = 50`` steps (500 in the reference,
where the stopping test ``|delta cost| / l <= 1e-2`` rarely fires first) so that 48 bits fit on 5,000
items in seconds; sigma is the mean Euclidean anchor distance (as in :mod:`csdh.shallow.sdh`); a
tiny ridge keeps ``Kl^T Kl`` positive definite; the residue is stored in float32 (its entries are
integers of magnitude <= 2K, exact in float32).
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple

import numpy as np
from csdh.shallow.base import ShallowHasher, top_eigh
from csdh.shallow.kernel import mean_anchor_distance, rbf_features, sample_anchors
from csdh.shallow.registry import SHALLOW

LOG = logging.getLogger(__name__)


def smoothed_cost(K: np.ndarray, R: np.ndarray, a: np.ndarray) -> Tuple[float, np.ndarray, np.ndarray]:
    """KSH's smoothed objective ``-psi^T R psi``, ``psi = 2 sigmoid(K a) - 1 = tanh(K a / 2)``.

    Args:
        K: ``(l, m)`` centred kernel features of the labelled items.
        R: ``(l, l)`` symmetric residue.
        a: ``(m,)`` projection.

    Returns:
        ``(cost, psi, R psi)``.
    """
    psi = np.tanh(0.5 * (K @ a))
    r_psi = (R @ psi.astype(R.dtype)).astype(np.float64)
    return -float(psi @ r_psi), psi, r_psi


def smoothed_gradient(K: np.ndarray, psi: np.ndarray, r_psi: np.ndarray) -> np.ndarray:
    """Gradient of :func:`smoothed_cost` in ``a``: ``-K^T ((R psi) * (1 - psi^2))``."""
    return -K.T @ (r_psi * (1.0 - psi**2))


def refine_projection(K: np.ndarray, R: np.ndarray, a0: np.ndarray, max_iter: int, tol: float = 1e-2) -> np.ndarray:
    """Minimise :func:`smoothed_cost` from ``a0`` by accelerated gradient with backtracking (a port of
    ``OptProjectionFast.m``): stops after ``max_iter`` steps, when no step size passes the sufficient-
    decrease test, or when the cost changes by at most ``tol * l``."""
    l = K.shape[0]
    a_prev = a_cur = np.asarray(a0, dtype=np.float64)
    cost_prev, _, _ = smoothed_cost(K, R, a_cur)
    delta_prev, delta_cur, beta = 0.0, 1.0, 1.0
    for _ in range(max_iter):
        v = a_cur + (delta_prev - 1.0) / delta_cur * (a_cur - a_prev)
        gv, psi, r_psi = smoothed_cost(K, R, v)
        grad = smoothed_gradient(K, psi, r_psi)
        for j in range(51):
            b = 2.0**j * beta
            z = v - grad / b
            gz, _, _ = smoothed_cost(K, R, z)
            dif = z - v
            if gz <= gv + grad @ dif + 0.5 * b * (dif @ dif):
                beta = b
                a_prev, a_cur = a_cur, z
                break
        else:
            break
        delta_prev, delta_cur = delta_cur, (1.0 + np.sqrt(1.0 + 4.0 * delta_cur**2)) / 2.0
        if abs(gz - cost_prev) / l <= tol:
            break
        cost_prev = gz
    return a_cur


@SHALLOW.register("ksh")
class KSH(ShallowHasher):
    """Kernel-based supervised hashing, learnt bit by bit on a labelled subset.

    Args:
        n_bits: K, the code length (multiple of 8).
        seed: seed of the anchor and labelled-subset samples.
        n_anchors: m, anchors drawn from the training data (300; capped at n).
        n_labeled: l, labelled items drawn from the training data for the pairwise loss (2000; capped at n).
        n_grad_iter: most accelerated-gradient steps per bit (50; the reference allows 500).
        ridge: added to ``Kl^T Kl`` relative to its mean diagonal, for positive definiteness (1e-6).
    """

    name = "ksh"
    supervised = True
    state_keys = ("anchors", "sigma", "kmean", "A")

    def __init__(
        self,
        n_bits: int,
        seed: int = 0,
        n_anchors: int = 300,
        n_labeled: int = 2000,
        n_grad_iter: int = 50,
        ridge: float = 1e-6,
    ) -> None:
        super().__init__(n_bits, seed)
        if n_anchors < 1 or n_labeled < 2 or n_grad_iter < 0 or ridge < 0:
            raise ValueError("KSH needs n_anchors >= 1, n_labeled >= 2, n_grad_iter >= 0 and ridge >= 0")
        self.n_anchors = int(n_anchors)
        self.n_labeled = int(n_labeled)
        self.n_grad_iter = int(n_grad_iter)
        self.ridge = float(ridge)

    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        assert Y is not None
        rng = self._rng()
        n, r = X.shape[0], self.n_bits
        labeled = np.sort(rng.choice(n, size=min(self.n_labeled, n), replace=False))
        self.anchors_ = sample_anchors(X, self.n_anchors, rng)
        self.sigma_ = np.array(mean_anchor_distance(X, self.anchors_))
        k_train = rbf_features(X, self.anchors_, float(self.sigma_))
        self.kmean_ = k_train.mean(axis=0)
        K = k_train[labeled] - self.kmean_
        l, m = K.shape
        L = Y[labeled]
        # residue R_0 = r S, S_ij = +1 if i, j share a label else -1; integers, exact in float32
        R = np.where(L @ L.T > 0, float(r), float(-r)).astype(np.float32)
        RM = K.T @ K
        RM[np.diag_indices_from(RM)] += self.ridge * max(float(np.trace(RM)) / m, 1e-12)
        LM = K.T @ (R @ K.astype(np.float32)).astype(np.float64)
        A = np.zeros((m, r))
        y = None
        for k in range(r):
            if y is not None:
                R -= np.outer(y, y).astype(np.float32)
                u = K.T @ y
                LM -= np.outer(u, u)
            LM = 0.5 * (LM + LM.T)
            _, vec = top_eigh(LM, 1, RM)
            a0 = vec[:, 0] * np.sqrt(l / float(vec[:, 0] @ RM @ vec[:, 0]))
            a1 = refine_projection(K, R, a0, self.n_grad_iter)
            y0 = np.where(K @ a0 >= 0, 1.0, -1.0)
            y1 = np.where(K @ a1 >= 0, 1.0, -1.0)
            f0 = float(y0 @ (R @ y0.astype(np.float32)).astype(np.float64))
            f1 = float(y1 @ (R @ y1.astype(np.float32)).astype(np.float64))
            A[:, k], y = (a1, y1) if f1 > f0 else (a0, y0)
            LOG.debug("KSH bit %d: h^T R h = %.4g (spectral) / %.4g (refined)", k, f0, f1)
        self.A_ = A

    def _project(self, X: np.ndarray) -> np.ndarray:
        return (rbf_features(X, self.anchors_, float(self.sigma_)) - self.kmean_) @ self.A_
