"""Embedded store over qdrant-edge: one shard per collection under ``root/<collection>/``, no server.

A collection can be open in one process only; a second opener gets :class:`StoreLockedError`
naming the holder instead of a hang (see ``_edge_files`` for the folder layout and the lock).

Writes go through qdrant-edge's write-ahead log, so a point is on disk when ``upsert`` returns and
survives a killed process; ``close()`` flushes segments so the next open need not replay the log.

Snapshots are gzipped tar archives of a flushed, closed shard under ``root/.snapshots/<collection>/`` (see
``_edge_snapshots``); the collection's lock is held throughout, so no other process writes meanwhile.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any

import qdrant_edge as qe
from qdrant_client import models

from legalrag.plugin.errors import CollectionNotFoundError, InputError, StoreError
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store._common import make_hit, point_uuid
from legalrag.plugin.store._edge_files import (
    SHARD_DIR,
    DirLock,
    is_collection,
    read_document,
    spec_document,
    write_document,
)
from legalrag.plugin.store._edge_shard import (
    OpenShard,
    edge_config,
    edge_errors,
    edge_index,
    edge_point,
    open_shard,
    query_request,
)
from legalrag.plugin.store._edge_snapshots import (
    SNAPSHOTS,
    find_snapshot,
    list_snapshots,
    unpack_snapshot,
    write_snapshot,
)
from legalrag.plugin.store.base import (
    CollectionInfo,
    CollectionSpec,
    Hit,
    PayloadSchema,
    PointRecord,
    SearchRequest,
    SnapshotInfo,
)
from legalrag.plugin.store.filters import to_edge_filter

__all__ = ["EdgeStore"]


class EdgeStore:
    """:class:`~legalrag.plugin.store.base.Store` over qdrant-edge shards under ``root``.

    Shards open lazily on first use and stay open (and locked) until :meth:`close`.

    Example:
        >>> with EdgeStore("/tmp/legalrag-demo") as store:  # doctest: +SKIP
        ...     store.create_collection("laws", CollectionSpec(dense_size=8))
        ...     store.count("laws")
        0
    """

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root)
        self._open: dict[str, OpenShard] = {}
        self._guard = threading.RLock()

    @property
    def root(self) -> Path:
        return self._root

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def list_collections(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(p.name for p in self._root.iterdir() if is_collection(p))

    def get_collection(self, name: str) -> CollectionInfo | None:
        folder = self._folder(name)
        if name not in self._open and not is_collection(folder):
            return None
        opened = self._get(name)
        return CollectionInfo(
            name=name,
            points=self.count(name),
            vectors=dict(opened.vectors),
            sparse_vectors=opened.sparse,
            metadata=opened.metadata,
        )

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        folder = self._folder(name)
        document = spec_document(spec)
        exists = InputError(
            f"collection {name!r} already exists in {self._root}: use it, drop it first "
            "(--recreate), or choose another --collection"
        )
        with self._guard:
            if name in self._open or is_collection(folder):
                raise exists
            folder.mkdir(parents=True, exist_ok=True)
            lock = DirLock.acquire(folder, name)
            try:
                if is_collection(folder):  # another process created it before we took the lock
                    raise exists
                # the document first: a shard never exists without its layout
                write_document(folder, document)
                with edge_errors(name, "create"):
                    shard = qe.EdgeShard.create(str(folder / SHARD_DIR), edge_config(spec))
            except BaseException:
                lock.release()
                raise
            self._open[name] = open_shard(shard, lock, document)

    def drop_collection(self, name: str) -> bool:
        folder = self._folder(name)
        with self._guard:
            opened = self._open.pop(name, None)
            if opened is not None:
                lock = opened.lock
                with edge_errors(name, "close"):
                    opened.shard.close()
            elif is_collection(folder):
                # take the lock so a shard another process has open is never deleted under it
                lock = DirLock.acquire(folder, name)
            else:
                return False  # never delete a folder that is not a collection
            try:
                shutil.rmtree(folder)
            finally:
                lock.release()
            return True

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        with self._guard:
            opened = self._get(name)
            document = {**opened.document, "metadata": {**opened.metadata, **metadata}}
            write_document(self._folder(name), document)
            opened.document = document

    def create_payload_index(self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False) -> None:
        opened = self._get(name)
        index = edge_index(schema, is_tenant)
        with edge_errors(name, "index"):
            opened.shard.update(qe.UpdateOperation.create_field_index(key, index))

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        opened = self._get(name)
        if not points:
            return
        edge_points = [edge_point(opened, name, point) for point in points]
        with edge_errors(name, "upsert into"):
            opened.shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, name: str, filter: models.Filter) -> None:
        opened = self._get(name)
        operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(filter))
        with edge_errors(name, "delete from"):
            opened.shard.update(operation)

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        opened = self._get(name)
        if not ids:
            return
        operation = qe.UpdateOperation.delete_points([point_uuid(i) for i in ids])
        with edge_errors(name, "delete from"):
            opened.shard.update(operation)

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        opened = self._get(name)
        edge_request = query_request(opened, name, request)
        with edge_errors(name, "query"):
            points = opened.shard.query(edge_request)
        dense = opened.dense_name(name) if request.with_vectors else None
        return [make_hit(p.id, p.score, p.payload, p.vector, dense) for p in points]

    def count(self, name: str, filter: models.Filter | None = None) -> int:
        opened = self._get(name)
        edge_filter = to_edge_filter(filter) if filter is not None else None
        with edge_errors(name, "count"):
            return opened.shard.count(qe.CountRequest(exact=True, filter=edge_filter))

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
        opened = self._get(name)
        edge_filter = to_edge_filter(filter) if filter is not None else None
        dense = opened.dense_name(name) if with_vectors else None
        return self._scroll(opened, name, edge_filter, batch_size, dense)

    def _scroll(
        self, opened: OpenShard, name: str, edge_filter: qe.Filter | None, batch_size: int, dense: str | None
    ) -> Iterator[Hit]:
        offset = None
        while True:
            request = qe.ScrollRequest(
                offset=offset,
                limit=batch_size,
                filter=edge_filter,
                with_payload=True,
                with_vector=[dense] if dense else False,
            )
            with edge_errors(name, "scroll"):
                records, offset = opened.shard.scroll(request)
            for record in records:
                yield make_hit(record.id, 0.0, record.payload, record.vector, dense)
            if offset is None:
                return

    def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        opened = self._get(name)
        wanted: list[Any] = list(dict.fromkeys(point_uuid(i) for i in ids))
        if not wanted:
            return []
        dense = opened.dense_name(name) if with_vectors else None
        with edge_errors(name, "retrieve from"):
            records = opened.shard.retrieve(wanted, True, [dense] if dense else False)
        found = {str(r.id): make_hit(r.id, 0.0, r.payload, r.vector, dense) for r in records}
        return [found[i] for i in wanted if i in found]

    def optimize(self, name: str) -> None:
        opened = self._get(name)
        with edge_errors(name, "optimize"):
            opened.shard.optimize()
            opened.shard.flush()

    def bulk_load(self, name: str) -> AbstractContextManager[None]:
        """A no-op: qdrant-edge has no background optimizer; :meth:`optimize` indexes after the load."""
        self._get(name)  # a missing collection fails here, as with a server store
        return nullcontext()

    def create_snapshot(self, name: str) -> SnapshotInfo:
        """Archive the collection to ``root/.snapshots/<name>/<timestamp>.tar.gz``, flushed and closed."""
        folder = self._folder(name)
        with self._guard:
            opened = self._get(name)
            with edge_errors(name, "snapshot"):
                opened.shard.flush()
                opened.shard.close()
            try:
                return write_snapshot(folder, self._root / SNAPSHOTS / name)
            finally:
                self._reload(name, opened)

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """This collection's snapshots, oldest first (they outlive a dropped collection)."""
        found = list_snapshots(self._root / SNAPSHOTS / validate_collection_name(name))
        if not found and name not in self._open and not is_collection(self._folder(name)):
            self._get(name)  # raises CollectionNotFoundError, naming the collections that exist
        return found

    def restore_snapshot(self, name: str, snapshot: str) -> None:
        """Replace (or recreate) collection ``name`` from a listed snapshot or a snapshot file's path."""
        folder = self._folder(name)
        archive = find_snapshot(self._root / SNAPSHOTS / name, snapshot, name)
        with self._guard:
            opened = self._open.pop(name, None)
            if opened is not None:
                lock = opened.lock
                with edge_errors(name, "close"):
                    opened.shard.close()
            else:
                folder.mkdir(parents=True, exist_ok=True)
                lock = DirLock.acquire(folder, name)
            try:
                unpack_snapshot(archive, folder)
                document = read_document(folder)
                with edge_errors(name, "open"):
                    shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
            except BaseException:
                lock.release()
                raise
            self._open[name] = open_shard(shard, lock, document)

    def _reload(self, name: str, opened: OpenShard) -> None:
        """Open a closed shard again under the lock this store still holds; forget it if that fails."""
        try:
            with edge_errors(name, "reopen"):
                opened.shard = qe.EdgeShard.load(str(self._folder(name) / SHARD_DIR))
        except BaseException:
            self._open.pop(name, None)
            opened.lock.release()
            raise

    def close(self) -> None:
        """Flush and close every open shard and release its lock; the store can open them again."""
        with self._guard:
            opened, self._open = self._open, {}
        failures = []
        for name, item in opened.items():
            try:
                item.shard.flush()
                item.shard.close()
            except Exception as exc:
                failures.append(f"{name}: {exc}")
            finally:
                item.lock.release()
        if failures:
            raise StoreError(f"qdrant-edge failed to close collections: {'; '.join(failures)}")

    def _folder(self, name: str) -> Path:
        return self._root / validate_collection_name(name)

    def _get(self, name: str) -> OpenShard:
        folder = self._folder(name)
        with self._guard:
            opened = self._open.get(name)
            if opened is not None:
                return opened
            if not is_collection(folder):
                existing = ", ".join(self.list_collections()) or "none"
                raise CollectionNotFoundError(
                    f"collection {name!r} does not exist in {self._root} (existing: {existing}): "
                    f"run `legalrag ingest PATH --collection {name}` first, or pass an existing "
                    "--collection"
                )
            lock = DirLock.acquire(folder, name)
            try:
                document = read_document(folder)
                with edge_errors(name, "open"):
                    shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
            except BaseException:
                lock.release()
                raise
            opened = self._open[name] = open_shard(shard, lock, document)
            return opened
