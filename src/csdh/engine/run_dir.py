"""The run directory: everything a training run writes, and how to read it back.

Layout::

    RUN_DIR/config.json       the TrainConfig
    RUN_DIR/split.json        the protocol's positions (query, train, database, validation)
    RUN_DIR/checkpoint.pt     the latest epoch (model, optimiser, loss state, RNG) for --resume
    RUN_DIR/model.pt          the selected model (best validation mAP) used by evaluate/encode/index
    RUN_DIR/log.jsonl         one line of statistics per epoch
    RUN_DIR/metrics.json      written by ``csdh evaluate`` (plus CSV and PNG files)

Every file is written to a temporary name and renamed, so an interrupted run never leaves a
half-written file behind.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Union

import torch

from csdh.atomic_io import atomic_output
from csdh.errors import UserError

RUN_FILES = ("config.json", "split.json", "checkpoint.pt", "model.pt", "log.jsonl", "metrics.json")


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def file_sha256(path: Union[str, Path]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class RunDir:
    """Paths of one run directory."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.json")
    split = property(lambda self: self.path / "split.json")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    model = property(lambda self: self.path / "model.pt")
    log = property(lambda self: self.path / "log.jsonl")
    metrics = property(lambda self: self.path / "metrics.json")

    def prepare_new(self, overwrite: bool) -> None:
        """Make the folder for a new run; refuse an existing, non-empty one unless ``overwrite``."""
        aside = self._set_aside(overwrite)
        if aside is not None:
            shutil.rmtree(aside)

    @contextmanager
    def starting(self, overwrite: bool) -> Iterator[None]:
        """Make the folder for a new run, and undo that if the run fails before its first checkpoint.

        An existing run replaced with ``overwrite`` is first set aside (renamed to ``.NAME.replaced``
        beside it), not deleted: if the body raises before a checkpoint exists (unreadable images found
        while computing features, an interrupt in the first epoch), the partial new run is removed and
        the old one comes back as it was, and a folder this call created is removed again. Once a
        checkpoint exists the new run can be resumed, so the old run is deleted whatever happens.
        """
        existed = self.path.exists()
        aside = self._set_aside(overwrite)
        try:
            yield
        except BaseException:
            if not self.checkpoint.exists():
                shutil.rmtree(self.path, ignore_errors=True)
                if aside is not None:
                    aside.rename(self.path)
                    aside = None
                elif existed:
                    self.path.mkdir(parents=True, exist_ok=True)
            raise
        finally:
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)

    def _set_aside(self, overwrite: bool) -> Optional[Path]:
        """Refuse what may not be replaced, rename a run being replaced out of the way, make the folder.

        Returns where the replaced run now is (``None`` when there was none)."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError("exists and is not a directory", self.path)
        aside = None
        if self.path.exists() and any(self.path.iterdir()):
            if not overwrite:
                raise UserError("run directory exists and is not empty; pass --overwrite to replace it "
                                "or --resume to continue it", self.path)
            if not self.config.exists() and not self.checkpoint.exists():
                raise UserError("refusing to --overwrite a directory that is not a csdh run directory", self.path)
            full = self.path.resolve()
            aside = full.with_name(f".{full.name}.replaced")
            if aside.exists():  # left by a replacing run that was killed outright
                shutil.rmtree(aside)
            self.path.rename(aside)
        self.path.mkdir(parents=True, exist_ok=True)
        return aside

    def require(self, what: str = "model") -> None:
        """Raise a clear error unless this is a finished (``model``) or started (``checkpoint``) run."""
        if not self.path.is_dir():
            raise UserError("no such run directory", self.path)
        need = self.model if what == "model" else self.checkpoint
        if not self.config.exists() or not need.exists():
            raise UserError(f"not a csdh run directory with a trained model (missing {need.name}); "
                            "train one with `csdh train`", self.path)

    def read_json(self, path: Path) -> Dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError("missing file", path) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"unreadable JSON: {exc}", path) from None

    def load_torch(self, path: Path) -> Dict[str, Any]:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise UserError("missing file", path) from None
        except Exception as exc:  # corrupt or truncated pickle/zip
            raise UserError(f"unreadable checkpoint: {type(exc).__name__}: {exc}", path) from None

    def append_log(self, record: Dict[str, Any]) -> None:
        with open(self.log, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def model_checksum(self) -> Optional[str]:
        return file_sha256(self.model) if self.model.exists() else None
