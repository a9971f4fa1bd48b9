"""Keep freed memory in the process instead of handing it back to the kernel after every batch.

glibc's ``malloc`` serves every allocation above its mmap threshold (at most 32 MiB by default) with a
fresh ``mmap`` and returns it with ``munmap`` when freed. A CNN's activations on a batch of images are
exactly such blocks (EfficientNet-Lite0 at 224 px, batch 32: up to 150 MB each), so every forward and
backward pass maps them anew, and the kernel zero-fills every page on first touch. On the two-core
development machine this page-fault churn took more CPU time than the convolutions themselves (a 224-px
``csdh evaluate`` spent 27 minutes in the kernel against 20 in user space) — see BENCHMARKS.md, "Speed".

:func:`tune_malloc` raises the mmap and trim thresholds so that those blocks come from the heap and are
reused. It changes process-wide allocator settings, so the library never calls it on import; the
``csdh`` command calls it once at start, and a program that uses csdh as a library may call it too.
Elsewhere than on Linux with glibc it does nothing. ``CSDH_MALLOC_TUNING=0`` in the environment turns
it off.
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3

DEFAULT_THRESHOLD = 1 << 30  # 1 GiB: larger than any activation of the batch sizes csdh uses
FALLBACK_THRESHOLD = 32 << 20  # the most that older glibc versions accept for M_MMAP_THRESHOLD
ENV_SWITCH = "CSDH_MALLOC_TUNING"


def tune_malloc(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Serve allocations below ``threshold`` bytes from the reusable heap and keep up to ``threshold``
    bytes of freed memory at its top; return whether the settings were applied.

    The cost is that the process holds on to memory it freed (up to its peak use plus ``threshold``)
    until it exits. Returns False, changing nothing, when ``CSDH_MALLOC_TUNING`` is ``0``, when the C
    library is not glibc, or when glibc refuses both ``threshold`` and the 32 MiB fallback.
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        log.debug("malloc tuning off (%s=0)", ENV_SWITCH)
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # raises AttributeError unless the C library is glibc
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.debug("malloc tuning skipped: the C library is not glibc")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    for value in (threshold, min(threshold, FALLBACK_THRESHOLD)):
        if mallopt(M_MMAP_THRESHOLD, value) == 1:
            mallopt(M_TRIM_THRESHOLD, value)
            log.debug("malloc tuning: mmap and trim thresholds set to %d bytes", value)
            return True
    log.debug("malloc tuning skipped: glibc refused the mmap threshold")
    return False
