from __future__ import annotations

import sys

import pytest

from legalrag.plugin import memory


def _rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_handed_back() -> None:
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    # 125 MB of heap blocks (under the mmap threshold), touched, then all freed but the last, which
    # pins the top of the heap: free() alone cannot give the pages back, malloc_trim can
    blocks = [libc.malloc(64 * 1024) for _ in range(2000)]
    for block in blocks:
        libc.memset(block, 1, 64 * 1024)
    for block in blocks[:-1]:
        libc.free(block)
    held = _rss_mb()
    try:
        assert memory.release_free_memory() is True
        assert held - _rss_mb() > 60, "malloc_trim returned the freed heap pages to the OS"
    finally:
        libc.free(blocks[-1])
    assert memory._missing is False, "glibc's malloc_trim was found on Linux"


def test_other_platforms_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.release_free_memory() is False
