from __future__ import annotations

import numpy as np

from csdh.shallow import ITQ


def test_itq_rotation_orthogonal_and_loss_never_rises(clustered):
    X = clustered.X
    h = ITQ(n_bits=32, seed=0, n_iter=50).fit(X)
    R = h.R_
    np.testing.assert_allclose(R.T @ R, np.eye(32), atol=1e-6)
    hist = h.history_
    assert hist.shape == (50,)
    assert np.all(np.diff(hist) <= 1e-9 * hist[0]), hist
    assert hist[-1] < hist[0]


def test_itq_history_is_the_quantization_loss(clustered):
    X = clustered.X
    h = ITQ(n_bits=16, seed=1, n_iter=5).fit(X)
    V = (X - h.mean_) @ h.W_
    B = np.where(V @ h.R_ >= 0, 1.0, -1.0)
    # one more B-step with the final R can only lower the loss
    assert np.sum((B - V @ h.R_) ** 2) <= h.history_[-1] + 1e-9
    # and the rotation lowers it below PCAH's (R = I)
    assert h.history_[-1] < np.sum((np.where(V >= 0, 1.0, -1.0) - V) ** 2)
