from __future__ import annotations

import numpy as np

from csdh.shallow import LSH


def test_seeded_lsh_is_reproducible(clustered):
    X = clustered.X
    a = LSH(n_bits=32, seed=7).fit(X).encode(X)
    b = LSH(n_bits=32, seed=7).fit(X).encode(X)
    c = LSH(n_bits=32, seed=8).fit(X).encode(X)
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.3


def test_lsh_hyperplanes_pass_through_the_mean(clustered):
    X = clustered.X
    h = LSH(n_bits=16, seed=0).fit(X)
    np.testing.assert_allclose(h.mean_, X.mean(axis=0))
    np.testing.assert_allclose(h.project(X), (X - X.mean(axis=0)) @ h.W_)
    # a feature shift moves the hyperplanes with it
    np.testing.assert_array_equal(LSH(n_bits=16).fit(X + 5.0).encode(X + 5.0), h.encode(X))
