"""``manifest.json``: what an index folder holds and which model made its codes."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Tuple, Union

from csdh.errors import UserError

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class Manifest:
    """The description of an index folder; ties the codes to the model that computed them.

    Attributes:
        format_version: the index folder format (``FORMAT_VERSION``).
        model_checksum: sha256 of the run's ``model.pt``; queries must be encoded by the same model.
        bits: code length K.
        backbone: the run's backbone name.
        input_size: the run's input size in pixels.
        method: the run's hashing method.
        run_dir: the run directory (absolute) the index was built with; the default model for searches.
        kind: "flat", "hnsw" or "multihash".
        kind_params: the kind's parameters (``binary_index.DEFAULT_PARAMS``).
        count: items in the index.
        n_skipped: images skipped as unreadable over all builds and additions (listed in ``skipped.txt``).
        next_id: the id the next added item gets (ids are never reused).
        class_names: the run's class names.
        source: how the index was built ("images DIR", "list FILE", "dataset NAME (database split)").
        created: creation time (UTC, ISO 8601).
        updated: time of the last change.
    """

    model_checksum: str
    bits: int
    backbone: str
    input_size: int
    run_dir: str
    kind: str = "flat"
    method: str = ""
    kind_params: Dict[str, int] = field(default_factory=dict)
    count: int = 0
    n_skipped: int = 0
    next_id: int = 0
    class_names: Tuple[str, ...] = ()
    source: str = ""
    created: str = ""
    updated: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "kind_params", {str(k): int(v) for k, v in dict(self.kind_params).items()})

    def replace(self, **changes: Any) -> "Manifest":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["class_names"] = list(self.class_names)
        return d

    def save(self, folder: Union[str, Path]) -> Path:
        """Write ``folder/manifest.json`` atomically (temporary file + rename)."""
        path = Path(folder) / MANIFEST_FILE
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, folder: Union[str, Path]) -> "Manifest":
        """Read ``folder/manifest.json``.

        Raises:
            UserError: the folder or manifest is missing, unreadable, of another format version or incomplete.
        """
        folder = Path(folder)
        if not folder.exists():
            hint = _interrupted_hint(folder)
            raise UserError("no such index directory" + hint, folder)
        if not folder.is_dir():
            raise UserError("not an index directory (a file)", folder)
        path = folder / MANIFEST_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"not a csdh index (no {MANIFEST_FILE}); build one with `csdh index build`", folder) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"unreadable index manifest: {exc}", path) from None
        if not isinstance(data, dict):
            raise UserError("the index manifest is not a JSON object", path)
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise UserError(f"index format version {version!r} is not supported (this csdh reads version "
                            f"{FORMAT_VERSION}); rebuild the index", path)
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise UserError(f"incomplete or invalid index manifest: {exc}", path) from None


def _interrupted_hint(folder: Path) -> str:
    """A hint when an interrupted update left the previous index next to the missing folder."""
    parent = folder.parent
    if not parent.is_dir():
        return ""
    backups = sorted(parent.glob(f".{folder.name}.old-*"))
    if backups:
        return f" (an interrupted update left the previous index at {backups[-1]}; rename it back to {folder})"
    return ""

