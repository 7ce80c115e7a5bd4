"""The server store: qdrant-client, sync and async, sharing request planning and result parsing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["AsyncClientStore", "ClientStore"]

__getattr__, __dir__ = lazy_exports(__name__, {"AsyncClientStore": "aio", "ClientStore": "store"}, __all__)

if TYPE_CHECKING:
    from legalrag.plugin.store.client.aio import AsyncClientStore
    from legalrag.plugin.store.client.store import ClientStore
