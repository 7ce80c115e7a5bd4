"""The small store interface legalrag needs, implemented by the qdrant-edge and qdrant-client adapters.

Filters are always ``qdrant_client.models.Filter`` (the language users already know from Qdrant);
the edge adapter translates them to qdrant-edge's own classes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from qdrant_client import models

from legalrag.plugin.schema import Distance, SparseVector

__all__ = [
    "CollectionInfo",
    "CollectionSpec",
    "Distance",
    "Hit",
    "PayloadSchema",
    "PointRecord",
    "Quantization",
    "SearchRequest",
    "SnapshotInfo",
    "SnapshotStore",
    "Store",
    "VectorInfo",
]

PayloadSchema = Literal["keyword", "integer", "float", "bool", "datetime", "text", "uuid"]
Quantization = Literal["none", "scalar", "binary"]


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """How to create a collection: one named dense vector and optionally one named sparse vector.

    ``on_disk`` keeps vectors on disk (memory-mapped); ``on_disk_payload`` the payload (``None``:
    as ``on_disk``). ``quantization`` compresses the dense vectors (``always_ram`` keeps the
    compressed copy in RAM). ``shard_number``, ``replication_factor`` and
    ``write_consistency_factor`` are for a Qdrant server; the embedded store ignores them.
    """

    dense_size: int
    distance: Distance = "Cosine"
    dense_name: str = "dense"
    sparse_name: str | None = "sparse"
    #: apply Qdrant's IDF modifier to the sparse vector (BM25: term frequencies stored, IDF at query)
    sparse_idf: bool = True
    hnsw_m: int | None = None
    hnsw_ef_construct: int | None = None
    on_disk: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    on_disk_payload: bool | None = None
    quantization: Quantization = "none"
    always_ram: bool | None = None
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None


@dataclass(frozen=True, slots=True)
class VectorInfo:
    size: int
    distance: Distance


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A collection's size, vector layout, metadata and the payload keys it has an index on."""

    name: str
    points: int
    vectors: Mapping[str, VectorInfo]
    sparse_vectors: tuple[str, ...]
    metadata: Mapping[str, Any]
    payload_indexes: tuple[str, ...] = ()
    #: how it is stored and spread: ``shard_number``, ``replication_factor``, ``write_consistency_factor``,
    #: ``on_disk_vectors``, ``on_disk_payload``, ``quantization`` (what the store reports, else what
    #: legalrag asked for when it created the collection; the embedded store has one shard, no replicas)
    storage: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PointRecord:
    """A point to upsert. ``dense`` / ``sparse`` are stored under the collection's vector names."""

    id: str
    payload: Mapping[str, Any]
    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A search hit or scrolled record (``score`` is 0.0 for scroll).

    ``relevance`` is the score on [0, 1] (:mod:`legalrag.plugin.search.relevance`), set by the searcher.
    """

    id: str
    score: float
    payload: dict[str, Any]
    dense: list[float] | None = None
    relevance: float | None = None


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One query. Dense only, sparse only, or both (hybrid: one prefetch each, then fusion).

    ``prefetch_limit`` is the depth of each prefetch in hybrid mode (default ``max(4*limit, 50)``).
    ``weights`` are RRF weights in the order (dense, sparse); DBSF ignores them.
    ``rescore`` / ``oversampling`` tune search over a quantized collection (``None``: Qdrant's default).
    """

    limit: int
    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None
    fusion: Literal["rrf", "dbsf"] = "rrf"
    rrf_k: int = 60
    weights: tuple[float, float] | None = None
    prefetch_limit: int | None = None
    filter: models.Filter | None = None
    score_threshold: float | None = None
    exact: bool = False
    hnsw_ef: int | None = None
    with_vectors: bool = False
    rescore: bool | None = None
    oversampling: float | None = None


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot of one collection: its name (what ``restore_snapshot`` takes), size and creation time."""

    name: str
    size: int
    created: str | None


@runtime_checkable
class Store(Protocol):
    """What legalrag needs from Qdrant. Both adapters pass the same contract tests."""

    def list_collections(self) -> list[str]: ...

    def get_collection(self, name: str) -> CollectionInfo | None: ...

    def create_collection(self, name: str, spec: CollectionSpec) -> None: ...

    def drop_collection(self, name: str) -> bool: ...

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` into the collection's metadata (e.g. tuned fusion weights)."""
        ...

    def create_payload_index(self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False) -> None: ...

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None: ...

    def delete(self, name: str, filter: models.Filter) -> None: ...

    def delete_ids(self, name: str, ids: Sequence[str]) -> None: ...

    def query(self, name: str, request: SearchRequest) -> list[Hit]: ...

    def count(self, name: str, filter: models.Filter | None = None) -> int: ...

    def scroll(
        self, name: str, filter: models.Filter | None = None, *, batch_size: int = 256, with_vectors: bool = False
    ) -> Iterator[Hit]: ...

    def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]: ...

    def optimize(self, name: str) -> None:
        """Build indexes now (after a bulk load), so the first query is not a brute-force scan."""
        ...

    def claim(self, name: str) -> None:
        """Become the writer of collection ``name`` now, before any slow preparation (a model load).

        The embedded store takes the collection's writer lock here, so a second writer fails at once
        with :class:`~legalrag.plugin.errors.StoreLockedError`; a server store has nothing to claim.
        """
        ...

    def bulk_load(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A context manager to wrap a large load into ``name`` in: indexing is deferred until it exits.

        The default does nothing, which suits a store with no background optimizer (it is indexed
        by :meth:`optimize` after the load); a server store pauses HNSW indexing meanwhile.

        Example:
            >>> with store.bulk_load("laws"):  # doctest: +SKIP
            ...     store.upsert("laws", points)
            >>> store.optimize("laws")  # doctest: +SKIP
        """
        return contextlib.nullcontext()

    def close(self) -> None: ...


@runtime_checkable
class SnapshotStore(Protocol):
    """The optional snapshot part of a store (both adapters have it)."""

    def create_snapshot(self, name: str) -> SnapshotInfo: ...

    def list_snapshots(self, name: str) -> list[SnapshotInfo]: ...

    def restore_snapshot(self, name: str, snapshot: str) -> None:
        """Replace collection ``name`` with ``snapshot`` (a name from :meth:`list_snapshots`)."""
        ...
