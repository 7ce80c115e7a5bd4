"""Embedded store over qdrant-edge: one shard per collection under ``root/<collection>/``, no server.

One writer and any number of readers share a collection, each in its own process (see
``versions``): the writer holds ``<collection>/.lock`` and works on ``shard/``; when it is done
(``optimize()`` after a load, or ``close()``) it publishes a copy that readers load from. A reader
never takes the writer's lock, so a retriever in an app keeps answering while ``legalrag ingest``
runs, and it moves to the new version within a second of its publication. A second writer gets
:class:`StoreLockedError` naming the holder instead of a hang.

Which role a store plays for a collection follows from the calls made on it: reads (``query``,
``count``, ``get_collection``...) use a reader's copy unless this store already writes the
collection; the first write (or :meth:`EdgeStore.claim`) makes it the writer. Writes go through
qdrant-edge's write-ahead log, so a point is on disk when ``upsert`` returns and survives a killed
process (the next writer resumes the working shard).

``collection.json`` records the point count when a writer closes cleanly; a collection that opens
with fewer or more points than recorded (a truncated log, a damaged file) is refused with the way to
rebuild it. Snapshots are gzipped tars of the current published version under
``root/.snapshots/<collection>/`` (see ``snapshots``).
"""

from __future__ import annotations

import shutil
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import qdrant_edge as qe
from qdrant_client import models

from legalrag.plugin.errors import CollectionNotFoundError, InputError, NotPublishedError, StoreError, StoreLockedError
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
from legalrag.plugin.store.common import make_hit, point_uuid
from legalrag.plugin.store.edge.files import (
    SHARD_DIR,
    DirLock,
    is_collection,
    read_document,
    spec_document,
    write_document,
)
from legalrag.plugin.store.edge.filters import to_edge_filter
from legalrag.plugin.store.edge.restore import restore_into
from legalrag.plugin.store.edge.shard import (
    OpenShard,
    damaged_vectors,
    edge_config,
    edge_errors,
    edge_index,
    edge_point,
    open_shard,
    query_request,
)
from legalrag.plugin.store.edge.snapshots import SNAPSHOTS, find_snapshot, list_snapshots, write_snapshot
from legalrag.plugin.store.edge.versions import current_version, publish, reader_copy

__all__ = ["EdgeStore"]

#: seconds between a reader's checks for a newer published version
REFRESH_SECONDS = 1.0
#: seconds a replaced reader copy stays open for queries that were already running on it
_RETIRE_SECONDS = 30.0


class EdgeStore:
    """:class:`~legalrag.plugin.store.base.Store` over qdrant-edge shards under ``root``.

    Args:
        root: the store's folder (``--qdrant-path``).
        refresh_seconds: how often a reader looks for a newer published version.

    Example:
        >>> with EdgeStore("/tmp/legalrag-demo") as store:  # doctest: +SKIP
        ...     store.create_collection("laws", CollectionSpec(dense_size=8))
        ...     store.count("laws")
        0
    """

    def __init__(self, root: str | Path, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._root = Path(root)
        self._refresh = refresh_seconds
        self._open: dict[str, OpenShard] = {}  # collections this store writes
        self._views: dict[str, OpenShard] = {}  # collections this store reads from a published copy
        self._claims: dict[str, DirLock] = {}  # collections claimed for writing before they exist
        self._retired: list[tuple[float, OpenShard]] = []
        self._guard = threading.RLock()
        # when the store is collected unclosed, or at exit: its reader copies go (an app that never closes
        # its store leaves none behind); writers are left to close(), which publishes them
        weakref.finalize(self, _release, self._views, self._retired)

    @property
    def root(self) -> Path:
        return self._root

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- collections ----------------------------------------------------------------------------
    def list_collections(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(p.name for p in self._root.iterdir() if not p.name.startswith(".") and is_collection(p))

    def get_collection(self, name: str) -> CollectionInfo | None:
        folder = self._folder(name)
        if name not in self._open and name not in self._views and not is_collection(folder):
            return None
        opened = self._read(name)
        return CollectionInfo(
            name=name,
            points=self.count(name),
            vectors=dict(opened.vectors),
            sparse_vectors=opened.sparse,
            metadata=opened.metadata,
            payload_indexes=_indexes(opened),
            # one shard, no replicas: what a collection made elsewhere asked for does not apply here
            storage={
                **dict(opened.metadata.get("storage") or {}),
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
            },
        )

    def claim(self, name: str) -> None:
        """Become the collection's writer now (before any model loads): a busy collection fails at once."""
        folder = self._folder(name)
        with self._guard:
            if name in self._open or name in self._claims:
                return
            if is_collection(folder):
                self._write(name)
                return
            folder.mkdir(parents=True, exist_ok=True)
            self._claims[name] = DirLock.acquire(folder, name)

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        folder = self._folder(name)
        document = spec_document(spec)
        exists = InputError(
            f"collection {name!r} already exists in {self._root}: use it, drop it first "
            "(recreate=True), or choose another collection="
        )
        with self._guard:
            if name in self._open or name in self._views or is_collection(folder):
                raise exists
            folder.mkdir(parents=True, exist_ok=True)
            lock = self._claims.pop(name, None) or DirLock.acquire(folder, name)
            try:
                if is_collection(folder):  # another process created it before we took the lock
                    raise exists
                # the document first: a shard never exists without its layout
                write_document(folder, {**document, "clean": False})
                with edge_errors(name, "create"):
                    shard = qe.EdgeShard.create(str(folder / SHARD_DIR), edge_config(spec))
            except BaseException:
                lock.release()
                raise
            opened = self._open[name] = open_shard(shard, lock, {**document, "clean": False})
            opened.dirty = True

    def replace_collection(self, name: str, spec: CollectionSpec) -> None:
        """Drop ``name``'s points and layout and start it again empty, keeping its published versions:
        readers go on answering from the last one until this writer publishes the new collection (a drop
        and a create would leave them nothing to open while a ``--recreate`` ingest runs)."""
        folder = self._folder(name)
        if not is_collection(folder):
            self.create_collection(name, spec)
            return
        document = {**spec_document(spec), "clean": False}
        with self._guard:
            self._close_view(name)
            opened = self._open.pop(name, None)
            lock = opened.lock if opened is not None else self._claims.pop(name, None)
            if opened is not None:
                with edge_errors(name, "close"):
                    opened.shard.close()
            lock = lock or DirLock.acquire(folder, name)
            try:
                shutil.rmtree(folder / SHARD_DIR, ignore_errors=True)
                write_document(folder, document)  # the layout first: a shard never exists without it
                with edge_errors(name, "create"):
                    shard = qe.EdgeShard.create(str(folder / SHARD_DIR), edge_config(spec))
            except BaseException:
                lock.release()
                raise
            self._open[name] = open_shard(shard, lock, document)
            self._open[name].dirty = True

    def drop_collection(self, name: str) -> bool:
        folder = self._folder(name)
        with self._guard:
            self._close_view(name)
            opened = self._open.pop(name, None)
            lock = self._claims.pop(name, None)
            if opened is not None:
                lock = opened.lock
                with edge_errors(name, "close"):
                    opened.shard.close()
            elif lock is None and is_collection(folder):
                # take the lock so a shard another process writes is never deleted under it
                lock = DirLock.acquire(folder, name)
            elif lock is None:
                return False  # never delete a folder that is not a collection
            try:
                shutil.rmtree(folder)
            finally:
                if lock is not None:
                    lock.release()
            return True

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        with self._guard:
            opened = self._write(name)
            document = {**opened.document, "metadata": {**opened.metadata, **metadata}}
            write_document(self._folder(name), document)
            opened.document = document
            opened.dirty = True

    def create_payload_index(self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False) -> None:
        opened = self._write(name)
        index = edge_index(schema, is_tenant)
        with edge_errors(name, "index"):
            opened.shard.update(qe.UpdateOperation.create_field_index(key, index))
        opened.dirty = True

    # -- points ---------------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        opened = self._write(name)
        if not points:
            return
        edge_points = [edge_point(opened, name, point) for point in points]
        with edge_errors(name, "upsert into"):
            opened.shard.update(qe.UpdateOperation.upsert_points(edge_points))
        opened.dirty = True

    def delete(self, name: str, filter: models.Filter) -> None:
        opened = self._write(name)
        operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(filter))
        with edge_errors(name, "delete from"):
            opened.shard.update(operation)
        opened.dirty = True

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        opened = self._write(name)
        if not ids:
            return
        operation = qe.UpdateOperation.delete_points([point_uuid(i) for i in ids])
        with edge_errors(name, "delete from"):
            opened.shard.update(operation)
        opened.dirty = True

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        opened = self._read(name)
        edge_request = query_request(opened, name, request)
        with edge_errors(name, "query"):
            points = opened.shard.query(edge_request)
        dense = opened.dense_name(name) if request.with_vectors else None
        return [make_hit(p.id, p.score, p.payload, p.vector, dense) for p in points]

    def count(self, name: str, filter: models.Filter | None = None) -> int:
        opened = self._read(name)
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
        opened = self._read(name)
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
        opened = self._read(name)
        wanted: list[Any] = list(dict.fromkeys(point_uuid(i) for i in ids))
        if not wanted:
            return []
        dense = opened.dense_name(name) if with_vectors else None
        with edge_errors(name, "retrieve from"):
            records = opened.shard.retrieve(wanted, True, [dense] if dense else False)
        found = {str(r.id): make_hit(r.id, 0.0, r.payload, r.vector, dense) for r in records}
        return [found[i] for i in wanted if i in found]

    def optimize(self, name: str) -> None:
        """Build the indexes, then publish: readers move to the new version within a second."""
        with self._guard:
            opened = self._write(name)
            with edge_errors(name, "optimize"):
                opened.shard.optimize()
                opened.shard.flush()
            self._publish(name, opened)

    def bulk_load(self, name: str) -> AbstractContextManager[None]:
        """Claims the collection for writing; indexing is deferred by nature (:meth:`optimize` builds it)."""
        self._write(name)  # a missing collection fails here, as with a server store
        return nullcontext()

    # -- snapshots ------------------------------------------------------------------------------
    def create_snapshot(self, name: str) -> SnapshotInfo:
        """Archive the collection's current version to ``root/.snapshots/<name>/<timestamp>.tar.gz``.

        A writer's unpublished changes are published first; otherwise no lock is needed, so a
        snapshot can be taken while another process ingests.
        """
        folder = self._folder(name)
        with self._guard:
            opened = self._open.get(name)
            if opened is not None and (opened.dirty or current_version(folder) is None):
                self._publish(name, opened)
            version = current_version(folder)
            if version is None:
                self._publish(name, self._write(name))
                version = current_version(folder)
        return write_snapshot(folder, version, self._root / SNAPSHOTS / name)

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """This collection's snapshots, oldest first (they outlive a dropped collection)."""
        found = list_snapshots(self._root / SNAPSHOTS / validate_collection_name(name))
        if not found and name not in self._open and not is_collection(self._folder(name)):
            self._read(name)  # raises CollectionNotFoundError, naming the collections that exist
        return found

    def restore_snapshot(self, name: str, snapshot: str) -> None:
        """Replace (or recreate) collection ``name`` from a listed snapshot or a snapshot file's path.

        The archive is unpacked and opened in a temporary folder and checked against the collection
        (vectors, dimension, distance) before the live shard is touched; the swap is a rename, and
        the old shard is deleted only after the new one opened. See ``restore`` for the limits.
        """
        folder = self._folder(name)
        archive = find_snapshot(self._root / SNAPSHOTS / name, snapshot, name)
        with self._guard:
            self._close_view(name)
            opened = self._open.pop(name, None)
            if opened is not None and opened.lock is not None:
                lock = opened.lock
                with edge_errors(name, "close"):
                    opened.shard.flush()
                    opened.shard.close()
            else:
                folder.mkdir(parents=True, exist_ok=True)
                claimed = self._claims.pop(name, None)
                lock = claimed if claimed is not None else DirLock.acquire(folder, name)
            try:
                current = read_document(folder) if is_collection(folder) else None
                shard, document = restore_into(archive, folder, name, current)
            except BaseException:
                if opened is not None:  # the live collection is untouched: keep writing it
                    self._open[name] = opened
                    self._reopen(name, opened)
                else:
                    lock.release()
                raise
            restored = self._open[name] = open_shard(shard, lock, document)
            self._publish(name, restored)

    # -- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        """Publish what this store wrote, close every shard, release every lock; it can open them again."""
        with self._guard:
            writers, self._open = self._open, {}
            views, retired = dict(self._views), list(self._retired)  # emptied in place: the finalizer holds them
            self._views.clear()
            self._retired.clear()
            claims, self._claims = self._claims, {}
        failures = []
        for name, item in writers.items():
            try:
                self._finish(name, item)
            except Exception as exc:
                failures.append(f"{name}: {exc}")
            finally:
                item.lock.release()  # type: ignore[union-attr]
        _release(views, retired)
        for name, lock in claims.items():
            lock.release()
            _remove_if_empty(self._folder(name))  # claimed but never created: leave nothing behind
        if failures:
            raise StoreError(f"qdrant-edge failed to close collections: {'; '.join(failures)}")

    def release_views(self) -> None:
        """Close what this store reads from published copies and delete the copies (a writer's collections
        stay open: :meth:`close` publishes them)."""
        with self._guard:
            views, retired = dict(self._views), list(self._retired)  # emptied in place: the finalizer holds them
            self._views.clear()
            self._retired.clear()
        _release(views, retired)

    # -- roles ----------------------------------------------------------------------------------
    def _folder(self, name: str) -> Path:
        return self._root / validate_collection_name(name)

    def _missing(self, name: str) -> CollectionNotFoundError:
        existing = ", ".join(self.list_collections()) or "none"
        return CollectionNotFoundError(
            f"collection {name!r} does not exist in {self._root} (existing: {existing}): "
            f"ingest into it first (ingest_paths(..., collection={name!r})), or pass an existing collection="
        )

    def _write(self, name: str) -> OpenShard:
        """The collection's writer shard, opened now (under the writer lock) if this store is not writing it."""
        folder = self._folder(name)
        with self._guard:
            opened = self._open.get(name)
            if opened is not None:
                return opened
            if not is_collection(folder, working=True):
                raise self._missing(name)
            self._close_view(name)
            lock = self._claims.pop(name, None) or DirLock.acquire(folder, name)
            try:
                document = read_document(folder)
                with edge_errors(name, "open"):
                    shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
                _check_count(name, folder, document, shard)
                document = {**document, "clean": False}  # a killed writer leaves it false: no false alarm
                write_document(folder, document)
            except BaseException:
                lock.release()
                raise
            opened = self._open[name] = open_shard(shard, lock, document)
            return opened

    def _read(self, name: str) -> OpenShard:
        """What reads go to: this store's writer shard, else a private copy of the published version."""
        folder = self._folder(name)
        with self._guard:
            opened = self._open.get(name)
            if opened is not None:
                return opened
            view = self._views.get(name)
            now = time.monotonic()
            if view is not None and now - view.checked < self._refresh:
                return view
            if not is_collection(folder):
                if view is not None:
                    self._close_view(name)
                raise self._missing(name)
            version = current_version(folder)
            if version is None:
                try:
                    version = self._publish_first(name)
                except StoreLockedError:
                    raise NotPublishedError(_not_published(name, folder)) from None
            if view is not None and view.version == version:
                view.checked = now
                return view
            fresh = self._load_view(name, folder, version)
            if view is not None:
                self._retire(view)
            self._views[name] = fresh
            return fresh

    def _load_view(self, name: str, folder: Path, version: int) -> OpenShard:
        for _ in range(20):  # a writer may retire the version we saw before we copy it
            copy = reader_copy(folder, version)
            if copy is not None:
                break
            version = current_version(folder) or version
        else:
            raise StoreError(f"collection {name!r} ({folder}) changed versions too fast to copy one; try again")
        try:
            document = read_document(copy.path)
            with edge_errors(name, "open"):
                shard = qe.EdgeShard.load(str(copy.shard))
            _check_count(name, folder, document, shard)
        except BaseException:
            copy.discard()
            raise
        view = open_shard(shard, None, document)
        view.copy, view.version, view.checked = copy, version, time.monotonic()
        return view

    def _publish_first(self, name: str) -> int:
        """A collection never published (made before versions existed): publish it, if nobody writes it.

        Raises:
            StoreLockedError: a writer holds it (its first run is still going: it publishes at the end).
        """
        opened = self._write(name)
        try:
            self._publish(name, opened)
        finally:
            self._open.pop(name, None)
            try:
                self._finish_closed(name, opened)
            finally:
                opened.lock.release()  # type: ignore[union-attr]
        return current_version(self._folder(name)) or 0

    def _publish(self, name: str, opened: OpenShard) -> None:
        """Record the clean state, copy the closed shard to a new published version, open it again."""
        folder = self._folder(name)
        with edge_errors(name, "publish"):
            opened.shard.flush()
            points = opened.shard.count(qe.CountRequest(exact=True))
            damaged = damaged_vectors(opened.shard, opened.document.get("vectors") or {})
            if damaged:  # readers keep the version they have
                raise StoreError(
                    f"collection {name!r} holds {damaged}: not published, readers keep the previous version; "
                    "rebuild it (`legalrag ingest PATH --recreate`) or restore a snapshot"
                )
            opened.shard.close()
        try:
            clean = {**opened.document, "points": points, "clean": True}
            write_document(folder, clean)
            publish(folder)
            write_document(folder, {**clean, "clean": False})
            opened.document = {**clean, "clean": False}
            opened.dirty = False
        finally:
            self._reopen(name, opened)

    def _finish(self, name: str, opened: OpenShard) -> None:
        """Close a writer: publish what changed, leave the document clean with its point count."""
        if opened.dirty or current_version(self._folder(name)) is None:
            self._publish(name, opened)
        self._finish_closed(name, opened)

    def _finish_closed(self, name: str, opened: OpenShard) -> None:
        with edge_errors(name, "close"):
            opened.shard.flush()
            points = opened.shard.count(qe.CountRequest(exact=True))
            opened.shard.close()
        write_document(self._folder(name), {**opened.document, "points": points, "clean": True})

    def _reopen(self, name: str, opened: OpenShard) -> None:
        """Open a closed shard again under the lock this store still holds; forget it if that fails."""
        try:
            with edge_errors(name, "reopen"):
                opened.shard = qe.EdgeShard.load(str(self._folder(name) / SHARD_DIR))
        except BaseException:
            self._open.pop(name, None)
            if opened.lock is not None:
                opened.lock.release()
            raise

    def _close_view(self, name: str) -> None:
        view = self._views.pop(name, None)
        if view is not None:
            self._retire(view)

    def _retire(self, view: OpenShard) -> None:
        """Close a replaced reader copy later: a query on another thread may still be running on it."""
        now = time.monotonic()
        self._retired.append((now, view))
        keep = []
        for since, old in self._retired:
            if now - since >= _RETIRE_SECONDS:
                _discard(old)
            else:
                keep.append((since, old))
        self._retired[:] = keep


def _indexes(opened: OpenShard) -> tuple[str, ...]:
    try:
        return tuple(sorted(opened.shard.info().payload_schema))
    except Exception:  # an older qdrant-edge without info(): unknown, nothing to repair from here
        return ()


def _check_count(name: str, folder: Path, document: Mapping[str, Any], shard: qe.EdgeShard) -> None:
    """Refuse a collection whose point count differs from the one recorded at its last clean close."""
    recorded = document.get("points")
    if not document.get("clean") or not isinstance(recorded, int):
        return
    found = shard.count(qe.CountRequest(exact=True))
    if found != recorded:
        shard.close()
        raise StoreError(
            f"collection {name!r} ({folder}) is damaged: it opens with {found} points but held {recorded} "
            "when it was last closed cleanly (a truncated write-ahead log or a damaged file); rebuild it: "
            f"ingest it again with recreate=True, or restore a snapshot"
        )


def _remove_if_empty(folder: Path) -> None:
    """Delete a collection folder that holds nothing but a lock file."""
    if folder.is_dir() and all(p.name == ".lock" for p in folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)


def _release(views: dict[str, OpenShard], retired: list[tuple[float, OpenShard]]) -> None:
    for item in [*views.values(), *(view for _, view in retired)]:
        _discard(item)
    views.clear()
    retired.clear()


def _discard(view: OpenShard) -> None:
    with suppress(Exception):
        view.shard.close()
    if view.copy is not None:
        view.copy.discard()


def _not_published(name: str, folder: Path) -> str:
    try:
        pid, _, command = (folder / ".lock").read_text(encoding="utf-8", errors="replace").strip().partition("\n")
    except OSError:
        pid, command = "", ""
    who = f"pid {pid}: {command}" if pid else "another process"
    return (
        f"collection {name!r} ({folder}) has no published version yet: its first ingest is still running "
        f"({who}). It becomes searchable when that run finishes (or stops: what it stored so far is then "
        "published); retry then"
    )
