"""Deferred HNSW indexing during a large load into a Qdrant server (Qdrant's bulk-upload advice).

While a load runs, the collection's ``optimizers_config.indexing_threshold`` is 0, so the server does
not build HNSW graphs for segments that keep changing; afterwards the original threshold is put back
and the index is built once.

Crash safety: the original threshold is written into the collection's metadata under
:data:`MARKER_KEY` *before* indexing is paused, and the marker is removed only *after* the threshold
is restored. A process killed in between leaves the marker, and the next load (or
:meth:`IndexingPause.restore`) takes the original from it, never the paused 0 it reads from the server.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, TypeVar

from qdrant_client import QdrantClient, models

from legalrag.plugin.errors import LegalRAGError

__all__ = ["DEFAULT_INDEXING_THRESHOLD_KB", "MARKER_KEY", "IndexingPause", "original_threshold", "recorded_threshold"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: collection metadata key of a running (or killed) bulk load; its value records the original threshold
MARKER_KEY = "legalrag_bulk_load"
#: what Qdrant uses when a collection's threshold is unset (``DEFAULT_INDEXING_THRESHOLD_KB``, in KB)
DEFAULT_INDEXING_THRESHOLD_KB = 10_000


class _Call(Protocol):
    """``ClientStore._call``: run a request under the retry policy, translating its errors."""

    def __call__(self, name: str | None, action: str, call: Callable[[], T], *, check_missing: bool = True) -> T: ...


def recorded_threshold(metadata: Mapping[str, Any]) -> int | None:
    """The original threshold a bulk-load marker in ``metadata`` records; ``None`` when there is none.

    A marker whose value is unusable (hand-edited, or 0) still means indexing was paused, so it
    yields Qdrant's default rather than ``None``.
    """
    marker = metadata.get(MARKER_KEY)
    if marker is None:
        return None
    value = marker.get("indexing_threshold") if isinstance(marker, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DEFAULT_INDEXING_THRESHOLD_KB


def original_threshold(current: int | None, marker: int | None) -> int:
    """The threshold to restore after a load: the marker's if a killed load left one, else ``current``.

    ``None`` (the server's default) becomes the effective default, since a diff of ``None`` would
    leave the paused 0 in place. A current 0 with no marker is recorded as the default too: recording
    0 would leave the collection unindexed, and brute-force search, for good.
    """
    if marker is not None:
        return marker
    if current is None or current <= 0:
        return DEFAULT_INDEXING_THRESHOLD_KB
    return current


class IndexingPause:
    """Pauses and restores HNSW indexing of a server collection; nested and threaded loads share one pause.

    Args:
        client: the store's client.
        call: the store's retrying, error-translating request runner.

    Example:
        >>> pause = IndexingPause(QdrantClient(":memory:"), call)  # doctest: +SKIP
        >>> with pause.paused("laws"):  # doctest: +SKIP
        ...     upsert_everything()
    """

    def __init__(self, client: QdrantClient, call: _Call) -> None:
        self._client = client
        self._call = call
        # held across the requests, so a second thread's enter waits until indexing is really paused
        self._lock = threading.Lock()
        self._depth: dict[str, int] = {}
        self._original: dict[str, int] = {}

    def paused(self, name: str) -> AbstractContextManager[None]:
        """A context manager that keeps indexing of ``name`` paused while it is entered."""
        return _Paused(self, name)

    def enter(self, name: str) -> None:
        """Pause indexing of ``name`` (the outermost enter records the original threshold)."""
        with self._lock:
            depth = self._depth.get(name, 0)
            if depth == 0:
                self._original[name] = self._pause(name)
            self._depth[name] = depth + 1

    def exit(self, name: str, *, quiet: bool) -> None:
        """Leave one pause of ``name``; the last one restores the threshold (``quiet``: log failures)."""
        with self._lock:
            depth = self._depth[name] - 1
            if depth > 0:
                self._depth[name] = depth
                return
            del self._depth[name]
            original = self._original.pop(name)
            try:
                self._restore_to(name, original)
            except LegalRAGError as exc:
                if not quiet:
                    raise
                # the body's own error is the one to report; the marker stays for the next load
                logger.warning(
                    "could not restore HNSW indexing of %r to indexing_threshold=%d (%s): run "
                    "ClientStore.restore_indexing(%r) or the next ingest",
                    name,
                    original,
                    exc,
                    name,
                )

    def restore(self, name: str) -> int | None:
        """Restore a threshold a killed load left paused; return it, or ``None`` if nothing was paused.

        A pause this process holds right now is left alone (its own exit restores it).
        """
        with self._lock:
            if self._depth.get(name):
                return None
            original = recorded_threshold(self._metadata(name))
            if original is None:
                return None
            logger.warning("restoring HNSW indexing of %r paused by a load that did not finish", name)
            self._restore_to(name, original)
            return original

    def _pause(self, name: str) -> int:
        config = self._call(name, "read", lambda: self._client.get_collection(name)).config
        metadata = dict(config.metadata or {})
        marker = recorded_threshold(metadata)
        original = original_threshold(config.optimizer_config.indexing_threshold, marker)
        if marker is None:
            stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            metadata[MARKER_KEY] = {"indexing_threshold": original, "since": stamp}
            self._call(name, "mark a bulk load of", lambda: self._client.update_collection(name, metadata=metadata))
        else:
            logger.warning("collection %r was left paused by a load that did not finish; resuming that pause", name)
        self._set_threshold(name, 0, "pause indexing of")
        return original

    def _restore_to(self, name: str, original: int) -> None:
        self._set_threshold(name, original, "restore indexing of")
        # a null removes the key (the server's metadata merge); sent with the rest, like set_metadata
        metadata = {**self._metadata(name), MARKER_KEY: None}
        self._call(name, "unmark the bulk load of", lambda: self._client.update_collection(name, metadata=metadata))

    def _set_threshold(self, name: str, threshold: int, action: str) -> None:
        diff = models.OptimizersConfigDiff(indexing_threshold=threshold)
        self._call(name, action, lambda: self._client.update_collection(name, optimizers_config=diff))

    def _metadata(self, name: str) -> dict[str, Any]:
        return dict(self._call(name, "read", lambda: self._client.get_collection(name)).config.metadata or {})


class _Paused(AbstractContextManager[None]):
    """One ``with`` of :meth:`IndexingPause.paused`; a class, not a generator, so dropping an entered
    one (a simulated crash) runs no cleanup, exactly like a killed process."""

    def __init__(self, pause: IndexingPause, name: str) -> None:
        self._pause = pause
        self._name = name

    def __enter__(self) -> None:
        self._pause.enter(self._name)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pause.exit(self._name, quiet=exc_type is not None)
