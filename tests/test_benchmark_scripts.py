"""Helpers of the scripts under benchmarks/ against the library's own metrics."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from classifier_ceiling import mean_ap_by_score  # noqa: E402
from code_accuracy import centre_accuracy, codes_at  # noqa: E402

from csdh.codes import pack  # noqa: E402
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
