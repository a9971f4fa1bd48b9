"""Base class of every shallow (non-deep) hashing method: it validates inputs, subclasses write the maths.

A shallow hasher learns a map from fixed feature vectors (e.g. a frozen backbone's cached features) to
K-bit codes. The pattern is the one of :class:`csdh.losses.BaseHashingLoss`: the public methods
(:meth:`ShallowHasher.fit`, :meth:`ShallowHasher.project`, :meth:`ShallowHasher.encode`) check shapes and
dtypes, then call ``_fit`` / ``_project``, which subclasses implement.

Errors: a bad code length raises :class:`csdh.errors.UserError` (from :func:`csdh.codes.check_bits`);
badly shaped features or labels raise ``ValueError``; projecting before fitting raises
:class:`NotFittedError`.
"""
from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple

import numpy as np

from csdh.codes import check_bits, pack

LOG = logging.getLogger(__name__)


class NotFittedError(RuntimeError):
    """A hasher was asked to project or encode before :meth:`ShallowHasher.fit` or a state was loaded."""


class ShallowHasher:
    """A K-bit hashing function learnt from fixed features.

    Args:
        n_bits: K, the code length; a positive multiple of 8.
        seed: seed of the method's ``np.random.default_rng`` (all its randomness comes from there).

    Subclasses set :attr:`name` (the registry name), :attr:`supervised` and :attr:`state_keys` (the
    fitted arrays, stored as attributes ``<key>_``), and implement ``_fit`` and ``_project``.
    """

    #: the name under which the class is registered in ``SHALLOW``; stored in the state dict
    name: str = ""
    #: True if :meth:`fit` needs labels
    supervised: bool = False
    #: names of the fitted arrays; each lives in the attribute ``<key>_`` and goes into the state dict
    state_keys: Tuple[str, ...] = ()
    #: rows projected at a time, which bounds the memory of kernel methods on large databases
    chunk_size: int = 8192

    def __init__(self, n_bits: int, seed: int = 0) -> None:
        self.n_bits = check_bits(n_bits)
        self.seed = int(seed)
        self.n_features_: Optional[int] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_bits={self.n_bits}, seed={self.seed})"

    # ------------------------------------------------------------------ public API
    @property
    def is_fitted(self) -> bool:
        return self.n_features_ is not None

    def fit(self, X: np.ndarray, labels: Optional[np.ndarray] = None) -> "ShallowHasher":
        """Learn the hash functions.

        Args:
            X: float ``(n, d)`` training features, ``n >= 2``.
            labels: ``(n, C)`` multi-hot 0/1 labels (single-label data is one-hot). Required by
                supervised methods; checked but unused by unsupervised ones; may be None for those.

        Returns:
            ``self``.
        """
        X = self._check_features(X)
        if X.shape[0] < 2:
            raise ValueError(f"{type(self).__name__}.fit needs at least 2 training vectors, got {X.shape[0]}")
        Y = self._check_labels(labels, X.shape[0])
        if self.supervised and Y is None:
            raise ValueError(f"{type(self).__name__} is supervised: fit(X, labels) needs (n, C) multi-hot labels")
        LOG.debug("fitting %r on %d x %d features", self, X.shape[0], X.shape[1])
        self._fit(X, Y)
        self.n_features_ = int(X.shape[1])
        return self

    def project(self, X: np.ndarray) -> np.ndarray:
        """Continuous codes whose signs are the bits.

        Args:
            X: float ``(n, d)`` features, ``d`` as in training.

        Returns:
            float64 ``(n, K)``; bit ``j`` of item ``i`` is ``out[i, j] >= 0``.
        """
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or load_state_dict() first")
        X = self._check_features(X)
        if X.shape[1] != self.n_features_:
            raise ValueError(
                f"{type(self).__name__} was fitted on {self.n_features_}-d features, got {X.shape[1]}-d"
            )
        if X.shape[0] <= self.chunk_size:
            return np.asarray(self._project(X), dtype=np.float64)
        return np.concatenate(
            [np.asarray(self._project(X[i : i + self.chunk_size]), dtype=np.float64)
             for i in range(0, X.shape[0], self.chunk_size)]
        )

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Packed binary codes: uint8 ``(n, K // 8)``, least-significant bit first, sign(0) = +1
        (:func:`csdh.codes.pack` of :meth:`project`)."""
        return pack(self.project(X))

    def state_dict(self) -> Dict[str, np.ndarray]:
        """The fitted hasher as plain numpy arrays (no pickles): ``np.savez(path, **h.state_dict())``.

        Keys: ``method`` (registry name), ``n_bits``, ``n_features`` and the method's :attr:`state_keys`.
        """
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: nothing to save")
        state = {
            "method": np.array(self.name),
            "n_bits": np.array(self.n_bits, dtype=np.int64),
            "n_features": np.array(self.n_features_, dtype=np.int64),
        }
        for key in self.state_keys:
            state[key] = np.array(getattr(self, key + "_"))
        return state

    def load_state_dict(self, state: Dict[str, np.ndarray]) -> "ShallowHasher":
        """Restore a state from :meth:`state_dict` (e.g. ``dict(np.load(path))``); returns ``self``."""
        missing = [k for k in ("method", "n_bits", "n_features", *self.state_keys) if k not in state]
        if missing:
            raise ValueError(f"{type(self).__name__} state is missing {', '.join(missing)}")
        method = str(np.asarray(state["method"]))
        if method != self.name:
            raise ValueError(f"state was saved by shallow method {method!r}, not {self.name!r}")
        n_bits = int(state["n_bits"])
        if n_bits != self.n_bits:
            raise ValueError(f"state has {n_bits} bits but this {type(self).__name__} has {self.n_bits}")
        for key in self.state_keys:
            setattr(self, key + "_", np.array(state[key]))
        self.n_features_ = int(state["n_features"])
        return self

    # ------------------------------------------------------------------ for subclasses
    def _fit(self, X: np.ndarray, Y: Optional[np.ndarray]) -> None:
        """Learn the parameters from float ``(n, d)`` features and float64 ``(n, C)`` labels or None."""
        raise NotImplementedError

    def _project(self, X: np.ndarray) -> np.ndarray:
        """Float ``(n, d)`` features to ``(n, K)`` continuous codes."""
        raise NotImplementedError

    def _rng(self) -> np.random.Generator:
        """A fresh generator from :attr:`seed`, so that fitting twice gives the same result."""
        return np.random.default_rng(self.seed)

    # ------------------------------------------------------------------ validation
    def _check_features(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"features must be a 2-D (n, d) array, got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"features must be floating point, got dtype {X.dtype}")
        if X.shape[1] == 0:
            raise ValueError("features have 0 dimensions")
        if not np.isfinite(X).all():
            raise ValueError("features contain NaN or infinity")
        return X

    def _check_labels(self, labels: Optional[np.ndarray], n: int) -> Optional[np.ndarray]:
        if labels is None:
            return None
        Y = np.asarray(labels)
        if Y.ndim != 2 or Y.shape[0] != n:
            raise ValueError(
                f"labels must be (n, C) multi-hot with n = {n} (one-hot for single-label data), got shape {Y.shape}"
            )
        if Y.size and not np.isin(Y, (0, 1)).all():
            raise ValueError("labels must be multi-hot: every entry 0 or 1")
        return Y.astype(np.float64)


def top_eigh(A: np.ndarray, k: int, B: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of the symmetric ``A`` (or of ``A v = lambda B v``, ``B`` positive
    definite), eigenvalues in decreasing order.

    Uses ``scipy.linalg.eigh`` with ``subset_by_index`` (several times faster for a few of many) when
    SciPy is installed, else NumPy (a full ``eigh``, via the Cholesky reduction when ``B`` is given).

    Returns:
        ``(values (k,), vectors (d, k))``; generalized vectors are ``B``-orthonormal.
    """
    try:
        from scipy.linalg import eigh
    except ImportError:  # pragma: no cover - scipy is a test dependency
        return _top_eigh_numpy(A, k, B)
    d = A.shape[0]
    vals, vecs = eigh(A, B, subset_by_index=[d - k, d - 1])
    return vals[::-1], vecs[:, ::-1]


def _top_eigh_numpy(A: np.ndarray, k: int, B: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`top_eigh` without SciPy: a full ``np.linalg.eigh``, after ``L^-1 A L^-T`` with ``B = L L^T``."""
    d = A.shape[0]
    if B is None:
        vals, vecs = np.linalg.eigh(A)
    else:
        L = np.linalg.cholesky(B)
        C = np.linalg.solve(L, np.linalg.solve(L, A).T)  # L^-1 A L^-T, A symmetric
        vals, vecs = np.linalg.eigh(0.5 * (C + C.T))
        vecs = np.linalg.solve(L.T, vecs)
    return vals[d - k :][::-1], vecs[:, d - k :][:, ::-1]


def pca(X: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` principal directions of ``X``.

    Args:
        X: float ``(n, d)``.
        k: number of directions, ``1 <= k <= d``.

    Returns:
        ``(mean (d,), components (d, k), variances (k,))``, components orthonormal, sorted by decreasing
        variance, each with its largest-magnitude entry positive (a deterministic sign).
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if not 1 <= k <= d:
        raise ValueError(f"PCA to {k} directions needs 1 <= k <= d = {d}")
    mean = X.mean(axis=0)
    Xc = X - mean
    vals, vecs = top_eigh((Xc.T @ Xc) / max(n - 1, 1), k)
    flip = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(k)])
    vecs = vecs * np.where(flip == 0, 1.0, flip)
    return mean, vecs, np.clip(vals, 0.0, None)
