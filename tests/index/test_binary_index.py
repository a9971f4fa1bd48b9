"""HammingIndex against brute force (csdh.codes.hamming) on random codes with many ties."""
from __future__ import annotations

import numpy as np
import pytest

from csdh.codes import hamming
from csdh.errors import UserError
from csdh.index.binary_index import HammingIndex, resolve_params


def brute_topk(q: np.ndarray, db: np.ndarray, ids: np.ndarray, k: int):
    """The k smallest (distance, id) of each query, by an independent full sort."""
    dist = hamming(q, db)
    out_d, out_i = [], []
    for row in dist:
        pairs = sorted(zip(row.tolist(), ids.tolist()))[:k]
        out_d.append([d for d, _ in pairs])
        out_i.append([i for _, i in pairs])
    return np.array(out_d, dtype=np.int64).reshape(len(q), -1), np.array(out_i, dtype=np.int64).reshape(len(q), -1)


def brute_range(q: np.ndarray, db: np.ndarray, ids: np.ndarray, radius: int):
    dist = hamming(q, db)
    return [sorted((d, i) for d, i in zip(row.tolist(), ids.tolist()) if d <= radius) for row in dist]


def random_setup(bits: int, n: int, nq: int, seed: int):
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)
    # plant exact duplicates and near-duplicates: big tie groups at small distances
    db[n // 2: n // 2 + n // 10] = db[0]
    q = np.concatenate([db[:nq // 2], rng.integers(0, 256, (nq - nq // 2, bits // 8), dtype=np.uint8)])
    ids = np.sort(rng.choice(50 * n, size=n, replace=False)).astype(np.int64)
    return db, q, ids


@pytest.mark.parametrize("bits,n", [(8, 3000), (16, 4000), (64, 3000)])
def test_flat_search_equals_brute_force_with_ties(bits: int, n: int) -> None:
    db, q, ids = random_setup(bits, n, 24, seed=bits)
    index = HammingIndex.create("flat", bits)
    index.add(db[: n // 3], ids[: n // 3])  # added in two parts
    index.add(db[n // 3:], ids[n // 3:])
    for k in (1, 7, 100, n, n + 5):
        dist, got = index.search(q, k)
        want_d, want_i = brute_topk(q, db, ids, k)
        np.testing.assert_array_equal(got, want_i)
        np.testing.assert_array_equal(dist, want_d)
        assert dist.dtype == np.int32 and got.dtype == np.int64


def test_tie_completion_path_is_exact() -> None:
    # 8-bit codes: 256 values over 5000 items, so the tie group at rank k always extends past FAISS's k2
    db, q, ids = random_setup(8, 5000, 40, seed=3)
    index = HammingIndex.create("flat", 8)
    index.add(db, ids)
    index.tie_factor = 1  # k2 = k + 64: forces the range-search completion on most queries
    for k in (3, 50, 400):
        dist, got = index.search(q, k)
        want_d, want_i = brute_topk(q, db, ids, k)
        np.testing.assert_array_equal(got, want_i)
        np.testing.assert_array_equal(dist, want_d)


@pytest.mark.parametrize("bits", [8, 32])
def test_flat_range_search_equals_brute_force(bits: int) -> None:
    db, q, ids = random_setup(bits, 2000, 10, seed=bits + 1)
    index = HammingIndex.create("flat", bits)
    index.add(db, ids)
    for radius in (0, 1, 3, bits // 4):
        got = index.range_search(q, radius)
        want = brute_range(q, db, ids, radius)
        for (d, i), w in zip(got, want):
            assert list(zip(d.tolist(), i.tolist())) == w  # "within r" includes distance r


def test_remove_then_search_and_save_load_round_trip(tmp_path) -> None:
    db, q, ids = random_setup(16, 1500, 12, seed=5)
    index = HammingIndex.create("flat", 16)
    index.add(db, ids)
    gone = ids[::7]
    assert index.remove(gone) == len(gone)
    keep = ~np.isin(ids, gone)
    want_d, want_i = brute_topk(q, db[keep], ids[keep], 30)
    dist, got = index.search(q, 30)
    np.testing.assert_array_equal(got, want_i)
    np.testing.assert_array_equal(dist, want_d)
    np.testing.assert_array_equal(index.codes(), db[keep])
    np.testing.assert_array_equal(index.code(int(ids[1])), db[1:2])
    assert int(gone[0]) not in index and int(ids[1]) in index
    with pytest.raises(KeyError):
        index.remove(np.array([gone[0]]))
    with pytest.raises(KeyError):
        index.code(int(gone[0]))

    index.save(tmp_path)
    loaded = HammingIndex.load(tmp_path, "flat", 16, {})
    np.testing.assert_array_equal(loaded.ids, index.ids)
    np.testing.assert_array_equal(loaded.codes(), index.codes())
    d2, i2 = loaded.search(q, 30)
    np.testing.assert_array_equal(i2, got)
    np.testing.assert_array_equal(d2, dist)


def test_add_rejects_bad_ids_and_codes() -> None:
    index = HammingIndex.create("flat", 16)
    codes = np.zeros((3, 2), dtype=np.uint8)
    index.add(codes, np.array([1, 2, 5]))
    with pytest.raises(ValueError):
        index.add(codes[:1], np.array([5]))  # not larger than the existing ids
    with pytest.raises(ValueError):
        index.add(codes[:2], np.array([9, 8]))  # not increasing
    with pytest.raises(ValueError):
        index.add(np.zeros((1, 3), dtype=np.uint8), np.array([10]))  # wrong code size
    with pytest.raises(ValueError):
        index.search(codes, 0)


def test_empty_index() -> None:
    index = HammingIndex.create("flat", 32)
    q = np.zeros((2, 4), dtype=np.uint8)
    dist, ids = index.search(q, 10)
    assert dist.shape == (2, 0) and ids.shape == (2, 0)
    assert [len(i) for _, i in index.range_search(q, 3)] == [0, 0]


@pytest.mark.parametrize("kind", ["hnsw", "multihash"])
def test_approximate_kinds(kind: str, tmp_path) -> None:
    rng = np.random.default_rng(11)
    centres = rng.integers(0, 256, (20, 4), dtype=np.uint8)  # clustered 32-bit codes, like learned ones
    flips = rng.random((2000, 32)) < 0.06
    db = centres[rng.integers(0, 20, 2000)] ^ np.packbits(flips, axis=1, bitorder="little")
    ids = np.arange(2000, dtype=np.int64) * 3
    q = db[:40]
    index = HammingIndex.create(kind, 32, {"nflip": 2} if kind == "multihash" else None)
    index.add(db, ids)
    dist, got = index.search(q, 10)
    # returned distances are the true distances, sorted by (distance, id)
    true = hamming(q, db)
    for row in range(len(q)):
        valid = got[row] >= 0
        np.testing.assert_array_equal(dist[row][valid], true[row, got[row][valid] // 3])
        pairs = list(zip(dist[row][valid].tolist(), got[row][valid].tolist()))
        assert pairs == sorted(pairs)
    want_d, _ = brute_topk(q, db, ids, 10)
    recall = np.mean([len(set(d[g >= 0].tolist()) & set(w.tolist())) > 0 for d, g, w in zip(dist, got, want_d)])
    assert recall > 0.9
    assert (got[:, 0] >= 0).all() and (dist[:, 0] == 0).all()  # each query finds a distance-0 code

    radius = 2  # multihash with 2 tables x 16 bits and nflip 2 is exact below 2 * 3 = 6
    ranged = index.range_search(q[:5], radius)
    for (d, i), w in zip(ranged, brute_range(q[:5], db, ids, radius)):
        found = list(zip(d.tolist(), i.tolist()))
        assert found == sorted(found) and set(found) <= set(w)
        if kind == "multihash":
            assert found == w

    index.remove(ids[:100])  # rebuilt from the stored codes
    assert len(index) == 1900 and not np.isin(index.search(q, 10)[1], ids[:100]).any()
    index.save(tmp_path)
    loaded = HammingIndex.load(tmp_path, kind, 32, index.params)
    np.testing.assert_array_equal(loaded.codes(), db[100:])
    np.testing.assert_array_equal(loaded.search(q, 5)[0], index.search(q, 5)[0])


def test_resolve_params() -> None:
    assert resolve_params("multihash", 64, None) == {"nhash": 4, "b": 16, "nflip": 1}
    assert resolve_params("multihash", 16, None)["nhash"] * resolve_params("multihash", 16, None)["b"] <= 16
    assert resolve_params("hnsw", 64, {"m": 8})["m"] == 8
    with pytest.raises(UserError, match="unknown index kind"):
        resolve_params("ivf", 64)
    with pytest.raises(UserError, match="no parameter"):
        resolve_params("hnsw", 64, {"nflip": 2})
    with pytest.raises(UserError, match="exceeds"):
        resolve_params("multihash", 32, {"nhash": 4, "b": 16})


def test_load_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="missing index file"):
        HammingIndex.load(tmp_path, "flat", 16, {})
    (tmp_path / "codes.faiss").write_bytes(b"not faiss")
    with pytest.raises(UserError, match="unreadable FAISS index"):
        HammingIndex.load(tmp_path, "flat", 16, {})
