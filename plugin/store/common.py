"""Input checks and record building shared by both adapters, so they accept and refuse the same things."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from qdrant_client import models

from legalrag.plugin.errors import InputError
from legalrag.plugin.store.base import CollectionSpec, Hit, SearchRequest

__all__ = [
    "DISTANCES",
    "PAYLOAD_SCHEMAS",
    "check_dim",
    "check_filter",
    "check_index",
    "check_request",
    "check_spec",
    "make_hit",
    "pick_vector",
    "point_uuid",
    "prefetch_depth",
]

DISTANCES = ("Cosine", "Dot", "Euclid", "Manhattan")
PAYLOAD_SCHEMAS = ("keyword", "integer", "float", "bool", "datetime", "text", "uuid")


def check_spec(spec: CollectionSpec) -> None:
    """Refuse a spec neither backend can create, before anything is written."""
    if spec.dense_size < 1 or spec.distance not in DISTANCES:
        raise InputError(
            f"invalid collection spec: dense_size {spec.dense_size} must be >= 1 and distance "
            f"{spec.distance!r} one of {', '.join(DISTANCES)}"
        )
    if spec.sparse_name == spec.dense_name:
        raise InputError(f"dense and sparse vectors need different names, both are {spec.dense_name!r}")
    if spec.quantization not in ("none", "scalar", "binary"):
        raise InputError(f"unknown quantization {spec.quantization!r}: use none, scalar or binary")
    counts = {
        "shard_number": spec.shard_number,
        "replication_factor": spec.replication_factor,
        "write_consistency_factor": spec.write_consistency_factor,
        "hnsw_ef_construct": spec.hnsw_ef_construct,
    }
    bad = [f"{key}={value}" for key, value in counts.items() if value is not None and value < 1]
    if spec.hnsw_m is not None and spec.hnsw_m < 0:
        bad.append(f"hnsw_m={spec.hnsw_m}")
    if bad:
        raise InputError(f"invalid collection spec: {', '.join(bad)} must be positive")


def check_request(request: SearchRequest) -> None:
    """Refuse a search request that cannot mean anything (no vector, bad limit or weights)."""
    if request.limit < 1:
        raise InputError(f"search limit must be at least 1, not {request.limit}")
    if request.dense is None and request.sparse is None:
        raise InputError("a search needs a dense vector, a sparse vector, or both")
    if request.fusion not in ("rrf", "dbsf"):
        raise InputError(f"unknown fusion {request.fusion!r}: use 'rrf' or 'dbsf'")
    if request.weights is not None and (len(request.weights) != 2 or min(request.weights) < 0):
        raise InputError(f"RRF weights must be two non-negative numbers (dense, sparse), not {request.weights}")
    if request.filter is not None:
        check_filter(request.filter)


def prefetch_depth(request: SearchRequest) -> int:
    """How many candidates each hybrid prefetch fetches before fusion."""
    return request.prefetch_limit or max(4 * request.limit, 50)


def check_filter(filter: Any) -> models.Filter:
    """Return ``filter`` if it is a ``qdrant_client.models.Filter``, else raise :class:`InputError`."""
    if not isinstance(filter, models.Filter):
        raise InputError(
            f"filters must be qdrant_client.models.Filter, not {type(filter).__name__}: "
            "build one with models.Filter(must=[models.FieldCondition(...)])"
        )
    return filter


def check_index(schema: str, is_tenant: bool) -> None:
    """Refuse an unknown payload schema, or ``is_tenant`` on a schema Qdrant cannot partition by."""
    if schema not in PAYLOAD_SCHEMAS:
        raise InputError(f"unknown payload schema {schema!r}: use one of {', '.join(PAYLOAD_SCHEMAS)}")
    if is_tenant and schema not in ("keyword", "uuid"):
        raise InputError(f"is_tenant needs a keyword or uuid index, not {schema!r}")


def check_dim(name: str, expected: int, got: int) -> None:
    """Refuse a dense vector whose size differs from the collection's."""
    if expected != got:
        raise InputError(
            f"collection {name!r} stores dense vectors of dim {expected} but got dim {got}: embed with "
            "the collection's model, use another collection=, or recreate=True"
        )


def pick_vector(names: Sequence[str], kind: str, collection: str) -> str:
    """The vector a query or point uses: the only one of its kind, else the one named ``kind``."""
    if len(names) == 1:
        return names[0]
    if kind in names:
        return kind
    raise InputError(
        f"collection {collection!r} has {len(names)} {kind} vectors ({', '.join(names) or 'none'}) and "
        f"none named {kind!r}: use a collection made by legalrag, or re-ingest with {kind} vectors"
    )


def point_uuid(point_id: str) -> str:
    """The canonical form of a UUID point id (lower-case, hyphenated)."""
    try:
        return str(uuid.UUID(str(point_id)))
    except ValueError:
        raise InputError(f"point id {point_id!r} is not a UUID string: use legalrag.plugin.schema.point_id") from None


def make_hit(point_id: Any, score: float, payload: Any, vector: Any, dense_name: str | None) -> Hit:
    """Build a :class:`Hit` from either backend's point (``dense`` only when ``dense_name`` is asked)."""
    values = None
    if dense_name is not None and isinstance(vector, dict) and dense_name in vector:
        values = [float(x) for x in vector[dense_name]]
    return Hit(id=str(point_id), score=float(score), payload=dict(payload or {}), dense=values)
