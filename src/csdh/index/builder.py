"""Build, extend and shrink index folders: streaming encoding, skip report, atomic writes.

Encoding streams: images are decoded, resized to the model's input size and encoded one batch at a time,
and each batch's codes and metadata go straight into the FAISS index and SQLite, so memory holds one batch
of images (plus the codes, which FAISS keeps anyway). An image that cannot be read is skipped, counted in
the manifest and listed in ``skipped.txt``; it never stops a build.

Every write is atomic (see :mod:`csdh.index.atomic`): ``build`` writes a new folder next to the target and
swaps it in; ``add`` and ``remove`` copy the current folder, change the copy, and swap it in. A crash at any
point leaves the previous, consistent index. The price is that ``add``/``remove`` rewrite the folder
(O(index size) disk writes), so batch many additions into one call.
"""
from __future__ import annotations

import io
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from csdh.data.transforms import resize_square
from csdh.errors import DataError, UserError
from csdh.index.atomic import replace_dir, staged_dir, writer_lock
from csdh.index.binary_index import HammingIndex
from csdh.index.image_index import SKIPPED_FILE, ImageIndex
from csdh.index.manifest import MANIFEST_FILE, Manifest, now_iso
from csdh.index.metadata import METADATA_FILE, Item, MetadataStore
from csdh.index.sources import ImageSource

LOG = logging.getLogger(__name__)

Progress = Callable[..., Iterable]
PathLike = Union[str, Path]

#: stored thumbnails (of images that have no file) are at most this many pixels on a side
THUMBNAIL_SIZE = 256


@dataclass(frozen=True)
class BuildReport:
    """What a build or an addition did.

    Attributes:
        path: the index folder.
        added: items added.
        skipped: ``(image, reason)`` of the images that could not be read.
        count: items in the index afterwards.
        first_id: the id of the first added item (None if nothing was added).
        seconds: wall time.
    """

    path: Path
    added: int
    skipped: Tuple[Tuple[str, str], ...] = field(default_factory=tuple)
    count: int = 0
    first_id: Optional[int] = None
    seconds: float = 0.0


def _identity(iterable: Iterable, **_: Any) -> Iterable:
    return iterable


def thumbnail_png(img: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    """A PNG of ``img`` (uint8 RGB) scaled down to at most ``size`` pixels on its longer side."""
    pil = Image.fromarray(np.asarray(img, dtype=np.uint8))
    pil.thumbnail((size, size))
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _encode_stream(model, source: ImageSource, index: HammingIndex, store: MetadataStore, first_id: int,
                   batch_size: int, workers: int, progress: Optional[Progress]) -> Tuple[int, List[Tuple[str, str]]]:
    """Encode ``source`` batch by batch into ``index`` and ``store``; returns ``(n_added, skipped)``."""
    size = model.config.input_size
    next_id = first_id
    skipped: List[Tuple[str, str]] = []
    n = len(source)
    starts = range(0, n, batch_size)
    bar = (progress or _identity)(starts, desc="index", total=len(starts), unit="batch")
    executor = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

    def load(i: int):
        try:
            return i, resize_square(source.load(i), size), None
        except DataError as exc:
            return i, None, str(exc)

    try:
        for start in bar:
            idx = list(range(start, min(start + batch_size, n)))
            codes, good = _encode_pool_fast(model, source, idx, batch_size)
            images: dict = {}
            if codes is None:  # decode here, skipping what cannot be read
                results = executor.map(load, idx) if executor is not None else map(load, idx)
                for i, img, err in results:
                    if img is None:
                        skipped.append((source.describe(i), err or "unreadable"))
                        LOG.warning("skipping %s", err)
                    else:
                        images[i] = img
                good = sorted(images)
                codes = (model.pack_database(model.encode_images([images[i] for i in good], batch_size=batch_size))
                         if good else np.zeros((0, index.code_size), np.uint8))
            ids = np.arange(next_id, next_id + len(good), dtype=np.int64)
            items, thumbs = [], []
            for item_id, i in zip(ids, good):
                e = source.entries[i]
                items.append(Item(int(item_id), e.path, tuple(e.labels), e.position))
                if e.path is None:  # an in-memory data set image: keep a thumbnail, there is no file to show
                    img = images.get(i)
                    if img is None:
                        img = source.load(i)
                    thumbs.append((int(item_id), "image/png", thumbnail_png(img)))
            index.add(codes, ids)
            store.add(items, thumbs)
            next_id += len(good)
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
    return next_id - first_id, skipped


def _encode_pool_fast(model, source: ImageSource, idx: Sequence[int], batch_size: int):
    """Codes of data set entries through the run's own pool encoder (a frozen run reuses its feature cache).

    Returns ``(None, None)`` when the source is not a pool or an image of the batch cannot be read (then the
    caller decodes image by image and skips the bad ones).
    """
    if source.pool is None:
        return None, None
    positions = np.asarray([source.entries[i].position for i in idx], dtype=np.int64)
    try:
        codes = model.encode_pool_packed(source.pool, positions, database=True, batch_size=batch_size)
    except DataError:
        return None, None
    return codes, list(idx)


def _write_skipped(folder: Path, skipped: Sequence[Tuple[str, str]], header: str) -> None:
    if not skipped:
        return
    with open(folder / SKIPPED_FILE, "a", encoding="utf-8") as f:
        f.write(f"# {header}\n")
        for path, reason in skipped:
            f.write(f"{path}\t{reason.replace(chr(10), ' ')}\n")


def build_index(model, source: ImageSource, out: PathLike, kind: str = "flat",
                params: Optional[Mapping[str, Any]] = None, overwrite: bool = False, batch_size: int = 64,
                workers: int = 2, progress: Optional[Progress] = None) -> BuildReport:
    """Encode every image of ``source`` with ``model`` into a new index folder ``out``.

    Args:
        model: a :class:`csdh.engine.run_model.RunModel`.
        source: the images (:mod:`csdh.index.sources`).
        out: the index folder; built next to it, then swapped in.
        kind: "flat" (exact), "hnsw" or "multihash" (approximate).
        params: the kind's parameters (``binary_index.DEFAULT_PARAMS``).
        overwrite: replace an existing index folder.
        batch_size: images decoded and encoded per step.
        workers: threads decoding images.
        progress: optional ``progress(iterable, desc=, total=, unit=)`` wrapper.

    Raises:
        UserError: ``out`` exists (without ``overwrite``) or is not an index folder; no image was readable.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise UserError("exists and is not a directory", out)
        if not overwrite:
            raise UserError("index exists; pass --overwrite to replace it", out)
        if any(out.iterdir()) and not (out / MANIFEST_FILE).exists():
            raise UserError("refusing to --overwrite a directory that is not a csdh index", out)
    if len(source) == 0:
        raise UserError(f"nothing to index in {source.description}")
    index = HammingIndex.create(kind, model.bits, params)
    with writer_lock(out), staged_dir(out) as tmp:
        store = MetadataStore(tmp / METADATA_FILE)
        try:
            added, skipped = _encode_stream(model, source, index, store, 0, batch_size, workers, progress)
        finally:
            store.close()
        if added == 0:
            raise UserError(f"none of the {len(source)} images could be read; first problem: {skipped[0][1]}")
        index.save(tmp)
        stamp = now_iso()
        _write_skipped(tmp, skipped, f"build {stamp} from {source.description}")
        Manifest(model_checksum=model.checksum, bits=model.bits, backbone=model.config.backbone,
                 input_size=model.config.input_size, method=model.config.method,
                 run_dir=str(model.run.path.resolve()), kind=kind, kind_params=index.params, count=len(index),
                 n_skipped=len(skipped), next_id=added, class_names=tuple(model.class_names),
                 source=source.description, created=stamp, updated=stamp).save(tmp)
        replace_dir(tmp, out)
    LOG.info("indexed %d images into %s (%d skipped)", added, out, len(skipped))
    return BuildReport(out, added, tuple(skipped), added, 0, time.perf_counter() - t0)


def add_to_index(index_dir: PathLike, model, source: ImageSource, batch_size: int = 64, workers: int = 2,
                 progress: Optional[Progress] = None) -> BuildReport:
    """Append the images of ``source`` (new ids) to an index, atomically (copy, change, swap).

    Raises:
        UserError: not an index, or ``model`` is not the index's model.
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    with writer_lock(index_dir):
        with ImageIndex.open(index_dir) as current:
            current.check_model(model.checksum, model.run.model)
            manifest = current.manifest
        with staged_dir(index_dir) as tmp:
            _copy_index(index_dir, tmp)
            index = HammingIndex.load(tmp, manifest.kind, manifest.bits, manifest.kind_params)
            store = MetadataStore(tmp / METADATA_FILE)
            try:
                added, skipped = _encode_stream(model, source, index, store, manifest.next_id, batch_size, workers,
                                                progress)
            finally:
                store.close()
            index.save(tmp)
            stamp = now_iso()
            _write_skipped(tmp, skipped, f"add {stamp} from {source.description}")
            manifest.replace(count=len(index), n_skipped=manifest.n_skipped + len(skipped),
                             next_id=manifest.next_id + added, updated=stamp).save(tmp)
            replace_dir(tmp, index_dir)
    LOG.info("added %d images to %s (%d skipped)", added, index_dir, len(skipped))
    return BuildReport(index_dir, added, tuple(skipped), len(index), manifest.next_id if added else None,
                       time.perf_counter() - t0)


def remove_from_index(index_dir: PathLike, ids: Sequence[int]) -> int:
    """Delete items by id, atomically (copy, change, swap); returns the number removed.

    Raises:
        UserError: not an index, or an id is not in it (then nothing is removed).
    """
    index_dir = Path(index_dir)
    ids = sorted({int(i) for i in ids})
    with writer_lock(index_dir):
        with ImageIndex.open(index_dir) as current:
            missing = [i for i in ids if i not in current.codes]
            manifest = current.manifest
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise UserError(f"no item with id {shown} in the index (nothing removed)", index_dir)
        if not ids:
            return 0
        with staged_dir(index_dir) as tmp:
            _copy_index(index_dir, tmp)
            index = HammingIndex.load(tmp, manifest.kind, manifest.bits, manifest.kind_params)
            index.remove(np.asarray(ids, dtype=np.int64))
            with MetadataStore(tmp / METADATA_FILE) as store:
                store.remove(ids)
            index.save(tmp)
            manifest.replace(count=len(index), updated=now_iso()).save(tmp)
            replace_dir(tmp, index_dir)
    LOG.info("removed %d items from %s", len(ids), index_dir)
    return len(ids)


def _copy_index(src: Path, dst: Path) -> None:
    for path in src.iterdir():
        if path.is_file():
            shutil.copy2(path, dst / path.name)
