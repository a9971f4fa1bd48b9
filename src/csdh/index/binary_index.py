"""A Hamming-distance index of packed binary codes over FAISS, with stable ids and exact tie handling.

Kinds:

* ``flat`` (default): ``faiss.IndexBinaryFlat``, exhaustive and exact. :meth:`HammingIndex.search` returns
  exactly the brute-force answer: the ``k`` items with the smallest ``(distance, id)``, i.e. ties are
  ordered by id and a tie group that straddles rank ``k`` is cut at the smallest ids.
* ``hnsw``: ``faiss.IndexBinaryHNSW`` (graph search), approximate; pays off for large databases
  (millions of codes) where a scan is too slow per query.
* ``multihash``: ``faiss.IndexBinaryMultiHash`` (multi-index hashing on ``nhash`` code substrings, probing
  buckets within ``nflip`` bit flips), approximate for top-k, exact for range search when
  ``radius < nhash * (nflip + 1)``; pays off for small-radius queries over long codes.

Ids are int64 values chosen by the caller (strictly increasing on :meth:`add`); the index keeps its own
position -> id array, so FAISS sees positions ``0..n-1`` and :meth:`remove` works for every kind (flat
removes in place, the approximate kinds are rebuilt from their stored codes).

Why the tie completion is needed: FAISS's top-k keeps *some* ``k`` items of the best distances; which
members of the tie group at the ``k``-th distance survive is an implementation detail. So :meth:`search`
asks FAISS for ``k2 = tie_factor * k`` (>= k + 64) neighbours: if the ``k2``-th distance is larger than the
``k``-th, every item at the ``k``-th distance is among them and sorting by ``(distance, id)`` is exact;
the few queries where that is not so are completed with a range search up to their ``k``-th distance.
This relies only on FAISS returning correct k-NN *distances*, never on how it breaks ties. The larger ``k2``
is cheap because FAISS's counting top-k (``use_heap = False``, one bucket per distance) is used instead of
its heap, whose cost grows with k (see ``benchmarks/bench_index.py``: within a few percent of a raw top-k).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from csdh.codes import check_bits
from csdh.errors import UserError

LOG = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "multihash")
FAISS_FILE = "codes.faiss"
IDS_FILE = "ids.npy"

#: default parameters of each kind (stored in the manifest; ``multihash`` ``b`` defaults from the code length)
DEFAULT_PARAMS: Dict[str, Dict[str, int]] = {
    "flat": {},
    "hnsw": {"m": 32, "ef_construction": 64, "ef_search": 128},
    "multihash": {"nhash": 0, "b": 0, "nflip": 1},
}

_MAX_COUNTING_BYTES = 64 << 20
_ID_BITS = 40  # ids must stay below 2**40 so that (distance << 40) | id is one sortable int64 key
_ID_MASK = (1 << _ID_BITS) - 1
MAX_ID = _ID_MASK

Hits = Tuple[np.ndarray, np.ndarray]  # (distances int32 (m,), ids int64 (m,)), sorted by (distance, id)


def _faiss():
    import faiss

    return faiss


def resolve_params(kind: str, bits: int, params: Optional[Mapping[str, Any]] = None) -> Dict[str, int]:
    """The full parameter set of ``kind`` for ``bits``-bit codes: defaults updated by ``params``.

    Raises:
        UserError: unknown kind, unknown parameter or a value out of range.
    """
    if kind not in KINDS:
        raise UserError(f"unknown index kind {kind!r}; known: {', '.join(KINDS)}")
    out = dict(DEFAULT_PARAMS[kind])
    for key, value in (params or {}).items():
        if value is None:
            continue
        if key not in out:
            raise UserError(f"index kind {kind!r} has no parameter {key!r}; known: {', '.join(out) or 'none'}")
        try:
            out[key] = int(value)
        except (TypeError, ValueError):
            raise UserError(f"index parameter {key} must be an integer, got {value!r}") from None
    if kind == "hnsw":
        for key in out:
            if out[key] < 1:
                raise UserError(f"hnsw parameter {key} must be >= 1, got {out[key]}")
    elif kind == "multihash":
        if out["b"] <= 0:  # one table per 16 bits (at most 8 tables), each hashing b bits
            nhash = out["nhash"] if out["nhash"] > 0 else max(1, min(8, bits // 16))
            out["b"] = max(1, min(24, bits // nhash))
        if out["nhash"] <= 0:
            out["nhash"] = max(1, min(8, bits // out["b"]))
        if out["b"] > 24:
            raise UserError(f"multihash b (bits per hash table) must be <= 24, got {out['b']}")
        if out["nhash"] * out["b"] > bits:
            raise UserError(f"multihash nhash * b = {out['nhash'] * out['b']} exceeds the code length {bits}")
        if out["nflip"] < 0:
            raise UserError(f"multihash nflip must be >= 0, got {out['nflip']}")
    return out


class HammingIndex:
    """Packed ``bits``-bit codes with int64 ids, searchable by Hamming distance.

    Use :meth:`create` or :meth:`load`. Codes are uint8 ``(n, bits // 8)``, LSB-first (csdh.codes.pack).

    Attributes:
        kind: "flat", "hnsw" or "multihash".
        bits: the code length.
        params: the kind's parameters (see ``DEFAULT_PARAMS``).
        tie_factor: ``search`` asks FAISS for ``max(tie_factor * k, k + 64)`` neighbours (flat only).
    """

    def __init__(self, kind: str, bits: int, params: Mapping[str, int], faiss_index: Any, ids: np.ndarray) -> None:
        self.kind = kind
        self.bits = check_bits(bits)
        self.params = dict(params)
        self._index = faiss_index
        self._id_array = np.ascontiguousarray(ids, dtype=np.int64)
        self._id_chunks: List[np.ndarray] = []  # ids added since the last consolidation (cheap streaming adds)
        self._last_id = int(self._id_array[-1]) if len(self._id_array) else -1
        self.tie_factor = 4
        if self._index.ntotal != len(self._ids):
            raise ValueError(f"the FAISS index holds {self._index.ntotal} codes but there are {len(self._ids)} ids")

    @property
    def _ids(self) -> np.ndarray:
        if self._id_chunks:
            self._id_array = np.concatenate([self._id_array, *self._id_chunks])
            self._id_chunks = []
        return self._id_array

    # ------------------------------------------------------------------ construction and persistence
    @classmethod
    def create(cls, kind: str, bits: int, params: Optional[Mapping[str, Any]] = None) -> "HammingIndex":
        """An empty index of ``kind`` for ``bits``-bit codes."""
        bits = check_bits(bits)
        full = resolve_params(kind, bits, params)
        return cls(kind, bits, full, _new_faiss(kind, bits, full), np.zeros(0, dtype=np.int64))

    @classmethod
    def load(cls, folder: Union[str, Path], kind: str, bits: int, params: Mapping[str, Any]) -> "HammingIndex":
        """Read ``folder/codes.faiss`` and ``folder/ids.npy`` (written by :meth:`save`).

        Raises:
            UserError: a file is missing or unreadable, or does not match ``bits``.
        """
        faiss = _faiss()
        folder = Path(folder)
        path = folder / FAISS_FILE
        if not path.is_file():
            raise UserError("missing index file", path)
        try:
            index = faiss.read_index_binary(str(path))
        except RuntimeError as exc:
            raise UserError(f"unreadable FAISS index: {str(exc).splitlines()[0]}", path) from None
        if index.d != bits:
            raise UserError(f"the FAISS index has {index.d}-bit codes, the manifest says {bits}", path)
        try:
            ids = np.load(folder / IDS_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UserError(f"unreadable id file: {exc}", folder / IDS_FILE) from None
        if ids.ndim != 1 or ids.dtype != np.int64 or len(ids) != index.ntotal:
            raise UserError(f"the id file does not match the index ({ids.shape} ids, {index.ntotal} codes)",
                            folder / IDS_FILE)
        full = resolve_params(kind, bits, params)
        _apply_search_params(index, kind, full)
        return cls(kind, bits, full, index, ids)

    def save(self, folder: Union[str, Path]) -> None:
        """Write ``codes.faiss`` and ``ids.npy`` into ``folder`` (each file via a temporary + rename)."""
        faiss = _faiss()
        folder = Path(folder)
        tmp = folder / f".{FAISS_FILE}.tmp{os.getpid()}"
        faiss.write_index_binary(self._index, str(tmp))
        os.replace(tmp, folder / FAISS_FILE)
        tmp = folder / f".{IDS_FILE}.tmp{os.getpid()}.npy"
        np.save(tmp, self._ids)
        os.replace(tmp, folder / IDS_FILE)

    # ------------------------------------------------------------------ contents
    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def ntotal(self) -> int:
        return len(self)

    @property
    def code_size(self) -> int:
        return self.bits // 8

    @property
    def ids(self) -> np.ndarray:
        """int64 ``(n,)`` ids, strictly increasing (read-only view)."""
        v = self._ids.view()
        v.flags.writeable = False
        return v

    def _storage(self) -> Any:
        faiss = _faiss()
        if self.kind == "flat":
            return self._index
        return faiss.downcast_IndexBinary(self._index.storage)

    def codes(self) -> np.ndarray:
        """A copy of all codes, uint8 ``(n, bits // 8)``, in id order."""
        faiss = _faiss()
        if len(self) == 0:
            return np.zeros((0, self.code_size), dtype=np.uint8)
        return faiss.vector_to_array(self._storage().xb).reshape(len(self), self.code_size).copy()

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in the index; -1 for an id that is not present."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(self._ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return np.where(self._ids[pos] == ids, pos, -1)

    def __contains__(self, item_id: object) -> bool:
        try:
            return bool(self.positions(np.asarray([item_id], dtype=np.int64))[0] >= 0)
        except (TypeError, ValueError, OverflowError):
            return False

    def code(self, item_id: int) -> np.ndarray:
        """The code of one id, uint8 ``(1, bits // 8)``.

        Raises:
            KeyError: no such id.
        """
        try:
            pos = int(self.positions(np.asarray([item_id], dtype=np.int64))[0])
        except (TypeError, ValueError, OverflowError):
            raise KeyError(item_id) from None
        if pos < 0:
            raise KeyError(item_id)
        return np.asarray(self._storage().reconstruct(pos), dtype=np.uint8).reshape(1, self.code_size)

    # ------------------------------------------------------------------ updates
    def add(self, codes: np.ndarray, ids: np.ndarray) -> None:
        """Append codes with their ids; ids must be strictly increasing and larger than every present id."""
        codes = self._check_codes(codes)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(codes):
            raise ValueError(f"{len(codes)} codes but {len(ids)} ids")
        if len(ids) == 0:
            return
        if (np.diff(ids) <= 0).any() or ids[0] <= self._last_id or ids[0] < 0:
            raise ValueError("ids must be non-negative, strictly increasing and larger than the existing ids")
        if ids[-1] > MAX_ID:
            raise ValueError(f"ids must be below 2**{_ID_BITS}")
        self._index.add(codes)
        self._id_chunks.append(ids.copy())
        self._last_id = int(ids[-1])

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids`` (all must be present); returns the number removed.

        Raises:
            KeyError: an id is not in the index (nothing is removed).
        """
        faiss = _faiss()
        ids = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        pos = self.positions(ids)
        if (pos < 0).any():
            raise KeyError([int(i) for i in ids[pos < 0]])
        if len(pos) == 0:
            return 0
        keep = np.ones(len(self._ids), dtype=bool)
        keep[pos] = False
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(pos.astype(np.int64)))
        else:  # graph and hash tables cannot remove: rebuild from the stored codes
            LOG.info("rebuilding the %s index without %d codes", self.kind, len(pos))
            codes = self.codes()[keep]
            self._index = _new_faiss(self.kind, self.bits, self.params)
            if len(codes):
                self._index.add(codes)
        self._id_array = self._ids[keep]
        return int(len(pos))

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self.code_size:
            raise ValueError(f"codes must be uint8 (n, {self.code_size}), got {codes.dtype} {codes.shape}")
        return np.ascontiguousarray(codes)

    # ------------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest codes of each query, ordered by ``(distance, id)``.

        For ``flat`` the answer is exactly the brute-force one (ties by id, a tie group cut at the smallest
        ids). The approximate kinds return what FAISS finds, sorted the same way.

        Args:
            queries: uint8 ``(nq, bits // 8)``.
            k: number of neighbours (>= 1); at most ``len(self)`` are returned.

        Returns:
            ``(distances, ids)``: int32 and int64 ``(nq, min(k, n))``; an approximate kind pads missing
            results with distance -1 and id -1 at the end of a row.
        """
        queries = self._check_codes(queries)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        n = len(self)
        k = min(int(k), n)
        if k == 0 or len(queries) == 0:
            return np.zeros((len(queries), k), dtype=np.int32), np.zeros((len(queries), k), dtype=np.int64)
        if self.kind == "flat":
            return self._search_exact(queries, k)
        d, pos = self._index.search(queries, k)
        valid = pos >= 0
        keys = np.where(valid, (d.astype(np.int64) << _ID_BITS) | self._ids[np.where(valid, pos, 0)],
                        np.iinfo(np.int64).max)
        keys = np.sort(keys, axis=1)
        return _split_keys(keys)

    def _search_exact(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        n = len(self)
        k2 = min(n, max(self.tie_factor * k, k + 64))
        # FAISS's counting top-k (use_heap=False) costs almost nothing extra for a larger k2, unlike the heap,
        # but keeps k2 ids per possible distance for each query of a batch: use it while that stays small.
        batch = int(getattr(self._index, "query_batch_size", 32))
        self._index.use_heap = batch * (self.bits + 1) * k2 * 8 > _MAX_COUNTING_BYTES
        d, pos = self._index.search(queries, k2)
        keys = (d.astype(np.int64) << _ID_BITS) | self._ids[pos]
        if k2 > k:
            keys = np.partition(keys, k - 1, axis=1)[:, :k]
        top = np.sort(keys, axis=1)
        if k2 == n:  # every code was ranked
            return _split_keys(top)
        kth = top[:, -1] >> _ID_BITS
        incomplete = np.flatnonzero(d.max(axis=1) <= kth)  # the tie group at the k-th distance may go on
        if len(incomplete):
            LOG.debug("completing %d of %d queries whose tie group reaches rank %d", len(incomplete), len(queries), k2)
            for radius in np.unique(kth[incomplete]):
                same = incomplete[kth[incomplete] == radius]
                for start in range(0, len(same), 16):  # a few queries at a time: tie groups can be huge
                    rows = same[start:start + 16]
                    for row, (dist, ids) in zip(rows, self._range_exact(queries[rows], int(radius))):
                        top[row] = ((dist[:k].astype(np.int64) << _ID_BITS) | ids[:k])  # already sorted
        return _split_keys(top)

    def range_search(self, queries: np.ndarray, radius: int) -> List[Hits]:
        """Every code within Hamming distance ``<= radius`` of each query, ordered by ``(distance, id)``.

        Exact for ``flat``; for ``multihash`` exact when ``radius < nhash * (nflip + 1)``; for ``hnsw``
        emulated by growing top-k searches (approximate).

        Returns:
            one ``(distances int32, ids int64)`` pair per query.
        """
        queries = self._check_codes(queries)
        radius = int(radius)
        if radius < 0:
            raise ValueError(f"radius must be >= 0, got {radius}")
        if len(self) == 0:
            return [(np.zeros(0, np.int32), np.zeros(0, np.int64)) for _ in range(len(queries))]
        if self.kind == "hnsw":
            return [self._range_by_knn(queries[i:i + 1], radius) for i in range(len(queries))]
        return self._range_exact(queries, radius)

    def _range_exact(self, queries: np.ndarray, radius: int) -> List[Hits]:
        # FAISS range search is strict (distance < radius): "within r" is range_search(q, r + 1)
        lims, d, pos = self._index.range_search(queries, radius + 1)
        out: List[Hits] = []
        for i in range(len(queries)):
            a, b = int(lims[i]), int(lims[i + 1])
            keys = np.sort((d[a:b].astype(np.int64) << _ID_BITS) | self._ids[pos[a:b]])
            out.append(((keys >> _ID_BITS).astype(np.int32), keys & _ID_MASK))
        return out

    def _range_by_knn(self, query: np.ndarray, radius: int) -> Hits:
        k = 64
        while True:
            dist, ids = self.search(query, k)
            dist, ids = dist[0], ids[0]
            ok = (ids >= 0) & (dist <= radius)
            if not ok.all() or k >= len(self):
                return dist[ok], ids[ok]
            k *= 4


def _split_keys(keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    missing = keys == np.iinfo(np.int64).max
    dist = (keys >> _ID_BITS).astype(np.int32)
    ids = keys & _ID_MASK
    if missing.any():
        dist[missing] = -1
        ids[missing] = -1
    return dist, ids


def _new_faiss(kind: str, bits: int, params: Mapping[str, int]) -> Any:
    faiss = _faiss()
    if kind == "flat":
        return faiss.IndexBinaryFlat(bits)
    if kind == "hnsw":
        index = faiss.IndexBinaryHNSW(bits, int(params["m"]))
        index.hnsw.efConstruction = int(params["ef_construction"])
    elif kind == "multihash":
        index = faiss.IndexBinaryMultiHash(bits, int(params["nhash"]), int(params["b"]))
    else:  # pragma: no cover - resolve_params rejects it first
        raise UserError(f"unknown index kind {kind!r}")
    _apply_search_params(index, kind, params)
    return index


def _apply_search_params(index: Any, kind: str, params: Mapping[str, int]) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = int(params["ef_search"])
    elif kind == "multihash":
        index.nflip = int(params["nflip"])
