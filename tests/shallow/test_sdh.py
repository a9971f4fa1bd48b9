from __future__ import annotations

import numpy as np

from csdh.shallow import SDH
from csdh.shallow.sdh import discrete_cyclic_coordinate_descent


def naive_dcc(Q, W, n_iter=10, tol=1e-6):
    """SDH.m's B-step, literally: delete column k of B and row k of W."""
    B = np.zeros(Q.shape)
    for _ in range(n_iter):
        B0 = B.copy()
        for k in range(Q.shape[1]):
            Zk = np.delete(B, k, axis=1)
            Wk = np.delete(W, k, axis=0)
            r = Q[:, k] - Zk @ Wk @ W[k]
            B[:, k] = np.where(r >= 0, 1.0, -1.0)
        if np.linalg.norm(B - B0) < tol * np.linalg.norm(B0):
            break
    return B


def test_dcc_matches_naive_loop_and_lowers_objective():
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((200, 16))
    W = rng.standard_normal((16, 5))
    B = discrete_cyclic_coordinate_descent(Q, W, n_iter=10)
    np.testing.assert_array_equal(B, naive_dcc(Q, W, n_iter=10))

    def objective(B):
        return np.sum((B @ W) ** 2) - 2 * np.sum(B * Q)

    B_rand = np.where(rng.standard_normal(Q.shape) >= 0, 1.0, -1.0)
    assert objective(B) < objective(B_rand)


def test_sdh_multi_label(clustered, mean_ap):
    # fine label plus a coarse label shared by pairs of clusters: relevant = shares at least one label
    Y = np.hstack([clustered.Y, np.eye(5)[clustered.labels // 2]])
    q, db = clustered.query, clustered.db
    h = SDH(n_bits=16, n_anchors=300).fit(clustered.X[db], Y[db])
    codes = h.encode(clustered.X)
    rand = np.random.default_rng(0).integers(0, 256, codes.shape, dtype=np.uint8)
    assert mean_ap(codes[q], codes[db], Y[q], Y[db]) > mean_ap(rand[q], rand[db], Y[q], Y[db]) + 0.3


def test_sdh_caps_anchors_at_training_size(clustered):
    X, Y = clustered.X[:50], clustered.Y[:50]
    h = SDH(n_bits=8, n_anchors=1000).fit(X, Y)
    assert h.anchors_.shape == (50, 64) and h.P_.shape == (51, 8)
