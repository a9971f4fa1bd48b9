"""An index folder on disk: manifest + FAISS codes + SQLite metadata (+ the skip report).

Layout of ``INDEX_DIR``::

    manifest.json   format version, model checksum, bits, kind, counts, ... (csdh.index.manifest)
    codes.faiss     the FAISS binary index (faiss.write_index_binary)
    ids.npy         int64 item id of each FAISS position (strictly increasing)
    meta.sqlite     items (id -> path, labels, pool position) and thumbnails (csdh.index.metadata)
    skipped.txt     images skipped as unreadable: "path<TAB>reason" per line
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

from csdh.errors import UserError
from csdh.index.binary_index import HammingIndex
from csdh.index.manifest import Manifest
from csdh.index.metadata import METADATA_FILE, MetadataStore

LOG = logging.getLogger(__name__)

SKIPPED_FILE = "skipped.txt"


class ImageIndex:
    """An opened index folder.

    Attributes:
        path: the folder.
        manifest: its :class:`Manifest`.
        codes: its :class:`HammingIndex`.
        metadata: its :class:`MetadataStore`.
    """

    def __init__(self, path: Path, manifest: Manifest, codes: HammingIndex, metadata: MetadataStore) -> None:
        self.path = path
        self.manifest = manifest
        self.codes = codes
        self.metadata = metadata

    @classmethod
    def open(cls, path: Union[str, Path], readonly: bool = True) -> "ImageIndex":
        """Open ``path``; checks that the manifest, codes and metadata agree.

        Raises:
            UserError: not an index folder, a missing or unreadable file, or inconsistent contents.
        """
        path = Path(path)
        manifest = Manifest.load(path)
        codes = HammingIndex.load(path, manifest.kind, manifest.bits, manifest.kind_params)
        metadata = MetadataStore(path / METADATA_FILE, readonly=readonly)
        if len(codes) != manifest.count:
            metadata.close()
            raise UserError(f"the index holds {len(codes)} codes but its manifest says {manifest.count}", path)
        return cls(path, manifest, codes, metadata)

    def close(self) -> None:
        self.metadata.close()

    def __enter__(self) -> "ImageIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.codes)

    def check_model(self, checksum: str, model_path: Optional[Union[str, Path]] = None) -> None:
        """Raise a UserError unless ``checksum`` (sha256 of a model.pt) is the index's model."""
        if checksum != self.manifest.model_checksum:
            where = f" ({model_path})" if model_path is not None else ""
            raise UserError(
                f"the index was built with another model: its codes come from model sha256 "
                f"{self.manifest.model_checksum[:12]}… (run {self.manifest.run_dir}), but the given model{where} "
                f"is {checksum[:12]}…; search with the index's run (--run) or rebuild the index", self.path)

    def skipped(self) -> list:
        """The skip report as ``[(path, reason), ...]``."""
        f = self.path / SKIPPED_FILE
        if not f.is_file():
            return []
        out = []
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and not line.startswith("#"):
                p, _, reason = line.partition("\t")
                out.append((p, reason))
        return out

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
