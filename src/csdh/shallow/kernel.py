"""RBF anchor-kernel features shared by the kernel methods (SDH, KSH).

``phi(x) = [exp(-||x - a_1||^2 / (2 sigma^2)), ..., exp(-||x - a_m||^2 / (2 sigma^2))]`` for ``m``
anchors sampled from the training data (Liu et al., CVPR 2012, Sec. 3; Shen et al., CVPR 2015, Sec. 2.4).
"""
from __future__ import annotations

import numpy as np


def squared_distances(X: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``(n, m)`` squared Euclidean distances, computed as ``|x|^2 + |a|^2 - 2 x.a`` and clipped at 0.

    The product runs in float32 when both inputs are float32 (about twice as fast; the kernel values
    it feeds do not need more), in float64 otherwise.
    """
    dtype = np.float32 if X.dtype == np.float32 and anchors.dtype == np.float32 else np.float64
    X = np.asarray(X, dtype=dtype)
    A = np.asarray(anchors, dtype=dtype)
    d2 = np.einsum("ij,ij->i", X, X)[:, None] + np.einsum("ij,ij->i", A, A)[None, :]
    d2 -= 2.0 * (X @ A.T)
    np.maximum(d2, 0.0, out=d2)
    return d2


def sample_anchors(X: np.ndarray, n_anchors: int, rng: np.random.Generator) -> np.ndarray:
    """``min(n_anchors, n)`` distinct rows of ``X`` drawn without replacement, as an ``(m, d)`` copy."""
    n = X.shape[0]
    if n_anchors < 1:
        raise ValueError(f"n_anchors must be >= 1, got {n_anchors}")
    idx = np.sort(rng.choice(n, size=min(n_anchors, n), replace=False))
    return np.array(X[idx])


def mean_anchor_distance(X: np.ndarray, anchors: np.ndarray) -> float:
    """The kernel width: the mean Euclidean distance between the rows of ``X`` and the anchors."""
    sigma = float(np.sqrt(squared_distances(X, anchors)).mean(dtype=np.float64))
    return sigma if sigma > 0 else 1.0


def rbf_features(X: np.ndarray, anchors: np.ndarray, sigma: float) -> np.ndarray:
    """float64 ``(n, m)`` features ``exp(-||x - a_j||^2 / (2 sigma^2))``."""
    d2 = squared_distances(X, anchors)
    return np.exp(-d2.astype(np.float64) / (2.0 * float(sigma) ** 2))
