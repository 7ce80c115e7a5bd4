"""Keep a long ingest's native memory flat: hand freed heap memory back to the OS after each batch.

Without it RSS grows with the corpus although every queue is bounded and Python's own memory stays
flat: the activations of ever-new batch shapes fragment glibc's heap. ``malloc_trim`` after each batch
keeps the growth small at no measurable speed cost, where a fixed mmap threshold (``mallopt``) or a
small oneDNN kernel cache slowed encoding down markedly. That kernel cache grew with the number of
distinct batch shapes; padding batches to a multiple of
16 tokens (``legalrag.plugin.models.encoder.PAD_MULTIPLE``) bounds it instead, and is faster.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

__all__ = ["release_free_memory"]

_libc: Any = None
_missing = False


def release_free_memory() -> bool:
    """Return freed heap pages to the OS (glibc ``malloc_trim``); False where that is not available."""
    global _libc, _missing
    if _missing or not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim  # noqa: B018  (musl has no malloc_trim)
        except (OSError, AttributeError):
            _missing = True
            return False
    return bool(_libc.malloc_trim(0))
