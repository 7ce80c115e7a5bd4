"""Server store over qdrant-client (a Qdrant server, or qdrant-client's local mode for tests).

Collection metadata lives in Qdrant's own collection ``metadata`` (Qdrant >= 1.16, qdrant-client
>= 1.16): written by ``create_collection(metadata=...)`` and merged by ``update_collection``; no
reserved point and no side file, so every client of the server sees the same metadata.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from legalrag.plugin.errors import CollectionNotFoundError, InputError, LegalRAGError, StoreError
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store._common import (
    check_dim,
    check_filter,
    check_index,
    check_request,
    check_spec,
    make_hit,
    pick_vector,
    point_uuid,
    prefetch_depth,
)
from legalrag.plugin.store.base import (
    CollectionInfo,
    CollectionSpec,
    Distance,
    Hit,
    PayloadSchema,
    PointRecord,
    SearchRequest,
    VectorInfo,
)

__all__ = ["ClientStore"]

logger = logging.getLogger(__name__)

#: a collection's dense vectors by name, and its sparse vector names
_Layout = tuple[dict[str, VectorInfo], tuple[str, ...]]


class ClientStore:
    """:class:`~legalrag.plugin.store.base.Store` over a ready ``QdrantClient``.

    Args:
        client: a configured client (server URL, API key, timeouts are the caller's business).
        optimize_timeout: seconds :meth:`optimize` waits for the server's optimizers to finish.

    Example:
        >>> store = ClientStore(QdrantClient(":memory:"))
        >>> store.create_collection("laws", CollectionSpec(dense_size=8))
        >>> store.count("laws")
        0
    """

    def __init__(self, client: QdrantClient, *, optimize_timeout: float = 600.0) -> None:
        self._client = client
        self._optimize_timeout = optimize_timeout
        #: collection -> (dense vectors, sparse vector names), learnt once per collection
        self._layouts: dict[str, _Layout] = {}

    @property
    def client(self) -> QdrantClient:
        return self._client

    def list_collections(self) -> list[str]:
        with self._errors(None, "list"):
            return sorted(c.name for c in self._client.get_collections().collections)

    def get_collection(self, name: str) -> CollectionInfo | None:
        validate_collection_name(name)
        with self._errors(None, "read"):
            if not self._client.collection_exists(name):
                return None
            config = self._client.get_collection(name).config
        vectors = _vector_infos(config.params.vectors)
        sparse = tuple(config.params.sparse_vectors or {})
        self._layouts[name] = (vectors, sparse)
        return CollectionInfo(
            name=name,
            points=self.count(name),
            vectors=vectors,
            sparse_vectors=sparse,
            metadata=dict(getattr(config, "metadata", None) or {}),
        )

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        validate_collection_name(name)
        check_spec(spec)
        with self._errors(None, "create"):
            if self._client.collection_exists(name):
                raise InputError(
                    f"collection {name!r} already exists: use it, drop it first (--recreate), "
                    "or choose another --collection"
                )
            self._client.create_collection(name, **_create_arguments(spec))
        self._layouts.pop(name, None)

    def drop_collection(self, name: str) -> bool:
        validate_collection_name(name)
        self._layouts.pop(name, None)
        with self._errors(None, "drop"):
            if not self._client.collection_exists(name):
                return False
            self._client.delete_collection(name)
        return True

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        validate_collection_name(name)
        with self._errors(name, "update"):
            current = self._client.get_collection(name).config.metadata or {}
            # send the merged whole, so the result does not depend on the server's merge rules
            self._client.update_collection(name, metadata={**current, **metadata})

    def create_payload_index(
        self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False
    ) -> None:
        validate_collection_name(name)
        field_schema = _index_schema(schema, is_tenant)
        with self._errors(name, "index"):
            self._client.create_payload_index(name, key, field_schema=field_schema, wait=True)

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        dense, sparse = self._layout(name)
        if not points:
            return
        structs = [_point_struct(point, dense, sparse, name) for point in points]
        with self._errors(name, "upsert into"):
            self._client.upsert(name, structs, wait=True)

    def delete(self, name: str, filter: models.Filter) -> None:
        validate_collection_name(name)
        selector = models.FilterSelector(filter=check_filter(filter))
        with self._errors(name, "delete from"):
            self._client.delete(name, points_selector=selector, wait=True)

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        validate_collection_name(name)
        selector = models.PointIdsList(points=[point_uuid(i) for i in ids])
        with self._errors(name, "delete from"):
            self._client.delete(name, points_selector=selector, wait=True)

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        check_request(request)
        dense, sparse = self._layout(name)
        sources: list[tuple[Any, str]] = []
        if request.dense is not None:
            using = pick_vector(tuple(dense), "dense", name)
            check_dim(name, dense[using].size, len(request.dense))
            sources.append(([float(x) for x in request.dense], using))
        if request.sparse is not None:
            vector = models.SparseVector(
                indices=list(request.sparse.indices), values=list(request.sparse.values)
            )
            sources.append((vector, pick_vector(sparse, "sparse", name)))
        dense_name = pick_vector(tuple(dense), "dense", name) if request.with_vectors else None
        arguments = _query_arguments(request, sources, dense_name)
        with self._errors(name, "query"):
            points = self._client.query_points(name, **arguments).points
        return [make_hit(p.id, p.score, p.payload, p.vector, dense_name) for p in points]

    def count(self, name: str, filter: models.Filter | None = None) -> int:
        validate_collection_name(name)
        count_filter = check_filter(filter) if filter is not None else None
        with self._errors(name, "count"):
            return self._client.count(name, count_filter=count_filter, exact=True).count

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
            with self._errors(name, "scroll"):
                records, offset = self._client.scroll(
                    name,
                    scroll_filter=scroll_filter,
                    limit=batch_size,
                    offset=offset,
                    with_payload=True,
                    with_vectors=[dense_name] if dense_name else False,
                )
            for record in records:
                yield make_hit(record.id, 0.0, record.payload, record.vector, dense_name)
            if offset is None:
                return

    def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        dense, _ = self._layout(name)
        dense_name = pick_vector(tuple(dense), "dense", name) if with_vectors else None
        wanted = list(dict.fromkeys(point_uuid(i) for i in ids))
        with self._errors(name, "retrieve from"):
            records = self._client.retrieve(
                name, wanted, with_payload=True, with_vectors=[dense_name] if dense_name else False
            )
        found = {str(r.id): make_hit(r.id, 0.0, r.payload, r.vector, dense_name) for r in records}
        return [found[i] for i in wanted if i in found]

    def optimize(self, name: str) -> None:
        """Start the server's pending optimizations; wait up to ``optimize_timeout`` s for green."""
        validate_collection_name(name)
        deadline = time.monotonic() + self._optimize_timeout
        with self._errors(name, "optimize"):
            # an empty optimizer diff is Qdrant's documented way to start pending optimizations
            self._client.update_collection(name, optimizers_config=models.OptimizersConfigDiff())
            while self._client.get_collection(name).status != models.CollectionStatus.GREEN:
                if time.monotonic() > deadline:
                    logger.warning(
                        "collection %r still optimizing after %.0f s", name, self._optimize_timeout
                    )
                    return
                time.sleep(0.5)

    def close(self) -> None:
        self._client.close()

    def _layout(self, name: str) -> _Layout:
        validate_collection_name(name)
        layout = self._layouts.get(name)
        if layout is None:
            with self._errors(name, "read"):
                params = self._client.get_collection(name).config.params
            layout = self._layouts[name] = (_vector_infos(params.vectors), tuple(params.sparse_vectors or {}))
        return layout

    @contextmanager
    def _errors(self, name: str | None, action: str) -> Iterator[None]:
        """Translate client and server failures into legalrag errors that say what to do."""
        try:
            yield
        except LegalRAGError:
            raise
        except Exception as exc:
            if name is not None:
                self._layouts.pop(name, None)
                if self._missing(name):
                    raise CollectionNotFoundError(self._not_found(name)) from exc
            target = f"collection {name!r}" if name is not None else "collections"
            if _is_bad_request(exc):
                raise InputError(f"Qdrant refused to {action} {target}: {exc}") from exc
            raise StoreError(
                f"Qdrant failed to {action} {target}: {exc} (is the server up, and are "
                "LEGALRAG_QDRANT_URL / LEGALRAG_QDRANT_API_KEY right?)"
            ) from exc

    def _missing(self, name: str) -> bool:
        try:
            return not self._client.collection_exists(name)
        except Exception:
            return False

    def _not_found(self, name: str) -> str:
        try:
            existing = ", ".join(self.list_collections()) or "none"
        except LegalRAGError:
            existing = "unknown"
        return (
            f"collection {name!r} does not exist (existing: {existing}): run "
            f"`legalrag ingest PATH --collection {name}` first, or pass an existing --collection"
        )


def _is_bad_request(exc: Exception) -> bool:
    if isinstance(exc, ValueError):  # local mode reports bad input as ValueError
        return True
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in (400, 422)
    code = getattr(exc, "code", None)  # grpc.RpcError
    return callable(code) and getattr(code(), "name", "") == "INVALID_ARGUMENT"


def _create_arguments(spec: CollectionSpec) -> dict[str, Any]:
    on_disk = True if spec.on_disk else None
    sparse = None
    if spec.sparse_name:
        sparse = {
            spec.sparse_name: models.SparseVectorParams(
                modifier=models.Modifier.IDF if spec.sparse_idf else None,
                index=models.SparseIndexParams(on_disk=on_disk),
            )
        }
    hnsw = None
    if spec.hnsw_m is not None or spec.hnsw_ef_construct is not None:
        hnsw = models.HnswConfigDiff(m=spec.hnsw_m, ef_construct=spec.hnsw_ef_construct)
    dense = models.VectorParams(
        size=spec.dense_size, distance=models.Distance(spec.distance), on_disk=on_disk
    )
    return {
        "vectors_config": {spec.dense_name: dense},
        "sparse_vectors_config": sparse,
        "hnsw_config": hnsw,
        "on_disk_payload": on_disk,
        "metadata": dict(spec.metadata) or None,
    }


def _vector_infos(vectors: Any) -> dict[str, VectorInfo]:
    if vectors is None:
        return {}
    if isinstance(vectors, models.VectorParams):
        vectors = {"": vectors}  # an unnamed default vector
    return {name: VectorInfo(size=v.size, distance=_distance(v.distance)) for name, v in vectors.items()}


def _distance(distance: models.Distance) -> Distance:
    value: Distance = distance.value  # type: ignore[assignment]
    return value


def _index_schema(schema: str, is_tenant: bool) -> Any:
    check_index(schema, is_tenant)
    if is_tenant and schema == "keyword":
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    if is_tenant:
        return models.UuidIndexParams(type=models.UuidIndexType.UUID, is_tenant=True)
    return models.PayloadSchemaType(schema)


def _point_struct(
    point: PointRecord, dense: Mapping[str, VectorInfo], sparse: tuple[str, ...], name: str
) -> models.PointStruct:
    vector: dict[str, Any] = {}
    if point.dense is not None:
        using = pick_vector(tuple(dense), "dense", name)
        check_dim(name, dense[using].size, len(point.dense))
        vector[using] = [float(x) for x in point.dense]
    if point.sparse is not None:
        vector[pick_vector(sparse, "sparse", name)] = models.SparseVector(
            indices=[int(i) for i in point.sparse.indices], values=[float(v) for v in point.sparse.values]
        )
    return models.PointStruct(id=point_uuid(point.id), vector=vector, payload=dict(point.payload))


def _query_arguments(
    request: SearchRequest, sources: list[tuple[Any, str]], dense_name: str | None
) -> dict[str, Any]:
    params = models.SearchParams(hnsw_ef=request.hnsw_ef, exact=request.exact)
    common: dict[str, Any] = {
        "limit": request.limit,
        "query_filter": request.filter,
        "score_threshold": request.score_threshold,
        "with_payload": True,
        "with_vectors": [dense_name] if dense_name else False,
    }
    if len(sources) == 1:
        vector, using = sources[0]
        return {**common, "query": vector, "using": using, "search_params": params}
    depth = prefetch_depth(request)
    prefetch = [
        models.Prefetch(query=vector, using=using, limit=depth, filter=request.filter, params=params)
        for vector, using in sources
    ]
    fusion: Any = models.FusionQuery(fusion=models.Fusion.DBSF)
    if request.fusion == "rrf":
        weights = [float(w) for w in request.weights] if request.weights is not None else None
        fusion = models.RrfQuery(rrf=models.Rrf(k=request.rrf_k, weights=weights))
    return {**common, "query": fusion, "prefetch": prefetch}
