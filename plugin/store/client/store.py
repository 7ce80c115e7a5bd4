"""Server store over qdrant-client (a Qdrant server, or qdrant-client's local mode for tests).

Collection metadata lives in Qdrant's own collection ``metadata`` (Qdrant >= 1.16, qdrant-client
>= 1.16): written by ``create_collection(metadata=...)`` and merged by ``update_collection``; no
reserved point and no side file, so every client of the server sees the same metadata.

Every request goes through a :class:`~legalrag.plugin.store.retry.RetryPolicy`: transient failures
(connection refused or reset, timeouts, 5xx, 429) are retried within one time budget, then reported
as a :class:`StoreError` naming the server (never the API key) and what to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, TypeVar

from qdrant_client import QdrantClient, models

from legalrag.plugin.errors import InputError, LegalRAGError, StoreError
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store.base import (
    CollectionInfo,
    CollectionSpec,
    Hit,
    PayloadSchema,
    PointRecord,
    SearchRequest,
    SnapshotInfo,
)
from legalrag.plugin.store.client import plan
from legalrag.plugin.store.client.args import create_arguments, index_schema
from legalrag.plugin.store.client.bulk import IndexingPause
from legalrag.plugin.store.client.errors import server_of as _where
from legalrag.plugin.store.common import check_filter, check_spec, make_hit, pick_vector
from legalrag.plugin.store.retry import RetryPolicy

__all__ = ["ClientStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: upserts in flight at once from one writer to a Qdrant server (qdrant-client's ``upload_points`` default is 1;
#: a few keep a server's cores busy while the next batch is built, without queueing behind its optimizer)
PARALLEL_UPLOADS = 4


class ClientStore:
    """:class:`~legalrag.plugin.store.base.Store` over a ready ``QdrantClient``.

    Args:
        client: a configured client (server URL, API key, TLS and timeouts are the caller's business;
            :func:`legalrag.plugin.store.open_store` builds one from settings).
        retry: how long transient server failures are retried (default: 30 s in all per call).
        optimize_timeout: seconds :meth:`optimize` waits for the server's optimizers to finish.

    Example:
        >>> store = ClientStore(QdrantClient(":memory:"))
        >>> store.create_collection("laws", CollectionSpec(dense_size=8))
        >>> store.count("laws")
        0
    """

    #: where the official Qdrant image keeps collection snapshots; restoring by name reads from here
    server_snapshots_dir = "/qdrant/snapshots"

    def __init__(
        self, client: QdrantClient, *, retry: RetryPolicy | None = None, optimize_timeout: float = 600.0
    ) -> None:
        self._client = client
        self._retry = retry if retry is not None else RetryPolicy()
        self._optimize_timeout = optimize_timeout
        self._where = _where(client)
        #: collection -> (dense vectors, sparse vector names), learnt once per collection
        self._layouts: dict[str, plan.Layout] = {}
        self._pause = IndexingPause(client, self._call)

    def __repr__(self) -> str:
        return f"ClientStore({self._where!r})"

    @property
    def client(self) -> QdrantClient:
        return self._client

    @property
    def parallel_writes(self) -> int:
        """Upserts a writer may have in flight at once: several to a server, one to qdrant-client's local
        mode (which is not safe to write from several threads)."""
        from qdrant_client.local.qdrant_local import QdrantLocal

        return 1 if isinstance(getattr(self._client, "_client", None), QdrantLocal) else PARALLEL_UPLOADS

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    def list_collections(self) -> list[str]:
        found = self._call(None, "list", self._client.get_collections)
        return sorted(c.name for c in found.collections)

    def get_collection(self, name: str) -> CollectionInfo | None:
        if not self._exists(name):
            return None
        found = self._call(name, "read", lambda: self._client.get_collection(name))
        self._layouts[name] = plan.layout_of(found.config)
        return plan.collection_info(name, found, self.count(name))

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        validate_collection_name(name)
        check_spec(spec)
        if self._exists(name):
            raise plan.already_exists(name)
        arguments = create_arguments(spec)
        tries = 0

        def create() -> None:
            nonlocal tries
            tries += 1
            if tries > 1 and self._client.collection_exists(name):
                return  # an earlier attempt reached the server before its answer was lost
            self._client.create_collection(name, **arguments)

        self._call(name, "create", create, check_missing=False)
        self._layouts.pop(name, None)

    def drop_collection(self, name: str) -> bool:
        self._layouts.pop(name, None)
        if not self._exists(name):
            return False
        self._call(name, "drop", lambda: self._client.delete_collection(name), check_missing=False)
        return True

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        validate_collection_name(name)
        current = self._call(name, "update", lambda: self._client.get_collection(name)).config.metadata or {}
        # send the merged whole, so the result does not depend on the server's merge rules
        merged = {**current, **metadata}
        self._call(name, "update", lambda: self._client.update_collection(name, metadata=merged))

    def create_payload_index(self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False) -> None:
        validate_collection_name(name)
        field_schema = index_schema(schema, is_tenant)
        self._call(
            name,
            "index",
            lambda: self._client.create_payload_index(name, key, field_schema=field_schema, wait=True),
        )

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        layout = self._layout(name)
        if not points:
            return
        structs = plan.plan_upsert(points, layout, name)
        # ids are deterministic, so a retried upsert rewrites the same points instead of adding copies
        self._call(name, "upsert into", lambda: self._client.upsert(name, structs, wait=True))

    def delete(self, name: str, filter: models.Filter) -> None:
        validate_collection_name(name)
        selector = models.FilterSelector(filter=check_filter(filter))
        self._call(name, "delete from", lambda: self._client.delete(name, points_selector=selector, wait=True))

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        validate_collection_name(name)
        selector = plan.ids_selector(ids)
        self._call(name, "delete from", lambda: self._client.delete(name, points_selector=selector, wait=True))

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        planned = plan.plan_query(request, self._layout(name), name)
        found = self._call(name, "query", lambda: self._client.query_points(name, **planned.arguments))
        return plan.query_hits(found, planned)

    def count(self, name: str, filter: models.Filter | None = None) -> int:
        validate_collection_name(name)
        count_filter = plan.count_filter(filter)
        result = self._call(name, "count", lambda: self._client.count(name, count_filter=count_filter, exact=True))
        return result.count

    def scroll(
        self,
        name: str,
        filter: models.Filter | None = None,
        *,
        batch_size: int = 256,
        with_vectors: bool = False,
    ) -> Iterator[Hit]:
        # checks run now, not at the first next(): a missing collection fails at the call
        if batch_size < 1:
            raise InputError(f"scroll batch_size must be at least 1, not {batch_size}")
        dense, _ = self._layout(name)
        dense_name = pick_vector(tuple(dense), "dense", name) if with_vectors else None
        scroll_filter = check_filter(filter) if filter is not None else None
        return self._scroll(name, scroll_filter, batch_size, dense_name)

    def _scroll(
        self, name: str, scroll_filter: models.Filter | None, batch_size: int, dense_name: str | None
    ) -> Iterator[Hit]:
        offset: Any = None
        while True:
            records, offset = self._call(
                name, "scroll", partial(self._page, name, scroll_filter, batch_size, dense_name, offset)
            )
            for record in records:
                yield make_hit(record.id, 0.0, record.payload, record.vector, dense_name)
            if offset is None:
                return

    def _page(
        self,
        name: str,
        scroll_filter: models.Filter | None,
        batch_size: int,
        dense_name: str | None,
        offset: Any,
    ) -> tuple[list[models.Record], Any]:
        return self._client.scroll(
            name,
            scroll_filter=scroll_filter,
            limit=batch_size,
            offset=offset,
            with_payload=True,
            with_vectors=[dense_name] if dense_name else False,
        )

    def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        planned = plan.plan_retrieve(ids, self._layout(name), name, with_vectors=with_vectors)
        records = self._call(
            name,
            "retrieve from",
            lambda: self._client.retrieve(name, planned.wanted, with_payload=True, with_vectors=planned.with_vectors),
        )
        return plan.retrieved_hits(records, planned)

    def optimize(self, name: str) -> None:
        """Start the server's pending optimizations; wait up to ``optimize_timeout`` s for green."""
        validate_collection_name(name)
        deadline = time.monotonic() + self._optimize_timeout
        # an empty optimizer diff is Qdrant's documented way to start pending optimizations
        diff = models.OptimizersConfigDiff()
        self._call(name, "optimize", lambda: self._client.update_collection(name, optimizers_config=diff))
        while self._call(name, "optimize", lambda: self._client.get_collection(name)).status != (
            models.CollectionStatus.GREEN
        ):
            if time.monotonic() > deadline:
                logger.warning("collection %r still optimizing after %.0f s", name, self._optimize_timeout)
                return
            time.sleep(0.5)

    def claim(self, name: str) -> None:
        """Nothing to claim: a server takes concurrent writers (checks the name only)."""
        validate_collection_name(name)

    def bulk_load(self, name: str) -> AbstractContextManager[None]:
        """Pause HNSW indexing of ``name`` (``indexing_threshold=0``) for a large load, restore it after.

        The original threshold is kept in the collection's metadata while paused, so a load killed
        mid-way is resumed or undone (:meth:`restore_indexing`) with the original, never 0. Nested and
        concurrent loads in this process share one pause; the last to leave restores it.
        """
        validate_collection_name(name)
        return self._pause.paused(name)

    def restore_indexing(self, name: str) -> int | None:
        """Undo a pause a killed :meth:`bulk_load` left: return the restored threshold, or ``None``."""
        validate_collection_name(name)
        return self._pause.restore(name)

    def create_snapshot(self, name: str) -> SnapshotInfo:
        """Make a server-side snapshot of ``name`` (stored by the server; see :meth:`list_snapshots`)."""
        self._layout(name)
        made = self._call(name, "snapshot", lambda: self._client.create_snapshot(name, wait=True))
        if made is None:
            raise StoreError(f"Qdrant at {self._where} accepted the snapshot of {name!r} but returned no name")
        return _snapshot_info(made)

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """The server's snapshots of ``name``, oldest first."""
        validate_collection_name(name)
        found = self._call(name, "list snapshots of", lambda: self._client.list_snapshots(name))
        return sorted((_snapshot_info(s) for s in found), key=lambda s: (s.created or "", s.name))

    def restore_snapshot(self, name: str, snapshot: str) -> None:
        """Replace ``name`` with a snapshot: a name from :meth:`list_snapshots`, or a URL / ``file://``.

        A bare name is read from the server's own snapshot folder (:attr:`server_snapshots_dir`,
        the official image's layout); any ``http(s)://`` or ``file://`` location is passed as is.
        """
        validate_collection_name(name)
        location = snapshot
        if "://" not in snapshot:
            names = [s.name for s in self.list_snapshots(name)]
            if snapshot not in names:
                raise InputError(
                    f"collection {name!r} has no snapshot {snapshot!r} (have: {', '.join(names) or 'none'}): "
                    f"run `legalrag collections snapshot list {name}`, or pass a URL or file:// location"
                )
            location = f"file://{self.server_snapshots_dir}/{name}/{snapshot}"
        self._call(
            name,
            "restore",
            lambda: self._client.recover_snapshot(name, location, wait=True),
            check_missing=False,
        )
        self._layouts.pop(name, None)

    def close(self) -> None:
        self._client.close()

    def _exists(self, name: str) -> bool:
        validate_collection_name(name)
        return bool(self._call(name, "read", lambda: self._client.collection_exists(name), check_missing=False))

    def _layout(self, name: str) -> plan.Layout:
        validate_collection_name(name)
        layout = self._layouts.get(name)
        if layout is None:
            config = self._call(name, "read", lambda: self._client.get_collection(name)).config
            layout = self._layouts[name] = plan.layout_of(config)
        return layout

    def _call(self, name: str | None, action: str, call: Callable[[], T], *, check_missing: bool = True) -> T:
        """``call()`` under the retry policy, its failures turned into legalrag errors that say what to do."""
        try:
            return self._retry.run(call)
        except LegalRAGError:
            raise
        except Exception as exc:
            if name is None:
                raise plan.translate(self._where, name, action, exc) from exc
            self._layouts.pop(name, None)
            if check_missing and plan.worth_checking(exc) and (plan.surely_missing(exc) or self._missing(name)):
                raise plan.not_found(name, self._existing()) from exc
            raise plan.translate(self._where, name, action, exc) from exc

    def _missing(self, name: str) -> bool:
        try:
            return not self._client.collection_exists(name)
        except Exception:
            return False

    def _existing(self) -> list[str] | None:
        try:
            return self.list_collections()
        except LegalRAGError:
            return None


def _snapshot_info(description: Any) -> SnapshotInfo:
    return SnapshotInfo(name=str(description.name), size=int(description.size or 0), created=description.creation_time)
