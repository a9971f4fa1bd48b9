from __future__ import annotations

import math

import numpy as np

from csdh.shallow import SH


def test_sh_modes_are_the_smallest_eigenvalue_pairs(clustered):
    X = clustered.X
    k = 24
    h = SH(n_bits=k).fit(X)
    R = h.mx_ - h.mn_
    # naive enumeration of (direction, mode) pairs as in trainSH.m, ordered by eigenvalue (stable)
    pairs = []
    for j in range(len(R)):
        for m in range(1, math.ceil((k + 1) * R[j] / R.max())):
            pairs.append(((m * math.pi / R[j]) ** 2, j, m))
    pairs = sorted(pairs, key=lambda p: p[0])[:k]
    expected = np.zeros((k, len(R)))
    for i, (_, j, m) in enumerate(pairs):
        expected[i, j] = m
    np.testing.assert_array_equal(h.modes_, expected)
    # the first bit is mode 1 along the direction of widest range: it splits that range at its middle
    j = int(np.argmax(R))
    assert h.modes_[0, j] == 1 and np.count_nonzero(h.modes_[0]) == 1
    z = X @ h.pc_[:, j]
    np.testing.assert_array_equal(h.project(X)[:, 0] >= 0, z - h.mn_[j] <= R[j] / 2)

def test_sh_project_matches_compressSH_loop(clustered):
    X = clustered.X[:40]
    h = SH(n_bits=16).fit(clustered.X)
    Z = X @ h.pc_ - h.mn_
    omega0 = np.pi / (h.mx_ - h.mn_)
    U = np.ones((len(X), 16))
    for i in range(16):
        for j in range(Z.shape[1]):  # product over every direction, modes of 0 included
            U[:, i] *= np.sin(Z[:, j] * h.modes_[i, j] * omega0[j] + np.pi / 2)
    np.testing.assert_allclose(h.project(X), U, atol=1e-12)


def test_sh_handles_more_bits_than_dimensions():
    X = np.random.default_rng(0).standard_normal((300, 4))
    h = SH(n_bits=16).fit(X)
    assert h.pc_.shape == (4, 4) and h.modes_.shape == (16, 4)
    assert h.encode(X).shape == (300, 2)
