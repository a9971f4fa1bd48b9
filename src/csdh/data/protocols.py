"""Evaluation protocols: seeded query / train / database splits of a pool, plus a validation split.

Every protocol returns positions into the pool. The test queries are never used for model selection: the
validation split is carved elsewhere (see :func:`make_split`).

Protocols (``make_split(name, pool, seed)``), as query / train / database, top-k:

* ``fashion-mnist``: 100/class from the official test part / 500/class from the official training part /
  every image but the queries (69,000, training images included); mAP over ALL.
* ``cifar10``: 100/class / 500/class, both from all 60,000 / the remaining 54,000; ALL (DeepHash's mAP@54000).
* ``cifar10-1``: 100/class / 500/class / every image but the queries (59,000); ALL.
* ``cifar10-2``: the 10,000 official test images / the 50,000 official training images / the same 50,000; ALL.
* ``nuswide21`` (multi-label): 100/class (2,100) / 500/class (10,500), sampled per class without replacement,
  an image counted once / every image but the queries; mAP@5000.
* ``image-list``: the lists' test / train / database (``given``); ALL.
* ``image-folder``: 10% of each class / 50% of each class's database part / the other 90%; ALL.

``nuswide21`` follows DeepHash's NUS-WIDE lists (2,100 queries, 10,500 training and 193,734 database
images, i.e. the database holds the training images); it samples the rarest class first, so classes that
share images cannot starve a rare one (each class draws its queries and training images together).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional, Union

import numpy as np

from csdh.data.pool import ImagePool
from csdh.errors import DataError, UserError
from csdh.registry import Registry

LOG = logging.getLogger(__name__)

_ARRAYS = ("query", "train", "database", "val_query", "val_database")


@dataclass(frozen=True, eq=False)
class Split:
    """Positions (int64, sorted, read-only) into a pool.

    Attributes:
        protocol: the protocol's name.
        seed: the seed it was drawn with.
        query: the test queries.
        train: the training images.
        database: the retrieval database of the test evaluation.
        val_query: validation queries for model selection, never test queries.
        val_database: the validation database (the training images).
        topk: mAP@k cut-off; None for mAP over the whole ranking.
    """

    protocol: str
    seed: int
    query: np.ndarray
    train: np.ndarray
    database: np.ndarray
    val_query: np.ndarray
    val_database: np.ndarray
    topk: Optional[int] = None

    def __post_init__(self) -> None:
        for field in _ARRAYS:
            arr = np.array(getattr(self, field), dtype=np.int64).reshape(-1)
            arr.flags.writeable = False
            object.__setattr__(self, field, arr)
        object.__setattr__(self, "seed", int(self.seed))
        if self.topk is not None:
            object.__setattr__(self, "topk", int(self.topk))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (self.protocol, self.seed, self.topk) == (other.protocol, other.seed, other.topk) and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in _ARRAYS)

    __hash__ = None  # type: ignore[assignment]

    def check(self, n_pool: int) -> None:
        """Raise ``DataError`` if a position is outside a pool of ``n_pool`` images (a split of another pool)."""
        for field in _ARRAYS:
            arr = getattr(self, field)
            if arr.size and (arr.min() < 0 or arr.max() >= n_pool):
                raise DataError(f"split {self.protocol!r}: {field} has positions outside the pool of "
                                f"{n_pool} images (a split made for another data set?)")

    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"protocol": self.protocol, "seed": self.seed, "topk": self.topk}
        d.update({f: getattr(self, f).tolist() for f in _ARRAYS})
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: Optional[str] = None) -> "Split":
        """Inverse of :meth:`to_dict`; ``source`` names the file in error messages."""
        if not isinstance(d, Mapping):
            raise DataError("a split must be a JSON object", source)
        missing = [k for k in ("protocol", "seed", "topk") + _ARRAYS if k not in d]
        if missing:
            raise DataError(f"split is missing {', '.join(missing)}", source)
        try:
            arrays = {f: np.asarray(d[f], dtype=np.int64) for f in _ARRAYS}
            if any(a.ndim != 1 for a in arrays.values()):
                raise ValueError("position lists must be flat")
            topk = None if d["topk"] is None else int(d["topk"])
            return cls(protocol=str(d["protocol"]), seed=int(d["seed"]), topk=topk, **arrays)
        except (TypeError, ValueError) as e:
            raise DataError(f"malformed split: {e}", source) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, source: Optional[str] = None) -> "Split":
        try:
            d = json.loads(text)
        except ValueError as e:
            raise DataError(f"not valid JSON: {e}", source) from None
        return cls.from_dict(d, source)

    def save(self, path: Union[str, Path]) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Split":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read the split file: {e}", path) from None
        return cls.from_json(text, str(path))


class Parts(NamedTuple):
    """What a protocol function returns: sorted int64 positions and the mAP cut-off."""

    query: np.ndarray
    train: np.ndarray
    database: np.ndarray
    topk: Optional[int]


PROTOCOLS: Registry[Parts] = Registry("protocol")


def make_split(protocol: str, pool: ImagePool, seed: int = 0, n_val: int = 500,
               given: Optional[Mapping[str, np.ndarray]] = None, **options: Any) -> Split:
    """Draw the split of ``protocol`` on ``pool``, reproducibly from ``seed``.

    Validation (for model selection; the test queries are never used): ``val_query`` is ``n_val`` images drawn
    from the database positions that are neither training images nor queries, stratified by the first label
    when the pool is single-label; if there are no such images (``cifar10-2``, where train = database), they
    are carved from the training images and removed from ``train``, taking at most half of them. With too
    few candidates ``n_val`` is reduced (with a warning). ``val_database`` is the (remaining) training split.

    Args:
        protocol: a name in ``PROTOCOLS``.
        pool: the images.
        seed: seeds ``np.random.default_rng``; the same seed gives the same split.
        n_val: the number of validation queries.
        given: ``{"train", "query", "database"}`` position arrays for the ``image-list`` protocol.
        **options: protocol options (``image-folder``: ``query_fraction``, ``train_fraction``;
            ``image-list``: ``topk``).

    Raises:
        DataError: the pool lacks a class, has too few images of one, or lacks what the protocol needs.
    """
    rng = np.random.default_rng(seed)
    parts = PROTOCOLS.get(protocol)(pool, rng, given, **options)
    query, database = _sorted(parts.query), _sorted(parts.database)
    train, val_query = _validation(pool, query, _sorted(parts.train), database, n_val, rng, protocol)
    split = Split(protocol, seed, query, train, database, val_query, train, parts.topk)
    split.check(len(pool))
    if np.intersect1d(split.query, split.database).size or np.intersect1d(split.query, split.train).size:
        raise DataError(f"protocol {protocol!r}: the queries overlap the training or database images")
    return split


# ---------------------------------------------------------------------------------------------- protocols


@PROTOCOLS.register("fashion-mnist")
def fashion_mnist_protocol(pool: ImagePool, rng: np.random.Generator, given: Any = None) -> Parts:
    """1,000 test-part queries and 5,000 training-part training images (100 / 500 per class); database =
    all but the queries."""
    y = _single_labels(pool, "fashion-mnist")
    n_off = _n_train_official(pool, "fashion-mnist")
    positions = np.arange(len(pool), dtype=np.int64)
    query = _per_class(pool, y, positions[n_off:], 100, rng, "fashion-mnist", "official test")
    train = _per_class(pool, y, positions[:n_off], 500, rng, "fashion-mnist", "official training")
    return Parts(query, train, np.setdiff1d(positions, query), None)


@PROTOCOLS.register("cifar10")
def cifar10_protocol(pool: ImagePool, rng: np.random.Generator, given: Any = None) -> Parts:
    """100 queries and 500 training images per class from the whole pool; database = the rest."""
    query, train = _query_train(pool, rng, "cifar10")
    rest = np.setdiff1d(np.arange(len(pool), dtype=np.int64), np.concatenate([query, train]))
    return Parts(query, train, rest, None)


@PROTOCOLS.register("cifar10-1")
def cifar10_1_protocol(pool: ImagePool, rng: np.random.Generator, given: Any = None) -> Parts:
    """100 queries and 500 training images per class; database = all but the queries."""
    query, train = _query_train(pool, rng, "cifar10-1")
    return Parts(query, train, np.setdiff1d(np.arange(len(pool), dtype=np.int64), query), None)


@PROTOCOLS.register("cifar10-2")
def cifar10_2_protocol(pool: ImagePool, rng: np.random.Generator, given: Any = None) -> Parts:
    """The official test images are the queries; the official training images are train and database."""
    _single_labels(pool, "cifar10-2")
    n_off = _n_train_official(pool, "cifar10-2")
    positions = np.arange(len(pool), dtype=np.int64)
    if n_off >= len(pool):
        raise DataError("protocol 'cifar10-2' needs official test images, but the pool has none")
    return Parts(positions[n_off:], positions[:n_off], positions[:n_off], None)


@PROTOCOLS.register("nuswide21")
def nuswide21_protocol(pool: ImagePool, rng: np.random.Generator, given: Any = None) -> Parts:
    """Multi-label: per class, 100 queries and 500 training images, each image drawn at most once;
    database = all but the queries; mAP@5000."""
    query, train = _per_class_multi(pool, 100, 500, rng, "nuswide21")
    return Parts(query, train, np.setdiff1d(np.arange(len(pool), dtype=np.int64), query), 5000)


@PROTOCOLS.register("image-list")
def image_list_protocol(pool: ImagePool, rng: np.random.Generator, given: Optional[Mapping[str, np.ndarray]] = None,
                        topk: Optional[int] = None) -> Parts:
    """The train / test (query) / database lists as given by :func:`~csdh.data.image_list.load_image_list`."""
    if given is None or any(k not in given for k in ("train", "query", "database")):
        raise UserError("protocol 'image-list' needs the train / query / database positions of an image list "
                        "(use it with the image-list data set)")
    return Parts(np.asarray(given["query"]), np.asarray(given["train"]), np.asarray(given["database"]), topk)


@PROTOCOLS.register("image-folder")
def image_folder_protocol(pool: ImagePool, rng: np.random.Generator, given: Any = None,
                          query_fraction: float = 0.1, train_fraction: float = 0.5) -> Parts:
    """Per class (by first label): ``query_fraction`` of the images are queries (at least one when the class
    has two or more, never all), the rest the database; ``train_fraction`` of each class's database part (at
    least one) is the training set."""
    if not (0.0 <= query_fraction < 1.0 and 0.0 < train_fraction <= 1.0):
        raise UserError(f"need 0 <= query_fraction < 1 and 0 < train_fraction <= 1, got {query_fraction}, "
                        f"{train_fraction}")
    y = _first_labels(pool)
    query, train, database = [], [], []
    for c in range(pool.n_classes):
        members = np.flatnonzero(y == c)
        if members.size == 0:
            continue
        members = rng.permutation(members)
        n = members.size
        n_q = min(max(_round(query_fraction * n), 1 if (n >= 2 and query_fraction > 0) else 0), n - 1)
        db = members[n_q:]
        n_t = min(max(_round(train_fraction * db.size), 1), db.size)
        query.append(members[:n_q])
        database.append(db)
        train.append(db[:n_t])
    cat = lambda parts: np.sort(np.concatenate(parts)).astype(np.int64)  # noqa: E731
    return Parts(cat(query), cat(train), cat(database), None)


# ------------------------------------------------------------------------------------------------ helpers


def _sorted(a: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(a, dtype=np.int64).reshape(-1))


def _round(x: float) -> int:
    return int(np.floor(x + 0.5))


def _first_labels(pool: ImagePool) -> np.ndarray:
    """Each image's first positive class (0 for an unlabelled image)."""
    return np.argmax(pool.labels, axis=1)


def _single_labels(pool: ImagePool, protocol: str) -> np.ndarray:
    sums = pool.labels.sum(axis=1)
    if (sums != 1).any():
        raise DataError(f"protocol {protocol!r} needs single-label data, but {pool.name!r} has "
                        f"{int((sums != 1).sum())} images with zero or several labels")
    return np.argmax(pool.labels, axis=1)


def _n_train_official(pool: ImagePool, protocol: str) -> int:
    n = getattr(pool, "n_train_official", None)
    if n is None:
        raise DataError(f"protocol {protocol!r} needs a pool with official training and test parts "
                        f"({pool.name!r} has none)")
    return int(n)


def _class_name(pool: ImagePool, c: int) -> str:
    return pool.class_names[c] if c < len(pool.class_names) else str(c)


def _per_class(pool: ImagePool, y: np.ndarray, candidates: np.ndarray, n: int, rng: np.random.Generator,
               protocol: str, what: str) -> np.ndarray:
    """``n`` images of each class drawn without replacement from ``candidates`` (single-label ``y``)."""
    chosen = []
    for c in range(pool.n_classes):
        members = candidates[y[candidates] == c]
        if members.size < n:
            raise DataError(f"protocol {protocol!r} needs {n} {what} images of class {_class_name(pool, c)!r}, "
                            f"but {pool.name!r} has {members.size}")
        chosen.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _query_train(pool: ImagePool, rng: np.random.Generator, protocol: str):
    y = _single_labels(pool, protocol)
    positions = np.arange(len(pool), dtype=np.int64)
    counts = np.bincount(y, minlength=pool.n_classes)
    for c in range(pool.n_classes):
        if counts[c] < 600:
            raise DataError(f"protocol {protocol!r} needs 600 images (100 queries + 500 training) of class "
                            f"{_class_name(pool, c)!r}, but {pool.name!r} has {counts[c]}")
    query = _per_class(pool, y, positions, 100, rng, protocol, "query")
    train = _per_class(pool, y, np.setdiff1d(positions, query), 500, rng, protocol, "training")
    return query, train


def _per_class_multi(pool: ImagePool, n_query: int, n_train: int, rng: np.random.Generator, protocol: str):
    """For each class, ``n_query + n_train`` images having it, drawn without replacement from the labelled
    images not drawn yet; the first ``n_query`` are queries. Returns ``(query, train)``.

    The class with the fewest images still available goes next, so classes that share images (a rare class
    inside a frequent one) cannot starve a rare class.
    """
    labels = pool.labels.astype(bool)
    available = labels.any(axis=1)
    todo = list(range(pool.n_classes))
    n = n_query + n_train
    query, train = [], []
    while todo:
        counts = labels[available][:, todo].sum(axis=0)
        c = todo.pop(int(np.argmin(counts)))
        members = np.flatnonzero(available & labels[:, c])
        if members.size < n:
            raise DataError(f"protocol {protocol!r} needs {n} images ({n_query} queries + {n_train} training) "
                            f"of class {_class_name(pool, c)!r} not drawn for another class, but {pool.name!r} "
                            f"has {members.size}")
        pick = rng.choice(members, size=n, replace=False)
        available[pick] = False
        query.append(pick[:n_query])
        train.append(pick[n_query:])
    return np.sort(np.concatenate(query)).astype(np.int64), np.sort(np.concatenate(train)).astype(np.int64)


def _validation(pool: ImagePool, query: np.ndarray, train: np.ndarray, database: np.ndarray, n_val: int,
                rng: np.random.Generator, protocol: str):
    """Returns ``(train, val_query)``; see :func:`make_split`."""
    candidates = np.setdiff1d(np.setdiff1d(database, train), query)
    carve = candidates.size == 0
    if carve:
        candidates = train
    limit = candidates.size // 2 if carve else candidates.size
    n = min(max(int(n_val), 0), limit)
    if n < n_val:
        LOG.warning("protocol %r: only %d validation queries available (asked for %d)", protocol, n, n_val)
    if n == 0:
        return train, np.zeros(0, dtype=np.int64)
    if pool.multi_label:
        val = rng.choice(candidates, size=n, replace=False)
    else:
        val = _stratified(candidates, _first_labels(pool)[candidates], n, rng)
    val = np.sort(val).astype(np.int64)
    if carve:
        train = np.setdiff1d(train, val)
    return train, val


def _stratified(candidates: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``candidates`` with class proportions kept (largest-remainder rounding)."""
    classes, counts = np.unique(y, return_counts=True)
    quota = n * counts / counts.sum()
    alloc = np.floor(quota).astype(np.int64)
    extra = n - int(alloc.sum())
    if extra:
        alloc[np.argsort(-(quota - alloc), kind="stable")[:extra]] += 1
    return np.concatenate([rng.choice(candidates[y == c], size=k, replace=False)
                           for c, k in zip(classes, alloc) if k > 0])
