"""An open qdrant-edge shard, and the translation of legalrag's store types and errors to qdrant-edge."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import qdrant_edge as qe

from legalrag.plugin.errors import InputError, LegalRAGError, StoreError
from legalrag.plugin.store.base import CollectionSpec, PointRecord, SearchRequest, VectorInfo
from legalrag.plugin.store.common import check_dim, check_index, check_request, pick_vector, point_uuid, prefetch_depth
from legalrag.plugin.store.edge.files import DirLock
from legalrag.plugin.store.edge.filters import to_edge_filter

__all__ = [
    "OpenShard",
    "damaged_vectors",
    "edge_config",
    "edge_errors",
    "edge_index",
    "edge_point",
    "open_shard",
    "query_request",
]

# named after the public module, so logging configured for the edge store still covers these warnings
logger = logging.getLogger("legalrag.plugin.store.edge.store")

#: qdrant-edge needs a full-scan threshold with any HNSW override; Qdrant's default, in KB
_FULL_SCAN_THRESHOLD = 10_000


@dataclass(slots=True)
class OpenShard:
    """A shard this store holds open, with its ``collection.json`` document.

    A writer's has the collection's ``lock`` and knows whether it wrote since it last published
    (``dirty``); a reader's has its private ``copy`` of published ``version``, last checked against
    the current version at ``checked`` (monotonic seconds).
    """

    shard: qe.EdgeShard
    lock: DirLock | None
    document: dict[str, Any]
    vectors: dict[str, VectorInfo]
    sparse: tuple[str, ...]
    dirty: bool = False
    copy: Any = None
    version: int | None = None
    checked: float = 0.0

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.document.get("metadata", {}))

    def dense_name(self, collection: str) -> str:
        return pick_vector(tuple(self.vectors), "dense", collection)

    def sparse_name(self, collection: str) -> str:
        return pick_vector(self.sparse, "sparse", collection)


@contextmanager
def edge_errors(name: str, action: str) -> Iterator[None]:
    """Turn qdrant-edge's bare exceptions into legalrag errors that name the collection."""
    try:
        yield
    except LegalRAGError:
        raise
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot {action} collection {name!r}: {exc}") from exc
    except Exception as exc:
        raise StoreError(f"qdrant-edge failed to {action} collection {name!r}: {exc}") from exc


def open_shard(shard: qe.EdgeShard, lock: DirLock | None, document: dict[str, Any]) -> OpenShard:
    """Hold ``shard`` open (under ``lock`` for a writer), with the vector layout its ``collection.json`` describes."""
    vectors = {
        name: VectorInfo(size=int(v["size"]), distance=v["distance"]) for name, v in document.get("vectors", {}).items()
    }
    return OpenShard(shard, lock, document, vectors, tuple(document.get("sparse_vectors", {})))


def edge_config(spec: CollectionSpec) -> qe.EdgeConfig:
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


def edge_index(schema: str, is_tenant: bool) -> Any:
    check_index(schema, is_tenant)
    if is_tenant and schema == "keyword":
        return qe.KeywordIndexParams(is_tenant=True)
    if is_tenant:
        return qe.UuidIndexParams(is_tenant=True)
    return getattr(qe.PayloadSchemaType, schema.capitalize())


def edge_point(opened: OpenShard, name: str, point: PointRecord) -> qe.Point:
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


def query_request(opened: OpenShard, name: str, request: SearchRequest) -> qe.QueryRequest:
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


#: points whose stored vectors are read back before a shard is trusted (restored) or published
SAMPLE_POINTS = 512


def damaged_vectors(shard: qe.EdgeShard, vectors: Mapping[str, Any]) -> str | None:
    """Why a sample of ``shard``'s stored dense vectors cannot be right, or ``None``: every value must be
    finite and, for cosine vectors, the vector unit length (Qdrant normalises them on write). Random
    bytes or flipped bits over the vectors read as huge or NaN scores otherwise."""
    for name, params in vectors.items():
        request = qe.ScrollRequest(limit=SAMPLE_POINTS, with_payload=False, with_vector=[name])
        records, _ = shard.scroll(request)
        for record in records:
            raw = record.vector.get(name) if isinstance(record.vector, Mapping) else record.vector
            values = np.asarray(raw if raw is not None else [], dtype=np.float64)
            if not values.size:
                continue
            norm = float(np.linalg.norm(values)) if np.all(np.isfinite(values)) else math.nan
            if not math.isfinite(norm) or (params.get("distance") == "Cosine" and abs(norm - 1.0) > 1e-2):
                return f"damaged vectors (point {record.id}: norm {norm:.4g})"
    return None
