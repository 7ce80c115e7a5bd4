"""Qdrant stores behind one small interface: qdrant-edge (embedded) and qdrant-client (server)."""

from __future__ import annotations

import contextlib
import math
import ssl
from collections.abc import Iterator
from typing import Any

from qdrant_client import QdrantClient

from legalrag.plugin.errors import ConfigError
from legalrag.plugin.redact import register_secret
from legalrag.plugin.settings import Settings
from legalrag.plugin.store.base import (
    CollectionInfo,
    CollectionSpec,
    Distance,
    Hit,
    PayloadSchema,
    PointRecord,
    Quantization,
    SearchRequest,
    SnapshotInfo,
    SnapshotStore,
    Store,
    VectorInfo,
)
from legalrag.plugin.store.client.store import ClientStore
from legalrag.plugin.store.edge.store import EdgeStore
from legalrag.plugin.store.retry import RetryPolicy

__all__ = [
    "ClientStore",
    "CollectionInfo",
    "CollectionSpec",
    "Distance",
    "EdgeStore",
    "Hit",
    "PayloadSchema",
    "PointRecord",
    "Quantization",
    "RetryPolicy",
    "SearchRequest",
    "SnapshotInfo",
    "SnapshotStore",
    "Store",
    "VectorInfo",
    "open_store",
    "qdrant_client_for",
    "store_from",
]


def open_store(settings: Settings) -> Store:
    """Open the store the settings name: a Qdrant server when ``qdrant_url`` is set, else qdrant-edge.

    Args:
        settings: ``qdrant_url`` and the other ``qdrant_*`` fields for a server (see
            :func:`qdrant_client_for`; ``qdrant_retry_seconds`` is the retry budget),
            ``qdrant_path`` for the embedded store.

    Returns:
        A :class:`ClientStore` or an :class:`EdgeStore`; close it when done.

    Example:
        >>> store = open_store(Settings(qdrant_path="/tmp/legalrag-demo"))  # doctest: +SKIP
        >>> type(store).__name__  # doctest: +SKIP
        'EdgeStore'
    """
    if not settings.qdrant_url:
        return EdgeStore(settings.qdrant_path)
    return ClientStore(qdrant_client_for(settings), retry=RetryPolicy(budget=settings.qdrant_retry_seconds))


@contextlib.contextmanager
def store_from(settings: Settings, store: Store | None = None) -> Iterator[Store]:
    """``store`` as it is (the caller closes it), or the store ``settings`` names, closed on the way out.

    Example:
        >>> with store_from(Settings(qdrant_path="/tmp/legalrag-demo")) as store:  # doctest: +SKIP
        ...     store.list_collections()
    """
    if store is not None:
        yield store
        return
    opened = open_store(settings)
    try:
        yield opened
    finally:
        opened.close()


def qdrant_client_for(settings: Settings) -> QdrantClient:
    """The one place a ``QdrantClient`` is built from settings: URL, API key, TLS, gRPC, timeout.

    Example:
        >>> client = qdrant_client_for(Settings(qdrant_url="http://localhost:6333"))  # doctest: +SKIP
    """
    if not settings.qdrant_url:
        raise ValueError("qdrant_client_for needs settings with qdrant_url")
    secret = settings.resolved_api_key
    api_key = secret.get_secret_value() if secret is not None else None
    register_secret(api_key)
    extra: dict[str, Any] = {}
    verify = settings.qdrant_verify
    if verify is False:
        extra["verify"] = False
    elif verify is not True:
        try:
            extra["verify"] = ssl.create_default_context(cafile=str(verify))
            if settings.qdrant_prefer_grpc:
                extra["grpc_options"] = {"root_certificates": verify.read_bytes()}
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the CA bundle {verify} ({exc}): set LEGALRAG_QDRANT_VERIFY to a PEM file "
                "of the CA that signed the server's certificate"
            ) from exc
    return QdrantClient(
        url=settings.qdrant_url,
        api_key=api_key,
        https=settings.qdrant_https,
        prefer_grpc=settings.qdrant_prefer_grpc,
        grpc_port=settings.qdrant_grpc_port,
        timeout=math.ceil(settings.qdrant_timeout),
        **extra,
    )
