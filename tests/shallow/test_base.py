"""Behaviour every shallow method shares: registry, code format, persistence, input validation, quality."""
from __future__ import annotations

import numpy as np
import pytest

from csdh.codes import pack
from csdh.errors import UserError
from csdh.shallow import KSH, LSH, SDH, SHALLOW, NotFittedError
from shallow_data import FAST_KWARGS, N_BITS

METHODS = ["lsh", "pcah", "itq", "sh", "sdh", "ksh"]


def test_registry_lists_all_methods():
    assert SHALLOW.names() == sorted(METHODS)
    for name in METHODS:
        assert SHALLOW.get(name).name == name
    with pytest.raises(UserError, match="known: .*itq"):
        SHALLOW.create("nope", n_bits=8)


@pytest.mark.parametrize("name", METHODS)
def test_encode_is_packed_sign_of_project(name, fitted, clustered):
    h = fitted[name]
    X = clustered.X[:50]
    codes = h.encode(X)
    proj = h.project(X)
    assert codes.dtype == np.uint8 and codes.shape == (50, N_BITS // 8)
    assert proj.shape == (50, N_BITS) and proj.dtype == np.float64
    np.testing.assert_array_equal(codes, pack(proj))
    # bit j of item i is byte j // 8, bit position j % 8 (least significant first), sign(0) = +1
    for i in range(3):
        for j in range(N_BITS):
            assert bool((codes[i, j // 8] >> (j % 8)) & 1) == (proj[i, j] >= 0)


@pytest.mark.parametrize("name", METHODS)
def test_state_dict_round_trip(name, fitted, clustered, tmp_path):
    h = fitted[name]
    path = tmp_path / f"{name}.npz"
    np.savez(path, **h.state_dict())
    with np.load(path, allow_pickle=False) as f:
        state = dict(f)
    h2 = SHALLOW.create(name, n_bits=N_BITS, seed=123).load_state_dict(state)
    np.testing.assert_array_equal(h2.encode(clustered.X), h.encode(clustered.X))
    assert h2.n_features_ == clustered.X.shape[1]


def test_load_state_dict_checks_method_and_bits(fitted):
    state = fitted["itq"].state_dict()
    with pytest.raises(ValueError, match="'itq'"):
        SHALLOW.create("pcah", n_bits=N_BITS).load_state_dict(state)
    with pytest.raises(ValueError, match="bits"):
        SHALLOW.create("itq", n_bits=N_BITS + 8).load_state_dict(state)
    del state["R"]
    with pytest.raises(ValueError, match="missing R"):
        SHALLOW.create("itq", n_bits=N_BITS).load_state_dict(state)


@pytest.mark.parametrize("name", METHODS)
def test_fit_is_deterministic_and_accepts_float32(name, clustered):
    X, Y = clustered.X[:400], clustered.Y[:400]
    kw = dict(FAST_KWARGS.get(name, {}), n_bits=16, seed=3)
    if name == "ksh":
        kw["n_labeled"] = 200
    a = SHALLOW.create(name, **kw).fit(X, Y)
    b = SHALLOW.create(name, **kw).fit(X, Y)
    np.testing.assert_array_equal(a.encode(X), b.encode(X))
    c = SHALLOW.create(name, **kw).fit(X.astype(np.float32), Y)
    assert c.encode(X.astype(np.float32)).shape == (400, 2)


@pytest.mark.parametrize("name", METHODS)
def test_beats_random_codes_by_a_wide_margin(name, scores):
    assert scores["random"] < 0.15
    assert scores[name] >= scores["random"] + 0.2, scores


def test_supervised_beat_unsupervised_lsh(scores):
    assert scores["sdh"] > scores["lsh"] + 0.1, scores
    assert scores["ksh"] > scores["lsh"] + 0.1, scores


def test_supervised_flag():
    assert {n for n in METHODS if SHALLOW.get(n).supervised} == {"sdh", "ksh"}


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", METHODS)
def test_encode_before_fit_raises(name):
    h = SHALLOW.create(name, n_bits=16)
    with pytest.raises(NotFittedError, match="not fitted"):
        h.encode(np.zeros((2, 8)))
    with pytest.raises(NotFittedError):
        h.state_dict()


@pytest.mark.parametrize("n_bits", [0, 12, -8, 33])
@pytest.mark.parametrize("name", METHODS)
def test_bits_must_be_a_multiple_of_8(name, n_bits):
    with pytest.raises(UserError, match="multiple of 8"):
        SHALLOW.create(name, n_bits=n_bits)


@pytest.mark.parametrize("name", METHODS)
def test_wrong_feature_dim_raises(name, fitted, clustered):
    with pytest.raises(ValueError, match="64-d features, got 63-d"):
        fitted[name].encode(clustered.X[:5, :63])


def test_bad_inputs_raise(clustered):
    X, Y = clustered.X[:100], clustered.Y[:100]
    h = LSH(n_bits=8)
    with pytest.raises(ValueError, match="2-D"):
        h.fit(X[0])
    with pytest.raises(ValueError, match="floating"):
        h.fit(X.astype(np.int64))
    with pytest.raises(ValueError, match="NaN"):
        h.fit(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="at least 2"):
        h.fit(X[:1])
    with pytest.raises(ValueError, match="labels must be"):
        h.fit(X, Y[:50])
    with pytest.raises(ValueError, match="0 or 1"):
        h.fit(X, 2 * Y)
    for cls in (SDH, KSH):
        with pytest.raises(ValueError, match="supervised"):
            cls(n_bits=8).fit(X)
    with pytest.raises(ValueError, match="n_bits <= feature dimension"):
        SHALLOW.create("itq", n_bits=16).fit(X[:, :8])
    with pytest.raises(ValueError, match="n_bits <= feature dimension"):
        SHALLOW.create("pcah", n_bits=16).fit(X[:, :8])


def test_top_eigh_numpy_fallback_matches_scipy():
    from csdh.shallow.base import _top_eigh_numpy, top_eigh

    rng = np.random.default_rng(0)
    M = rng.standard_normal((30, 12))
    A = M.T @ M
    N = rng.standard_normal((40, 12))
    B = N.T @ N + np.eye(12)
    for BB in (None, B):
        v1, x1 = top_eigh(A, 3, BB)
        v2, x2 = _top_eigh_numpy(A, 3, BB)
        assert np.all(np.diff(v1) <= 0)
        np.testing.assert_allclose(v1, v2, rtol=1e-10)
        np.testing.assert_allclose(np.abs(np.sum(x1 * x2, axis=0)) / np.sum(x1 * x1, axis=0), 1.0, atol=1e-8)
        lhs, rhs = A @ x1, (x1 if BB is None else BB @ x1) * v1
        np.testing.assert_allclose(lhs, rhs, atol=1e-8 * np.abs(v1).max())
