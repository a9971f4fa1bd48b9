"""Atomic replacement of a whole directory: build next to the target, then swap it in by rename.

Every write of an index folder (build, add, remove) makes a complete new folder ``.NAME.tmp-PID-XXXX`` in
the same parent directory, flushes it to disk, then swaps it with the target:

* on Linux with ``renameat2(RENAME_EXCHANGE)`` the swap is one atomic system call: at every instant
  ``NAME`` is either the complete old or the complete new folder;
* elsewhere it is two renames (``NAME`` -> ``.NAME.old-PID``, new -> ``NAME``); a crash between them leaves
  no ``NAME`` but the intact previous folder at ``.NAME.old-PID``, and opening ``NAME`` says so.

An interrupted build therefore never damages the previous index; its leftover temporary folder is removed
by the next write once its process is gone. Writers of one target are serialised by an ``flock`` on
``.NAME.lock``.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator, Optional

from csdh.errors import UserError

LOG = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def temp_dir_for(target: Path) -> Path:
    """A new, empty temporary folder next to ``target`` (same file system, so rename is atomic)."""
    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    return tmp


def remove_stale_temps(target: Path) -> None:
    """Delete temporary folders of ``target`` left by processes that no longer run."""
    for path in Path(target).parent.glob(f".{Path(target).name}.tmp-*"):
        try:
            pid = int(path.name.rsplit(".tmp-", 1)[1].split("-")[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            LOG.info("removing %s, left by an interrupted write", path)
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk."""
    for path in Path(folder).iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_dir(new: Path, target: Path) -> None:
    """Make the complete folder ``new`` become ``target``; the previous ``target`` (if any) is deleted."""
    new, target = Path(new), Path(target)
    fsync_tree(new)
    if not target.exists():
        os.rename(new, target)
        _fsync_dir(target.parent)
        return
    if _exchange(new, target):
        _fsync_dir(target.parent)
        shutil.rmtree(new, ignore_errors=True)  # now holds the previous index
        return
    backup = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, backup)
    os.rename(new, target)
    _fsync_dir(target.parent)
    shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def writer_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``target``'s writes (``.NAME.lock`` next to it); fails fast if taken."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    fd: Optional[int] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError("another csdh process is writing this index; try again when it has finished",
                            target) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """A temporary folder next to ``target`` that is deleted unless the caller swapped it in."""
    tmp = temp_dir_for(target)
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
