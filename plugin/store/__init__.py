"""Qdrant stores behind one small interface: qdrant-edge (embedded) and qdrant-client (server)."""

from __future__ import annotations

import math

from qdrant_client import QdrantClient

from legalrag.plugin.settings import Settings
from legalrag.plugin.store.base import (
    CollectionInfo,
    CollectionSpec,
    Distance,
    Hit,
    PayloadSchema,
    PointRecord,
    SearchRequest,
    Store,
    VectorInfo,
)
from legalrag.plugin.store.client import ClientStore
from legalrag.plugin.store.edge import EdgeStore

__all__ = [
    "ClientStore",
    "CollectionInfo",
    "CollectionSpec",
    "Distance",
    "EdgeStore",
    "Hit",
    "PayloadSchema",
    "PointRecord",
    "SearchRequest",
    "Store",
    "VectorInfo",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """Open the store the settings name: a Qdrant server when ``qdrant_url`` is set, else qdrant-edge.

    Args:
        settings: ``qdrant_url`` / ``qdrant_api_key`` / ``qdrant_timeout`` / ``qdrant_prefer_grpc``
            for a server, ``qdrant_path`` for the embedded store.

    Returns:
        A :class:`ClientStore` or an :class:`EdgeStore`; close it when done.

    Example:
        >>> store = open_store(Settings(qdrant_path="/tmp/legalrag-demo"))  # doctest: +SKIP
        >>> type(store).__name__  # doctest: +SKIP
        'EdgeStore'
    """
    if not settings.qdrant_url:
        return EdgeStore(settings.qdrant_path)
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key is not None else None
    client = QdrantClient(
        url=settings.qdrant_url,
        api_key=api_key,
        timeout=math.ceil(settings.qdrant_timeout),
        prefer_grpc=settings.qdrant_prefer_grpc,
    )
    return ClientStore(client)
