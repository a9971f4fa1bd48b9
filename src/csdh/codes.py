"""Binary codes: sign, pack to uint8 (least-significant bit first, FAISS's order), Hamming distances.

A code of K bits is stored as ``K // 8`` bytes; bit ``j`` of a code lives in byte ``j // 8`` at bit
position ``j % 8`` (``np.packbits(..., bitorder="little")``), which is how ``faiss.IndexBinary*`` reads
it, so packed codes go into FAISS without conversion. ``sign(0) = +1``.
"""
from __future__ import annotations

import numpy as np

from csdh.errors import UserError

# popcount of every byte value
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def check_bits(n_bits: int) -> int:
    """Return ``n_bits`` if it is a positive multiple of 8, else raise ``UserError``."""
    if not isinstance(n_bits, (int, np.integer)) or n_bits <= 0 or n_bits % 8:
        raise UserError(f"the number of bits must be a positive multiple of 8, got {n_bits}")
    return int(n_bits)


def sign(h: np.ndarray) -> np.ndarray:
    """Binarise continuous codes to {-1, +1} as int8, with sign(0) = +1. Shape is kept."""
    return np.where(np.asarray(h) >= 0, 1, -1).astype(np.int8)


def pack(h: np.ndarray) -> np.ndarray:
    """Pack continuous or ±1 codes ``(n, K)`` into uint8 ``(n, K // 8)``, LSB first, sign(0) = +1."""
    h = np.asarray(h)
    if h.ndim != 2:
        raise ValueError(f"codes must be 2-D (n, K), got shape {h.shape}")
    check_bits(h.shape[1])
    return np.packbits(h >= 0, axis=1, bitorder="little")


def dither_thresholds(n_bits: int, spread: float, seed: int = 0) -> np.ndarray:
    """Per-bit binarisation thresholds of database codes: ``n_bits`` values evenly spaced over
    ``(-spread, spread)`` (the centres of ``n_bits`` equal bins), in a seeded random order.

    A database code is then ``sign(h - tau)`` instead of ``sign(h)`` (queries keep ``sign(h)``): a bit
    whose |h| exceeds ``spread`` is unchanged, while an image with many small |h| — one its model is unsure
    of — flips a number of bits that grows as |h| shrinks, so its Hamming distance to confident codes grows
    with its doubt (docs/method.md, "Database codes"). ``spread = 0`` gives all-zero thresholds, plain sign.

    Args:
        n_bits: K.
        spread: in [0, 1).
        seed: the order's seed (a run uses its own training seed).

    Returns:
        float32 ``(n_bits,)``.
    """
    if not 0.0 <= spread < 1.0:
        raise UserError(f"the database dither must be in [0, 1), got {spread}")
    centres = (2.0 * (np.arange(n_bits) + 0.5) / n_bits - 1.0) * spread
    order = np.random.default_rng([int(seed), 0x746175]).permutation(n_bits)
    return centres[order].astype(np.float32)


def _minus_thresholds(h: np.ndarray, spread: float, seed: int) -> np.ndarray:
    """``h - tau`` with :func:`dither_thresholds` (``h`` itself when ``spread`` is 0)."""
    h = np.asarray(h)
    if spread == 0:
        return h
    if h.ndim != 2:
        raise ValueError(f"codes must be 2-D (n, K), got shape {h.shape}")
    return h.astype(np.float32) - dither_thresholds(h.shape[1], spread, seed)


def pack_dithered(h: np.ndarray, spread: float, seed: int = 0) -> np.ndarray:
    """Pack database codes ``(n, K)`` binarised with :func:`dither_thresholds`: ``pack(h - tau)``
    (plain :func:`pack` when ``spread`` is 0)."""
    return pack(_minus_thresholds(h, spread, seed))


def code_moment(h: np.ndarray) -> np.ndarray:
    """Second moment ``(K, K)`` of query codes: the mean of ``sign(h) sign(h)^T`` over the rows of ``h``.

    Computed from the training images' codes, it describes the queries a database will be searched with
    (:func:`shape_codes`). float64; all zeros for an empty ``h``.
    """
    s = sign(np.asarray(h)).astype(np.float64)
    if s.ndim != 2:
        raise ValueError(f"codes must be 2-D (n, K), got shape {s.shape}")
    return s.T @ s / max(len(s), 1)


def shaping_error(b: np.ndarray, h: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """Per row, ``(b - h)^T G (b - h)``: the mean squared error of ``<q, b>`` against ``<q, h>`` over queries
    ``q`` whose second moment is ``G`` (``moment``). float64 ``(n,)``."""
    e = np.asarray(b, dtype=np.float64) - np.asarray(h, dtype=np.float64)
    return np.einsum("ij,jk,ik->i", e, np.asarray(moment, dtype=np.float64), e)


def shape_codes(h: np.ndarray, moment: np.ndarray, start: np.ndarray, max_sweeps: int = 10) -> np.ndarray:
    """Binary database codes whose inner products with query-like codes follow the continuous ones.

    Starting from the ±1 codes ``start`` (plain or dithered signs of ``h``), flip, one at a time, the bit
    that lowers :func:`shaping_error` ``(b - h)^T G (b - h)`` the most, until no single flip lowers it
    (greedy coordinate descent; every flip lowers the error, so it stops; at most ``max_sweeps * K`` flips
    per row). The binarisation error ``b - h`` is thereby pushed into directions the queries hardly use,
    so Hamming distances to queries follow ``<q, h>`` more closely than under an independent rounding of
    each bit (docs/method.md, "Database codes"). With ``G`` the identity the result is ``sign(h)`` (up to
    bits with ``h = 0``). Deterministic: ties go to the lowest bit.

    Args:
        h: continuous codes ``(n, K)``.
        moment: ``G``, ``(K, K)`` symmetric (:func:`code_moment` of the training images' codes).
        start: ±1 (or any sign-valued) codes ``(n, K)`` to start from.
        max_sweeps: bounds the flips per row at ``max_sweeps * K``.

    Returns:
        int8 ±1 codes ``(n, K)``.
    """
    h = np.asarray(h, dtype=np.float64)
    G = np.asarray(moment, dtype=np.float64)
    if h.ndim != 2 or G.shape != (h.shape[1], h.shape[1]) or np.shape(start) != h.shape:
        raise ValueError(f"shapes do not fit: codes {h.shape}, moment {G.shape}, start {np.shape(start)}")
    b = np.where(np.asarray(start) >= 0, 1.0, -1.0)
    r = (b - h) @ G  # gradient / 2 of the error; flipping bit k changes it by -4 b_k r_k + 4 G_kk
    diag = np.diag(G)
    active = np.arange(len(b))
    for _ in range(max_sweeps * h.shape[1]):
        if active.size == 0:
            break
        gain = 4.0 * (diag - b[active] * r[active])
        k = gain.argmin(axis=1)
        better = gain[np.arange(active.size), k] < -1e-9
        active, k = active[better], k[better]
        step = -2.0 * b[active, k]
        b[active, k] = -b[active, k]
        r[active] += step[:, None] * G[k]
    return b.astype(np.int8)


def pack_shaped(h: np.ndarray, moment: np.ndarray, spread: float = 0.0, seed: int = 0) -> np.ndarray:
    """Pack database codes ``(n, K)`` binarised by :func:`shape_codes`, started from the dithered signs
    ``sign(h - tau)`` of :func:`pack_dithered` (plain signs when ``spread`` is 0)."""
    return pack(shape_codes(h, moment, sign(_minus_thresholds(h, spread, seed))))


def unpack(packed: np.ndarray, n_bits: int | None = None) -> np.ndarray:
    """Inverse of :func:`pack`: uint8 ``(n, B)`` to ±1 int8 ``(n, 8 B)`` (or the first ``n_bits``)."""
    packed = np.asarray(packed, dtype=np.uint8)
    bits = np.unpackbits(packed, axis=1, bitorder="little", count=n_bits)
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


def hamming(query: np.ndarray, db: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances between packed codes.

    Args:
        query: uint8 ``(nq, B)``.
        db: uint8 ``(nd, B)``.

    Returns:
        int32 ``(nq, nd)`` distances in ``[0, 8 B]``.
    """
    query = np.ascontiguousarray(query, dtype=np.uint8)
    db = np.ascontiguousarray(db, dtype=np.uint8)
    if query.shape[1] != db.shape[1]:
        raise ValueError(f"code lengths differ: {query.shape[1]} vs {db.shape[1]} bytes")
    nbytes = query.shape[1]
    if nbytes % 8 == 0:
        # XOR 64-bit words, popcount via bitwise_count (numpy >= 2) or the byte table
        q64 = query.view(np.uint64)
        d64 = db.view(np.uint64)
        x = q64[:, None, :] ^ d64[None, :, :]
        if hasattr(np, "bitwise_count"):
            return np.bitwise_count(x).sum(axis=2, dtype=np.int32)
        return _POPCOUNT[x.view(np.uint8)].sum(axis=2, dtype=np.int32)
    x = query[:, None, :] ^ db[None, :, :]
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).sum(axis=2, dtype=np.int32)
    return _POPCOUNT[x].sum(axis=2, dtype=np.int32)


def hamming_from_signs(query: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Hamming distances from ±1 codes ``(nq, K)``, ``(nd, K)`` via inner products: (K - <q, d>) / 2."""
    q = np.asarray(query, dtype=np.float32)
    d = np.asarray(db, dtype=np.float32)
    k = q.shape[1]
    return np.rint((k - q @ d.T) / 2).astype(np.int32)
