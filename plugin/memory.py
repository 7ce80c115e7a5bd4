"""Keep a long ingest's native memory flat: bounded allocator and oneDNN caches.

Measured with ``bench/ingest.py --scale-check`` (MiniLM on the CPU): without these, peak RSS grew
with the corpus even though every queue is bounded. Two native causes, neither visible to Python:

* glibc raises its mmap threshold after large blocks are freed (up to 32 MB), so the activations of
  every new batch shape then come from the heap and fragment it. A fixed threshold keeps large
  blocks in ``mmap``, returned to the OS when freed.
* oneDNN caches compiled kernels per tensor shape (1024 by default); token-budget batches have ever
  new shapes, so the cache fills with kernels that are rarely reused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

__all__ = ["MMAP_THRESHOLD", "ONEDNN_CACHE", "bound_native_caches"]

log = logging.getLogger(__name__)

#: bytes from which glibc serves an allocation with mmap (fixed, so it no longer adapts upwards)
MMAP_THRESHOLD = 128 * 1024
#: oneDNN primitive cache entries (its default is 1024)
ONEDNN_CACHE = "64"
_M_MMAP_THRESHOLD = -3
_done = False


def bound_native_caches() -> bool:
    """Apply both bounds once per process; returns whether glibc accepted the mmap threshold.

    ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` (and glibc's ``MALLOC_MMAP_THRESHOLD_``) set by the user win.
    oneDNN reads its variable when it first runs, so call this before the first CPU encode.
    """
    global _done
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE)
    if _done or not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return _done
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        log.debug("mallopt is not available: native memory is left to the allocator's defaults")
    return _done
