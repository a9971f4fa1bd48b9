"""Fixtures for the shallow-hashing tests (data and scoring live in ``shallow_data.py``)."""
from __future__ import annotations

from typing import Dict

import numpy as np
import pytest

from csdh.shallow import SHALLOW, ShallowHasher
from shallow_data import FAST_KWARGS, N_BITS, Clustered, make_clustered, mean_average_precision


@pytest.fixture(scope="session")
def clustered() -> Clustered:
    return make_clustered()


@pytest.fixture(scope="session")
def fitted(clustered: Clustered) -> Dict[str, ShallowHasher]:
    """Every registered method fitted once at 32 bits on the database part of the clustered data."""
    X, Y = clustered.X[clustered.db], clustered.Y[clustered.db]
    out = {}
    for name in SHALLOW.names():
        h = SHALLOW.create(name, n_bits=N_BITS, seed=0, **FAST_KWARGS.get(name, {}))
        out[name] = h.fit(X, Y if h.supervised else None)
    return out


@pytest.fixture(scope="session")
def scores(clustered: Clustered, fitted: Dict[str, ShallowHasher]) -> Dict[str, float]:
    """mAP of every method (and of random codes, key "random") on the clustered data."""
    q, db, Y = clustered.query, clustered.db, clustered.Y
    out = {}
    for name, h in fitted.items():
        codes = h.encode(clustered.X)
        out[name] = mean_average_precision(codes[q], codes[db], Y[q], Y[db])
    rand = np.random.default_rng(1).integers(0, 256, (len(clustered.X), N_BITS // 8), dtype=np.uint8)
    out["random"] = mean_average_precision(rand[q], rand[db], Y[q], Y[db])
    return out


@pytest.fixture(scope="session")
def mean_ap():
    """:func:`mean_average_precision`, for tests that score their own fits."""
    return mean_average_precision
