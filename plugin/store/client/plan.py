"""What the sync and async qdrant-client stores share: request planning and result parsing, once.

Each store method is ``plan → one client call (sync or awaited, under the retry policy) → parse``;
only the middle differs between :class:`~legalrag.plugin.store.client.store.ClientStore` and
:class:`~legalrag.plugin.store.client.aio.AsyncClientStore` (the shape of Haystack's qdrant store,
``_prepare_*`` / ``_process_*`` around a thin call). Failures are classified here too, so both
report the same error for the same cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qdrant_client import models

from legalrag.plugin.errors import CollectionNotFoundError, InputError, LegalRAGError
from legalrag.plugin.store.base import CollectionInfo, Hit, PointRecord, SearchRequest, VectorInfo
from legalrag.plugin.store.client.args import point_struct, query_arguments, vector_infos
from legalrag.plugin.store.client.errors import failure, gave_up, status_of
from legalrag.plugin.store.common import check_dim, check_filter, check_request, make_hit, pick_vector, point_uuid
from legalrag.plugin.store.retry import RetriesExhausted

__all__ = [
    "Layout",
    "QueryPlan",
    "RetrievePlan",
    "already_exists",
    "collection_info",
    "count_filter",
    "ids_selector",
    "layout_of",
    "not_found",
    "plan_query",
    "plan_retrieve",
    "plan_upsert",
    "query_hits",
    "retrieved_hits",
    "surely_missing",
    "target",
    "translate",
    "worth_checking",
]

#: a collection's dense vectors by name, and its sparse vector names
Layout = tuple[dict[str, VectorInfo], tuple[str, ...]]


def layout_of(config: Any) -> Layout:
    """The vector layout of a collection from its ``get_collection(...).config``."""
    return vector_infos(config.params.vectors), tuple(config.params.sparse_vectors or {})


def collection_info(name: str, found: Any, points: int) -> CollectionInfo:
    """From ``get_collection(name)``'s answer (its ``config`` and ``payload_schema``)."""
    vectors, sparse = layout_of(found.config)
    return CollectionInfo(
        name=name,
        points=points,
        vectors=vectors,
        sparse_vectors=sparse,
        metadata=dict(getattr(found.config, "metadata", None) or {}),
        payload_indexes=tuple(sorted(getattr(found, "payload_schema", None) or {})),
        storage=storage_of(found.config),
    )


def storage_of(config: Any) -> dict[str, Any]:
    """What the server reports of a collection's sharding, replication, on-disk storage and quantization,
    over what legalrag recorded when it created it (qdrant-client's local mode reports none of them)."""
    recorded = dict((getattr(config, "metadata", None) or {}).get("storage") or {})
    params = config.params
    reported: dict[str, Any] = {
        "shard_number": params.shard_number,
        "replication_factor": params.replication_factor,
        "write_consistency_factor": params.write_consistency_factor,
        "on_disk_payload": params.on_disk_payload,
    }
    vectors = params.vectors if isinstance(params.vectors, dict) else {"": params.vectors}
    dense = next(iter(vectors.values()), None)
    if dense is not None and dense.on_disk is not None:
        reported["on_disk_vectors"] = dense.on_disk
    quantization = getattr(config, "quantization_config", None)
    if quantization is not None:
        reported["quantization"] = next(
            (kind for kind in ("scalar", "binary", "product") if getattr(quantization, kind, None) is not None), None
        )
    return {**recorded, **{key: value for key, value in reported.items() if value is not None}}


def already_exists(name: str) -> InputError:
    return InputError(
        f"collection {name!r} already exists: use it, drop it first (recreate=True), or choose another collection="
    )


def plan_upsert(points: Sequence[PointRecord], layout: Layout, name: str) -> list[models.PointStruct]:
    dense, sparse = layout
    return [point_struct(point, dense, sparse, name) for point in points]


def ids_selector(ids: Sequence[str]) -> models.PointIdsList:
    return models.PointIdsList(points=[point_uuid(i) for i in ids])


def count_filter(filter: models.Filter | None) -> models.Filter | None:
    return check_filter(filter) if filter is not None else None


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The ``query_points`` keyword arguments, and the dense vector to return with hits (if asked)."""

    arguments: dict[str, Any]
    dense_name: str | None


def plan_query(request: SearchRequest, layout: Layout, name: str) -> QueryPlan:
    check_request(request)
    dense, sparse = layout
    sources: list[tuple[Any, str]] = []
    if request.dense is not None:
        using = pick_vector(tuple(dense), "dense", name)
        check_dim(name, dense[using].size, len(request.dense))
        sources.append(([float(x) for x in request.dense], using))
    if request.sparse is not None:
        vector = models.SparseVector(indices=list(request.sparse.indices), values=list(request.sparse.values))
        sources.append((vector, pick_vector(sparse, "sparse", name)))
    dense_name = pick_vector(tuple(dense), "dense", name) if request.with_vectors else None
    return QueryPlan(query_arguments(request, sources, dense_name), dense_name)


def query_hits(found: Any, plan: QueryPlan) -> list[Hit]:
    return [make_hit(p.id, p.score, p.payload, p.vector, plan.dense_name) for p in found.points]


@dataclass(frozen=True, slots=True)
class RetrievePlan:
    """The point ids to fetch (deduplicated, in order) and which dense vector to return."""

    wanted: list[str]
    dense_name: str | None

    @property
    def with_vectors(self) -> list[str] | bool:
        return [self.dense_name] if self.dense_name else False


def plan_retrieve(ids: Sequence[str], layout: Layout, name: str, *, with_vectors: bool) -> RetrievePlan:
    dense, _ = layout
    dense_name = pick_vector(tuple(dense), "dense", name) if with_vectors else None
    return RetrievePlan(list(dict.fromkeys(point_uuid(i) for i in ids)), dense_name)


def retrieved_hits(records: Iterable[Any], plan: RetrievePlan) -> list[Hit]:
    found = {str(r.id): make_hit(r.id, 0.0, r.payload, r.vector, plan.dense_name) for r in records}
    return [found[i] for i in plan.wanted if i in found]


def target(name: str | None) -> str:
    return f"collection {name!r}" if name is not None else "collections"


def not_found(name: str, existing: Sequence[str] | None) -> CollectionNotFoundError:
    listed = "unknown" if existing is None else (", ".join(existing) or "none")
    return CollectionNotFoundError(
        f"collection {name!r} does not exist (existing: {listed}): run "
        f"ingest into it first (ingest_paths(..., collection={name!r})), or pass an existing collection="
    )


def translate(where: str, name: str | None, action: str, exc: Exception) -> LegalRAGError:
    """The legalrag error for a failed call whose collection is known to exist (or none is involved)."""
    if isinstance(exc, RetriesExhausted):
        return gave_up(where, target(name), action, exc)
    return failure(where, target(name), action, exc)


def surely_missing(exc: Exception) -> bool:
    """A 404: the collection is gone without asking (otherwise the store asks the server)."""
    return status_of(exc) == 404


def worth_checking(exc: Exception) -> bool:
    """Whether a failure might be a missing collection (a transient one that outlasted the budget is not)."""
    return not isinstance(exc, RetriesExhausted)
