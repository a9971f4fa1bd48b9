from __future__ import annotations

import numpy as np

from csdh.shallow import PCAH


def test_pcah_uses_the_leading_principal_directions(clustered):
    X = clustered.X
    h = PCAH(n_bits=16).fit(X)
    np.testing.assert_allclose(h.W_.T @ h.W_, np.eye(16), atol=1e-10)
    vals, vecs = np.linalg.eigh(np.cov(X, rowvar=False))
    top = vecs[:, ::-1][:, :16]
    # same directions up to sign
    np.testing.assert_allclose(np.abs(np.sum(top * h.W_, axis=0)), 1.0, atol=1e-8)
    proj = h.project(X)
    np.testing.assert_allclose(proj.var(axis=0, ddof=1), vals[::-1][:16], rtol=1e-8)
