"""Helpers of the scripts under benchmarks/ against the library's own metrics."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from classifier_ceiling import mean_ap_by_score  # noqa: E402
from code_accuracy import centre_accuracy, codes_at  # noqa: E402
from db_neighbours import augment, nearest  # noqa: E402
from posterior_codes import class_centres, code_posterior  # noqa: E402
from pseudo_label_accuracy import kept_accuracy  # noqa: E402
from query_side import code_covariance, query_rankings, shaped_queries  # noqa: E402

from csdh.codes import code_moment, pack, shaping_error, sign, unpack  # noqa: E402
from csdh.metrics import mean_average_precision  # noqa: E402


def test_score_ranking_of_sign_codes_equals_hamming_map():
    rng = np.random.default_rng(0)
    q = np.where(rng.random((30, 16)) < 0.5, -1.0, 1.0).astype(np.float32)
    d = np.where(rng.random((200, 16)) < 0.5, -1.0, 1.0).astype(np.float32)
    ql, dl = rng.integers(0, 4, 30), rng.integers(0, 4, 200)
    eye = np.eye(4, dtype=np.uint8)
    # the inner product is K - 2 * Hamming, so both rank alike, ties by database position
    expected = mean_average_precision(pack(q), pack(d), eye[ql], eye[dl])
    assert mean_ap_by_score(q, d, ql, dl, chunk=7) == pytest.approx(expected, abs=1e-12)


def test_centre_accuracy():
    train = np.array([[1, 1], [1, 1], [-1, -1]], dtype=np.float32)
    codes = np.array([[1, 1], [-1, -1], [1, -1]], dtype=np.float32)
    # centres (1, 1) for class 0 and (-1, -1) for class 1; the tie (1, -1) goes to the first class
    assert centre_accuracy(train, np.array([0, 0, 1]), codes, np.array([0, 0, 0])) == pytest.approx(2 / 3)


def test_codes_at_reads_database_rows_and_encodes_only_what_is_missing():
    d_pos = np.array([7, 2, 5])
    d = np.arange(6, dtype=np.float32).reshape(3, 2)

    class Model:
        def encode_pool(self, pool, positions):
            return np.full((len(positions), 2), -1.0, dtype=np.float32)

    pool = list(range(10))
    np.testing.assert_array_equal(codes_at(np.array([5, 7]), d, d_pos, Model(), pool), d[[2, 0]])
    np.testing.assert_array_equal(codes_at(np.array([5, 3]), d, d_pos, Model(), pool), -np.ones((2, 2)))


def test_class_centres_are_mean_sign_codes_and_zero_for_an_absent_class():
    h = np.array([[0.2, -0.5], [-0.1, -0.9], [0.0, 0.3]], dtype=np.float32)
    centres = class_centres(h, np.array([0, 0, 2]), 3)
    # sign(0) = +1: row 2 is (+1, +1)
    np.testing.assert_allclose(centres, [[0.0, -1.0], [0.0, 0.0], [1.0, 1.0]])


def test_code_posterior_against_a_loop():
    rng = np.random.default_rng(1)
    h = np.tanh(rng.standard_normal((5, 8))).astype(np.float32)
    centres = rng.uniform(-1, 1, (3, 8))
    p = code_posterior(h, centres, tau=4.0)
    for i in range(5):
        e = [np.exp(4.0 * float(h[i] @ centres[c]) / 8) for c in range(3)]
        np.testing.assert_allclose(p[i], np.array(e) / sum(e), rtol=1e-10)
    # a large temperature stays finite and puts all mass on the nearest centre
    hard = code_posterior(h, centres, tau=1e6)
    assert np.isfinite(hard).all()
    np.testing.assert_array_equal(hard.argmax(1), (h @ centres.T).argmax(1))


def test_code_covariance_is_the_population_covariance_of_the_signs():
    h = np.random.default_rng(3).normal(size=(40, 8)).astype(np.float32)
    assert np.allclose(code_covariance(h), np.cov(sign(h).astype(np.float64), rowvar=False, bias=True))


def test_shaped_queries_with_identity_are_plain_signs_and_otherwise_lower_the_error():
    rng = np.random.default_rng(4)
    h = np.tanh(rng.normal(size=(25, 16))).astype(np.float32)
    assert np.array_equal(shaped_queries(h, np.eye(16)), pack(h))
    G = code_moment(np.tanh(rng.normal(size=(60, 16)) + rng.normal(size=(1, 16))))
    shaped = shaped_queries(h, G)
    assert np.all(shaping_error(unpack(shaped, 16), h, G) <= shaping_error(sign(h), h, G) + 1e-9)


def test_query_rankings_sign_is_hamming_map_and_binary_real_valued_queries_rank_alike():
    rng = np.random.default_rng(5)
    q = np.tanh(rng.normal(size=(20, 16))).astype(np.float32)
    d = np.where(rng.random((150, 16)) < 0.5, -1.0, 1.0).astype(np.float32)
    ql, dl = rng.integers(0, 3, 20), rng.integers(0, 3, 150)
    eye = np.eye(3, dtype=np.uint8)
    G = code_moment(d)
    out = query_rankings(q, pack(d), ql, dl, G, code_covariance(d))
    assert out["sign"] == pytest.approx(mean_average_precision(pack(q), pack(d), eye[ql], eye[dl]), abs=1e-12)
    assert out["real_valued"] == pytest.approx(mean_ap_by_score(q, d, ql, dl), abs=1e-12)
    # with queries that are already signs, the real-valued ranking is the Hamming ranking
    signs = sign(q).astype(np.float32)
    assert query_rankings(signs, pack(d), ql, dl, G, G)["real_valued"] == pytest.approx(out["sign"], abs=1e-12)


def test_nearest_database_neighbours_against_a_full_sort():
    rng = np.random.default_rng(0)
    x = np.tanh(rng.normal(size=(300, 16))).astype(np.float32)
    x[7] = x[3]  # an identical pair: the tie goes to the earlier position
    idx, sim = nearest(x, 5, chunk=64)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    S = u @ u.T
    for i in range(len(x)):
        want = sorted(range(len(x)), key=lambda j: (-S[i, j], j))[:5]
        assert list(idx[i]) == want, i
        assert np.allclose(sim[i], S[i, want], atol=1e-6)
    assert idx[7, 0] == 3 and idx[3, 0] == 3 and idx[5, 0] == 5


def test_database_augmentation_is_the_weighted_mean_of_the_neighbours():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 8)).astype(np.float32)
    idx, sim = nearest(x, 4)
    assert np.allclose(augment(x, idx, sim, 1, 0.0), x)
    assert np.allclose(augment(x, idx, sim, 3, 0.0)[9], x[idx[9, :3]].mean(0), atol=1e-6)
    w = np.clip(sim[9, :4], 0, None) ** 3
    assert np.allclose(augment(x, idx, sim, 4, 3.0)[9], (w[:, None] * x[idx[9]]).sum(0) / w.sum(), atol=1e-6)


def test_kept_accuracy_keeps_the_most_confident_with_ties_to_the_earlier_image():
    confidence = np.array([0.9, 0.5, 0.9, 0.99, 0.2, 0.7], dtype=np.float32)
    correct = np.array([True, False, False, True, False, True])
    # naive: order by confidence, equal confidences by position -> 3, 0, 2, 5, 1, 4
    assert kept_accuracy(confidence, correct, 0.5) == {"keep": 0.5, "kept": 3, "min_confidence": pytest.approx(0.9),
                                                       "accuracy": pytest.approx(2 / 3)}
    assert kept_accuracy(confidence, correct, 1 / 3)["accuracy"] == 1.0  # 3 and 0
    assert kept_accuracy(confidence, correct, 0.01)["kept"] == 1  # at least one image, as in training
    assert kept_accuracy(confidence, correct, 1.0)["accuracy"] == pytest.approx(0.5)
