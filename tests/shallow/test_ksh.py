from __future__ import annotations

import numpy as np

from csdh.shallow import KSH
from csdh.shallow.ksh import refine_projection, smoothed_cost, smoothed_gradient


def _problem(seed=0, l=60, m=12, dtype=np.float64):
    rng = np.random.default_rng(seed)
    K = rng.standard_normal((l, m))
    lab = rng.integers(0, 3, l)
    R = np.where(lab[:, None] == lab[None, :], 8.0, -8.0).astype(dtype)
    return K, R, rng.standard_normal(m) * 0.3


def test_smoothed_gradient_matches_finite_differences():
    K, R, a = _problem()
    cost, psi, r_psi = smoothed_cost(K, R, a)
    np.testing.assert_allclose(psi, 2 / (1 + np.exp(-K @ a)) - 1, atol=1e-12)
    grad = smoothed_gradient(K, psi, r_psi)
    eps = 1e-5
    num = np.array([
        (smoothed_cost(K, R, a + eps * e)[0] - smoothed_cost(K, R, a - eps * e)[0]) / (2 * eps)
        for e in np.eye(len(a))
    ])
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-4)


def test_refinement_lowers_the_smoothed_cost():
    K, R, a = _problem(1, dtype=np.float32)  # float32, as KSH stores its residue
    a1 = refine_projection(K, R, a, max_iter=30)
    assert smoothed_cost(K, R, a1)[0] < smoothed_cost(K, R, a)[0]


def test_ksh_multi_label_similarity(clustered, mean_ap):
    Y = np.hstack([clustered.Y, np.eye(5)[clustered.labels // 2]])
    q, db = clustered.query, clustered.db
    h = KSH(n_bits=16, n_anchors=150, n_labeled=400, n_grad_iter=10).fit(clustered.X[db], Y[db])
    assert h.A_.shape == (150, 16) and h.kmean_.shape == (150,)
    codes = h.encode(clustered.X)
    rand = np.random.default_rng(0).integers(0, 256, codes.shape, dtype=np.uint8)
    assert mean_ap(codes[q], codes[db], Y[q], Y[db]) > mean_ap(rand[q], rand[db], Y[q], Y[db]) + 0.3
