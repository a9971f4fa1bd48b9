"""Tests of csdh.metrics.distances against a naive per-pair bit count."""
from __future__ import annotations

import numpy as np
import pytest

from csdh.codes import hamming, pack
from csdh.metrics.distances import default_chunk_size, distance_dtype, hamming_distances, iter_hamming_chunks


def naive_hamming(query: np.ndarray, db: np.ndarray) -> np.ndarray:
    out = np.zeros((len(query), len(db)), dtype=np.int64)
    for i, q in enumerate(query):
        for j, d in enumerate(db):
            out[i, j] = sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(q, d))
    return out


def random_codes(rng: np.random.Generator, n: int, n_bits: int) -> np.ndarray:
    return pack(rng.standard_normal((n, n_bits)))


@pytest.mark.parametrize("n_bits", [8, 16, 24, 48, 64, 72, 128, 264])
def test_matches_naive(n_bits: int) -> None:
    rng = np.random.default_rng(n_bits)
    q, d = random_codes(rng, 7, n_bits), random_codes(rng, 31, n_bits)
    dist = hamming_distances(q, d)
    assert dist.shape == (7, 31)
    assert dist.dtype == distance_dtype(n_bits)
    np.testing.assert_array_equal(dist, naive_hamming(q, d))
    np.testing.assert_array_equal(dist, hamming(q, d))


def test_extremes_and_dtype() -> None:
    zeros = np.zeros((1, 32), dtype=np.uint8)  # 256 bits
    ones = np.full((1, 32), 255, dtype=np.uint8)
    dist = hamming_distances(zeros, np.concatenate([zeros, ones]))
    assert dist.dtype == np.uint16
    np.testing.assert_array_equal(dist, [[0, 256]])
    assert distance_dtype(255) == np.uint8 and distance_dtype(256) == np.uint16


def test_byte_table_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    q, d = random_codes(rng, 5, 48), random_codes(rng, 20, 48)
    expected = naive_hamming(q, d)
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    np.testing.assert_array_equal(hamming_distances(q, d), expected)


@pytest.mark.parametrize("chunk_size", [1, 3, 10, None])
def test_chunks_cover_all_queries(chunk_size: int | None) -> None:
    rng = np.random.default_rng(1)
    q, d = random_codes(rng, 10, 64), random_codes(rng, 17, 64)
    full = hamming_distances(q, d)
    rows_seen = []
    for rows, dist in iter_hamming_chunks(q, d, chunk_size):
        np.testing.assert_array_equal(dist, full[rows])
        rows_seen.extend(range(rows.start, rows.stop))
    assert rows_seen == list(range(10))


def test_default_chunk_size() -> None:
    assert default_chunk_size(69_000) * 69_000 <= 2**23
    assert default_chunk_size(10**9) == 1


def test_rejects_bad_codes() -> None:
    good = np.zeros((2, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match="code lengths differ"):
        hamming_distances(good, np.zeros((2, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        hamming_distances(good.astype(np.int64), good)
    with pytest.raises(ValueError, match="2-D"):
        hamming_distances(good[0], good)
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_hamming_chunks(good, good, 0))
