"""Data and scoring for the shallow-hashing tests: a seeded 10-cluster Gaussian mixture in 64-d and a plain mAP.

A module with a unique name (not ``conftest``) so that tests can import it whatever other conftest files exist."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

N_BITS = 32
#: fast settings for the kernel methods on 1,800 training points (defaults are for real feature sets)
FAST_KWARGS = {"sdh": {"n_anchors": 300}, "ksh": {"n_anchors": 200, "n_labeled": 500, "n_grad_iter": 20}}


class Clustered(NamedTuple):
    X: np.ndarray  # float64 (2000, 64)
    labels: np.ndarray  # int (2000,)
    Y: np.ndarray  # one-hot (2000, 10)
    query: np.ndarray  # indices of 200 queries
    db: np.ndarray  # indices of the 1800 database (= training) items


def make_clustered(n: int = 2000, d: int = 64, n_classes: int = 10, seed: int = 0) -> Clustered:
    """Centres ~ N(0, 1.2^2 I), points = centre + N(0, I): overlapping clusters on which unsupervised
    methods do clearly better than chance and supervised ones clearly better still."""
    rng = np.random.default_rng(seed)
    centres = 1.2 * rng.standard_normal((n_classes, d))
    labels = rng.integers(0, n_classes, n)
    X = centres[labels] + rng.standard_normal((n, d))
    Y = np.eye(n_classes)[labels]
    return Clustered(X, labels, Y, np.arange(200), np.arange(200, n))


def mean_average_precision(query_codes: np.ndarray, db_codes: np.ndarray, query_labels: np.ndarray,
                           db_labels: np.ndarray) -> float:
    """Plain mAP by Hamming ranking over the whole database.

    Codes are packed uint8; labels are (n, C) multi-hot, relevant = shares at least one label. Ties in
    Hamming distance are broken by database order; queries with no relevant item are skipped.
    """
    q_bits = np.unpackbits(np.asarray(query_codes, dtype=np.uint8), axis=1)
    d_bits = np.unpackbits(np.asarray(db_codes, dtype=np.uint8), axis=1)
    aps = []
    for qb, ql in zip(q_bits, query_labels):
        dist = (d_bits != qb).sum(axis=1)
        order = np.lexsort((np.arange(len(dist)), dist))  # by distance, then database order
        relevant = ((db_labels[order] > 0) & (ql > 0)).any(axis=1)
        if not relevant.any():
            continue
        ranks = np.flatnonzero(relevant) + 1
        aps.append(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    return float(np.mean(aps))
