from __future__ import annotations

import sys

import pytest

from legalrag.plugin import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_handed_back() -> None:
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # ~130 MB on the heap, then freed
    del blocks
    assert isinstance(memory.release_free_memory(), bool)
    assert memory._missing is False, "glibc's malloc_trim was found on Linux"


def test_other_platforms_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.release_free_memory() is False
