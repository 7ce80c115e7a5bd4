"""Embedded store over qdrant-edge: one shard per collection under ``root/<collection>/``, no server.

A collection can be open in one process only; a second opener gets :class:`StoreLockedError`
naming the holder instead of a hang (see ``_edge_files`` for the folder layout and the lock).

Writes go through qdrant-edge's write-ahead log, so a point is on disk when ``upsert`` returns and
survives a killed process; ``close()`` flushes segments so the next open need not replay the log.

Snapshots are gzipped tar archives of a flushed, closed shard under ``root/.snapshots/<collection>/`` (see
``_edge_snapshots``); the collection's lock is held throughout, so no other process writes meanwhile.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import qdrant_edge as qe
from qdrant_client import models

from legalrag.plugin.errors import (
    CollectionNotFoundError,
    InputError,
    LegalRAGError,
    StoreError,
)
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store._common import (
    check_dim,
    check_index,
    check_request,
    make_hit,
    pick_vector,
    point_uuid,
    prefetch_depth,
)
from legalrag.plugin.store._edge_files import (
    SHARD_DIR,
    DirLock,
    is_collection,
    read_document,
    spec_document,
    write_document,
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
    VectorInfo,
)
from legalrag.plugin.store.filters import to_edge_filter

__all__ = ["EdgeStore"]

logger = logging.getLogger(__name__)

#: qdrant-edge needs a full-scan threshold with any HNSW override; Qdrant's default, in KB
_FULL_SCAN_THRESHOLD = 10_000


@dataclass(slots=True)
class _Open:
    """A shard this store holds open, with its lock and its ``collection.json`` document."""

    shard: qe.EdgeShard
    lock: DirLock
    document: dict[str, Any]
    vectors: dict[str, VectorInfo]
    sparse: tuple[str, ...]

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.document.get("metadata", {}))

    def dense_name(self, collection: str) -> str:
        return pick_vector(tuple(self.vectors), "dense", collection)

    def sparse_name(self, collection: str) -> str:
        return pick_vector(self.sparse, "sparse", collection)


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
        self._open: dict[str, _Open] = {}
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
                with _edge_errors(name, "create"):
                    shard = qe.EdgeShard.create(str(folder / SHARD_DIR), _edge_config(spec))
            except BaseException:
                lock.release()
                raise
            self._open[name] = _opened(shard, lock, document)

    def drop_collection(self, name: str) -> bool:
        folder = self._folder(name)
        with self._guard:
            opened = self._open.pop(name, None)
            if opened is not None:
                lock = opened.lock
                with _edge_errors(name, "close"):
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
        index = _edge_index(schema, is_tenant)
        with _edge_errors(name, "index"):
            opened.shard.update(qe.UpdateOperation.create_field_index(key, index))

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        opened = self._get(name)
        if not points:
            return
        edge_points = [_edge_point(opened, name, point) for point in points]
        with _edge_errors(name, "upsert into"):
            opened.shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, name: str, filter: models.Filter) -> None:
        opened = self._get(name)
        operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(filter))
        with _edge_errors(name, "delete from"):
            opened.shard.update(operation)

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        opened = self._get(name)
        if not ids:
            return
        operation = qe.UpdateOperation.delete_points([point_uuid(i) for i in ids])
        with _edge_errors(name, "delete from"):
            opened.shard.update(operation)

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        opened = self._get(name)
        edge_request = _query_request(opened, name, request)
        with _edge_errors(name, "query"):
            points = opened.shard.query(edge_request)
        dense = opened.dense_name(name) if request.with_vectors else None
        return [make_hit(p.id, p.score, p.payload, p.vector, dense) for p in points]

    def count(self, name: str, filter: models.Filter | None = None) -> int:
        opened = self._get(name)
        edge_filter = to_edge_filter(filter) if filter is not None else None
        with _edge_errors(name, "count"):
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
        self, opened: _Open, name: str, edge_filter: qe.Filter | None, batch_size: int, dense: str | None
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
            with _edge_errors(name, "scroll"):
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
        with _edge_errors(name, "retrieve from"):
            records = opened.shard.retrieve(wanted, True, [dense] if dense else False)
        found = {str(r.id): make_hit(r.id, 0.0, r.payload, r.vector, dense) for r in records}
        return [found[i] for i in wanted if i in found]

    def optimize(self, name: str) -> None:
        opened = self._get(name)
        with _edge_errors(name, "optimize"):
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
            with _edge_errors(name, "snapshot"):
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
                with _edge_errors(name, "close"):
                    opened.shard.close()
            else:
                folder.mkdir(parents=True, exist_ok=True)
                lock = DirLock.acquire(folder, name)
            try:
                unpack_snapshot(archive, folder)
                document = read_document(folder)
                with _edge_errors(name, "open"):
                    shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
            except BaseException:
                lock.release()
                raise
            self._open[name] = _opened(shard, lock, document)

    def _reload(self, name: str, opened: _Open) -> None:
        """Open a closed shard again under the lock this store still holds; forget it if that fails."""
        try:
            with _edge_errors(name, "reopen"):
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

    def _get(self, name: str) -> _Open:
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
                with _edge_errors(name, "open"):
                    shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
            except BaseException:
                lock.release()
                raise
            opened = self._open[name] = _opened(shard, lock, document)
            return opened


@contextmanager
def _edge_errors(name: str, action: str) -> Iterator[None]:
    """Turn qdrant-edge's bare exceptions into legalrag errors that name the collection."""
    try:
        yield
    except LegalRAGError:
        raise
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot {action} collection {name!r}: {exc}") from exc
    except Exception as exc:
        raise StoreError(f"qdrant-edge failed to {action} collection {name!r}: {exc}") from exc


def _opened(shard: qe.EdgeShard, lock: DirLock, document: dict[str, Any]) -> _Open:
    vectors = {
        name: VectorInfo(size=int(v["size"]), distance=v["distance"]) for name, v in document.get("vectors", {}).items()
    }
    return _Open(shard, lock, document, vectors, tuple(document.get("sparse_vectors", {})))


def _edge_config(spec: CollectionSpec) -> qe.EdgeConfig:
    server_only = ("shard_number", "replication_factor", "write_consistency_factor")
    cluster = [k for k in server_only if getattr(spec, k)]
    if cluster:
        logger.warning("the embedded store has one shard and no replicas: ignoring %s", ", ".join(cluster))
    memory = qe.Memory.Cold if spec.on_disk else None
    payload_on_disk = spec.on_disk if spec.on_disk_payload is None else spec.on_disk_payload
    hnsw = None
    if spec.hnsw_m is not None or spec.hnsw_ef_construct is not None:
        hnsw = qe.HnswIndexConfig(
            m=spec.hnsw_m if spec.hnsw_m is not None else 16,
            ef_construct=spec.hnsw_ef_construct if spec.hnsw_ef_construct is not None else 100,
            full_scan_threshold=_FULL_SCAN_THRESHOLD,
        )
    dense = qe.EdgeVectorParams(size=spec.dense_size, distance=getattr(qe.Distance, spec.distance), memory=memory)
    sparse = None
    if spec.sparse_name:
        modifier = qe.Modifier.Idf if spec.sparse_idf else None
        sparse = {spec.sparse_name: qe.EdgeSparseVectorParams(modifier=modifier, memory=memory)}
    quantization: Any = None
    if spec.quantization == "scalar":
        quantization = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, always_ram=spec.always_ram)
    elif spec.quantization == "binary":
        quantization = qe.BinaryQuantizationConfig(always_ram=spec.always_ram)
    return qe.EdgeConfig(
        vectors={spec.dense_name: dense},
        sparse_vectors=sparse,
        hnsw_config=hnsw,
        quantization_config=quantization,
        payload_memory=qe.Memory.Cold if payload_on_disk else None,
    )


def _edge_index(schema: str, is_tenant: bool) -> Any:
    check_index(schema, is_tenant)
    if is_tenant and schema == "keyword":
        return qe.KeywordIndexParams(is_tenant=True)
    if is_tenant:
        return qe.UuidIndexParams(is_tenant=True)
    return getattr(qe.PayloadSchemaType, schema.capitalize())


def _edge_point(opened: _Open, name: str, point: PointRecord) -> qe.Point:
    vector: dict[str, Any] = {}
    if point.dense is not None:
        dense_name = opened.dense_name(name)
        check_dim(name, opened.vectors[dense_name].size, len(point.dense))
        vector[dense_name] = [float(x) for x in point.dense]
    if point.sparse is not None:
        vector[opened.sparse_name(name)] = qe.SparseVector(
            [int(i) for i in point.sparse.indices], [float(v) for v in point.sparse.values]
        )
    return qe.Point(point_uuid(point.id), vector, dict(point.payload))


def _query_request(opened: _Open, name: str, request: SearchRequest) -> qe.QueryRequest:
    check_request(request)
    sources = []
    if request.dense is not None:
        dense_name = opened.dense_name(name)
        check_dim(name, opened.vectors[dense_name].size, len(request.dense))
        sources.append(qe.Query.Nearest([float(x) for x in request.dense], using=dense_name))
    if request.sparse is not None:
        sparse = qe.SparseVector(list(request.sparse.indices), [float(v) for v in request.sparse.values])
        sources.append(qe.Query.Nearest(sparse, using=opened.sparse_name(name)))
    edge_filter = to_edge_filter(request.filter) if request.filter is not None else None
    quantization = None
    if request.rescore is not None or request.oversampling is not None:
        quantization = qe.QuantizationSearchParams(rescore=request.rescore, oversampling=request.oversampling)
    params = qe.SearchParams(hnsw_ef=request.hnsw_ef, exact=request.exact, quantization=quantization)
    common: dict[str, Any] = {
        "limit": request.limit,
        "filter": edge_filter,
        "score_threshold": request.score_threshold,
        "with_payload": True,
        "with_vector": [opened.dense_name(name)] if request.with_vectors else False,
    }
    if len(sources) == 1:
        return qe.QueryRequest(query=sources[0], params=params, **common)
    depth = prefetch_depth(request)
    prefetches = [qe.Prefetch(limit=depth, query=q, params=params, filter=edge_filter) for q in sources]
    fusion: Any = qe.Fusion.Dbsf()
    if request.fusion == "rrf":
        weights = [float(w) for w in request.weights] if request.weights is not None else None
        fusion = qe.Fusion.Rrf(k=request.rrf_k, weights=weights)
    return qe.QueryRequest(query=fusion, prefetches=prefetches, **common)
