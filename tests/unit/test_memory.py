from __future__ import annotations

import os
import sys

import pytest

from legalrag.plugin import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_bounds_apply_once_and_respect_the_users_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setattr(memory, "_done", False)
    assert memory.bound_native_caches() is True
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == memory.ONEDNN_CACHE
    assert memory.bound_native_caches() is True  # idempotent

    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "512")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    monkeypatch.setattr(memory, "_done", False)
    assert memory.bound_native_caches() is False, "the user's own allocator setting wins"
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "512"
