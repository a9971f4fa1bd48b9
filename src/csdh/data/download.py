"""The cache folder of downloaded data sets, and checksum-verified downloads."""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Optional, Sequence, Union

from csdh.errors import DataError

LOG = logging.getLogger(__name__)

CACHE_ENV = "CSDH_CACHE"


def cache_root() -> Path:
    """csdh's cache folder: ``$CSDH_CACHE``, else ``~/.cache/csdh``. Nothing is created."""
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "csdh"


def cache_dir(dataset: str, override: Optional[Union[str, Path]] = None) -> Path:
    """Where ``dataset`` is cached: ``override`` if given, else ``cache_root() / <dataset>``. Nothing is
    created."""
    return Path(override) if override is not None else cache_root() / dataset


def md5sum(path: Union[str, Path], chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download(urls: Sequence[str], dest: Union[str, Path], md5: str, timeout: float = 60.0) -> Path:
    """Download a file to ``dest``, trying each mirror in turn, and verify its MD5.

    The bytes go to a temporary file next to ``dest``, which is renamed to ``dest`` only after the checksum
    matches, so an interrupted or corrupt download never leaves a file at ``dest``.

    Raises:
        DataError: every mirror failed (offline, HTTP error) or the checksum did not match.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
        try:
            h = hashlib.md5()
            LOG.info("downloading %s to %s", url, dest)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != md5:
                failures.append(f"{url}: MD5 {h.hexdigest()} does not match the expected {md5}")
                continue
            os.replace(tmp, dest)
            return dest
        except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
            failures.append(f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DataError("download failed: " + "; ".join(failures), dest)
