"""Pure builders of qdrant-client arguments from legalrag's store records (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdrant_client import models

from legalrag.plugin.store.base import CollectionSpec, Distance, PointRecord, SearchRequest, VectorInfo
from legalrag.plugin.store.common import check_dim, check_index, pick_vector, point_uuid, prefetch_depth

__all__ = [
    "create_arguments",
    "index_schema",
    "point_struct",
    "query_arguments",
    "search_params",
    "vector_infos",
]


def create_arguments(spec: CollectionSpec) -> dict[str, Any]:
    """Keyword arguments of ``QdrantClient.create_collection`` for ``spec``."""
    on_disk = True if spec.on_disk else None
    payload_on_disk = spec.on_disk if spec.on_disk_payload is None else spec.on_disk_payload
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
    dense = models.VectorParams(size=spec.dense_size, distance=models.Distance(spec.distance), on_disk=on_disk)
    return {
        "vectors_config": {spec.dense_name: dense},
        "sparse_vectors_config": sparse,
        "hnsw_config": hnsw,
        "on_disk_payload": True if payload_on_disk else None,
        "quantization_config": _quantization(spec),
        "shard_number": spec.shard_number,
        "replication_factor": spec.replication_factor,
        "write_consistency_factor": spec.write_consistency_factor,
        "metadata": dict(spec.metadata) or None,
    }


def _quantization(spec: CollectionSpec) -> Any:
    if spec.quantization == "scalar":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=spec.always_ram)
        )
    if spec.quantization == "binary":
        return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=spec.always_ram))
    return None


def vector_infos(vectors: Any) -> dict[str, VectorInfo]:
    """A collection's dense vectors by name (an unnamed default vector is named ``""``)."""
    if vectors is None:
        return {}
    if isinstance(vectors, models.VectorParams):
        vectors = {"": vectors}
    return {name: VectorInfo(size=v.size, distance=_distance(v.distance)) for name, v in vectors.items()}


def _distance(distance: models.Distance) -> Distance:
    value: Distance = distance.value  # type: ignore[assignment]
    return value


def index_schema(schema: str, is_tenant: bool) -> Any:
    """The ``field_schema`` of ``create_payload_index``."""
    check_index(schema, is_tenant)
    if is_tenant and schema == "keyword":
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    if is_tenant:
        return models.UuidIndexParams(type=models.UuidIndexType.UUID, is_tenant=True)
    return models.PayloadSchemaType(schema)


def point_struct(
    point: PointRecord, dense: Mapping[str, VectorInfo], sparse: tuple[str, ...], name: str
) -> models.PointStruct:
    """A ``PointStruct`` with the vectors under the collection's own vector names."""
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


def search_params(request: SearchRequest) -> models.SearchParams:
    """HNSW, exactness and quantization parameters of one search."""
    quantization = None
    if request.rescore is not None or request.oversampling is not None:
        quantization = models.QuantizationSearchParams(rescore=request.rescore, oversampling=request.oversampling)
    return models.SearchParams(hnsw_ef=request.hnsw_ef, exact=request.exact, quantization=quantization)


def query_arguments(request: SearchRequest, sources: list[tuple[Any, str]], dense_name: str | None) -> dict[str, Any]:
    """Keyword arguments of ``QdrantClient.query_points``: one source, or prefetches and fusion."""
    params = search_params(request)
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
