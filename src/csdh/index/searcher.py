"""Search an index with images: the index folder plus the model that made its codes."""
from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from csdh.codes import pack
from csdh.data.images import DEFAULT_MAX_PIXELS, decode_image_bytes, read_image
from csdh.errors import DataError, UserError
from csdh.index.image_index import ImageIndex
from csdh.index.metadata import Item, Label

LOG = logging.getLogger(__name__)

PathLike = Union[str, Path]


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: int
    distance: int
    path: Optional[str]
    labels: Tuple[Label, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "distance": self.distance, "path": self.path, "labels": list(self.labels)}


class Searcher:
    """An opened index and its model, ready to answer image queries.

    Use :meth:`open`. Thread-safe: encoding is serialised by a lock, FAISS searches and metadata reads are
    safe to run concurrently.

    Attributes:
        index: the :class:`ImageIndex`.
        model: the :class:`csdh.engine.run_model.RunModel` (None when opened with ``load_model=False``).
        max_pixels: decompression-bomb limit for query images and item images read from disk.
    """

    def __init__(self, index: ImageIndex, model, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.index = index
        self.model = model
        self.max_pixels = int(max_pixels)
        self._encode_lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: PathLike, run_dir: Optional[PathLike] = None, device: str = "cpu",
             max_pixels: int = DEFAULT_MAX_PIXELS, load_model: bool = True) -> "Searcher":
        """Open ``index_dir`` and load its model: ``run_dir``, or the run recorded in the manifest.

        Raises:
            UserError: not an index; the model is missing or is not the one the index was built with.
        """
        from csdh.engine.run_model import RunModel

        index = ImageIndex.open(index_dir)
        model = None
        try:
            if load_model:
                run = Path(run_dir) if run_dir is not None else Path(index.manifest.run_dir)
                if run_dir is None and not (run / "model.pt").exists():
                    raise UserError(f"the index's model run {run} is not available (moved or deleted?); "
                                    "pass --run RUN_DIR with the run the index was built with", index.path)
                model = RunModel.load(run, device=device)
                index.check_model(model.checksum, model.run.model)
        except BaseException:
            index.close()
            raise
        return cls(index, model, max_pixels=max_pixels)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> "Searcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ encoding
    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Packed codes uint8 ``(n, K/8)`` of uint8 RGB images."""
        if self.model is None:
            raise RuntimeError("this searcher was opened without its model")
        with self._encode_lock:
            return pack(self.model.encode_images(list(images)))

    def read_query(self, path: PathLike) -> np.ndarray:
        """Decode a query image file (DataError naming it when unreadable)."""
        return read_image(path, self.max_pixels)

    def decode_query(self, data: bytes, name: str = "upload") -> np.ndarray:
        return decode_image_bytes(data, self.max_pixels, name)

    # ------------------------------------------------------------------ search
    def search_codes(self, codes: np.ndarray, k: Optional[int] = 10, radius: Optional[int] = None) -> List[List[Hit]]:
        """Results per query code, ordered by (distance, id).

        Args:
            codes: uint8 ``(nq, K/8)``.
            k: number of results; with ``radius``, the first ``k`` of those within it (None: all of them).
            radius: return the items at Hamming distance ``<= radius``.
        """
        if radius is not None:
            found = self.index.codes.range_search(codes, int(radius))
            if k is not None:
                found = [(d[:k], i[:k]) for d, i in found]
        else:
            dist, ids = self.index.codes.search(codes, int(k if k is not None else 10))
            found = [(d[i >= 0], i[i >= 0]) for d, i in zip(dist, ids)]
        wanted = np.unique(np.concatenate([i for _, i in found])) if found else np.zeros(0, np.int64)
        items = self.index.metadata.get_many(wanted.tolist())
        out: List[List[Hit]] = []
        for dist, ids in found:
            row = []
            for d, i in zip(dist.tolist(), ids.tolist()):
                it = items.get(i)
                row.append(Hit(i, d, it.path if it else None, it.labels if it else ()))
            out.append(row)
        return out

    def search_images(self, images: Sequence[np.ndarray], k: Optional[int] = 10,
                      radius: Optional[int] = None) -> List[List[Hit]]:
        return self.search_codes(self.encode(images), k=k, radius=radius)

    def search_id(self, item_id: int, k: Optional[int] = 10, radius: Optional[int] = None) -> List[Hit]:
        """Results for the stored code of item ``item_id`` ("more like this"). KeyError if no such item.

        The stored code is the item's database code: with a database dither (``--db-dither``) an item the
        model is unsure of searches with its dithered bits, not with the query code sign(h) an uploaded
        copy of the image would get."""
        return self.search_codes(self.index.codes.code(item_id), k=k, radius=radius)[0]

    # ------------------------------------------------------------------ items
    def item(self, item_id: int) -> Optional[Item]:
        if item_id not in self.index.codes:
            return None
        return self.index.metadata.get(item_id)

    def _existing_item(self, item_id: int) -> Item:
        """The item ``item_id``; KeyError if there is none."""
        it = self.item(item_id)
        if it is None:
            raise KeyError(item_id)
        return it

    def item_image(self, item_id: int) -> np.ndarray:
        """The image of an item: its file, or its stored thumbnail.

        Raises:
            KeyError: no such item.
            DataError: its file cannot be read any more.
        """
        it = self._existing_item(item_id)
        if it.path is not None:
            return read_image(it.path, self.max_pixels)
        thumb = self.index.metadata.thumbnail(item_id)
        if thumb is None:
            raise DataError(f"item {item_id} has neither an image file nor a stored thumbnail")
        return np.asarray(Image.open(io.BytesIO(thumb[1])).convert("RGB"))

    def thumbnail(self, item_id: int, size: int = 256) -> Tuple[str, bytes]:
        """``(mime, data)``: a stored thumbnail, or a JPEG of the item's file at most ``size`` px on a side.

        Raises:
            KeyError: no such item.
            DataError: its file cannot be read any more.
        """
        it = self._existing_item(item_id)
        if it.path is None:
            thumb = self.index.metadata.thumbnail(item_id)
            if thumb is None:
                raise DataError(f"item {item_id} has neither an image file nor a stored thumbnail")
            return thumb
        pil = Image.fromarray(read_image(it.path, self.max_pixels))
        pil.thumbnail((size, size))
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=85)
        return "image/jpeg", buf.getvalue()

    def stats(self) -> Dict[str, Any]:
        m = self.index.manifest
        return {"count": len(self.index), "bits": m.bits, "kind": m.kind, "kind_params": dict(m.kind_params),
                "n_skipped": m.n_skipped,
                "model": {"checksum": m.model_checksum, "backbone": m.backbone, "input_size": m.input_size,
                          "method": m.method, "run_dir": str(self.model.run.path) if self.model else m.run_dir},
                "created": m.created, "updated": m.updated, "source": m.source}
