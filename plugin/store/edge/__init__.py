"""The embedded store: qdrant-edge in process, one writer and any number of readers per collection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["EdgeStore"]

__getattr__, __dir__ = lazy_exports(__name__, {"EdgeStore": "store"}, __all__)

if TYPE_CHECKING:
    from legalrag.plugin.store.edge.store import EdgeStore
