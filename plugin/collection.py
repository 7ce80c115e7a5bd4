"""Collection schema: creating a legalrag collection, checking an existing one against the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from legalrag import __version__
from legalrag.plugin.errors import CollectionMismatchError, CollectionNotFoundError, StoreError
from legalrag.plugin.schema import DENSE_VECTOR, SPARSE_VECTOR, Distance
from legalrag.plugin.store.base import CollectionInfo, CollectionSpec, PayloadSchema, Store

if TYPE_CHECKING:
    from legalrag.plugin.settings import CollectionSettings

__all__ = ["INDEXED_KEYS", "ensure_collection", "require_collection"]

#: payload keys that get an index when a collection is created (filters and incremental ingest use them)
INDEXED_KEYS: dict[str, PayloadSchema] = {
    "doc_id": "keyword",
    "version": "keyword",
    "doc_hash": "keyword",
    "content_hash": "keyword",
    "source": "keyword",
    "title": "keyword",
    "article": "keyword",
    "chapter": "keyword",
    "language": "keyword",
    "chunk_index": "integer",
    "effective_date": "datetime",
}


def require_collection(store: Store, name: str) -> CollectionInfo:
    """Return the collection's info or raise an error that lists what exists."""
    info = store.get_collection(name)
    if info is None:
        existing = ", ".join(sorted(store.list_collections())) or "none"
        where = getattr(store, "root", None) or repr(store)
        raise CollectionNotFoundError(
            f"collection {name!r} does not exist in {where} (existing: {existing}): "
            f"ingest into it first (ingest_paths(..., collection={name!r})) or pass an existing collection="
        )
    return info


def check_compatible(info: CollectionInfo, *, dimension: int, distance: Distance, model: str) -> None:
    """Refuse a collection whose dense vector does not fit the model, before anything is written."""
    vector = info.vectors.get(DENSE_VECTOR)
    if vector is None:
        raise CollectionMismatchError(
            f"collection {info.name!r} has no dense vector named {DENSE_VECTOR!r}; it was not made by "
            "legalrag: use another collection=, or recreate=True to replace it"
        )
    if vector.size != dimension or vector.distance != distance:
        raise CollectionMismatchError(
            f"collection {info.name!r} has dim {vector.size} / {vector.distance} but model {model!r} makes "
            f"dim {dimension} / {distance}: use another collection=, the collection's model "
            f"({info.metadata.get('model', 'unknown')}), or recreate=True"
        )


def ensure_collection(
    store: Store,
    name: str,
    *,
    dimension: int,
    distance: Distance,
    model: str,
    sparse: bool,
    metadata: Mapping[str, Any] | None = None,
    recreate: bool = False,
    tenant_key: str | None = None,
    options: CollectionSettings | None = None,
) -> CollectionInfo:
    """Create the collection if needed (with payload indexes), else check it fits the model.

    ``options`` (``Settings.collection_options``) sets on-disk storage, quantization, HNSW and
    sharding of a new collection; an existing collection keeps its own.
    """
    info = store.get_collection(name)
    # the embedded store replaces a collection in place, so its readers keep the last published version
    replace = getattr(store, "replace_collection", None) if info is not None and recreate else None
    if info is not None and recreate and replace is None:
        store.drop_collection(name)
        info = None
    if info is not None and replace is None:
        check_compatible(info, dimension=dimension, distance=distance, model=model)
        _repair_indexes(store, info, tenant_key)
        return info
    spec = CollectionSpec(
        dense_size=dimension,
        distance=distance,
        dense_name=DENSE_VECTOR,
        sparse_name=SPARSE_VECTOR if sparse else None,
        metadata={
            "legalrag_version": __version__,
            "model": model,
            "storage": requested_storage(options),
            **(metadata or {}),
        },
        **(_spec_options(options) if options is not None else {}),
    )
    if replace is not None:
        replace(name, spec)
    else:
        store.create_collection(name, spec)
    for key, schema in INDEXED_KEYS.items():
        store.create_payload_index(name, key, schema)
    if tenant_key:
        store.create_payload_index(name, tenant_key, "keyword", is_tenant=True)
    created = store.get_collection(name)
    if created is None:
        raise StoreError(f"collection {name!r} was created but cannot be read back")
    return created


def _repair_indexes(store: Store, info: CollectionInfo, tenant_key: str | None) -> None:
    """Create the payload indexes an existing collection lacks (a run killed right after creating the
    collection leaves some out; filtered queries would then scan every point)."""
    have = set(info.payload_indexes)
    for key, schema in INDEXED_KEYS.items():
        if key not in have:
            store.create_payload_index(name=info.name, key=key, schema=schema)
    if tenant_key and tenant_key not in have:  # a collection first made without tenants gets it when one arrives
        store.create_payload_index(info.name, tenant_key, "keyword", is_tenant=True)


def requested_storage(options: CollectionSettings | None) -> dict[str, Any]:
    """What a collection created with ``options`` asks of the store (recorded in its metadata, shown by
    ``legalrag collections inspect`` where the store does not report it)."""
    if options is None:
        from legalrag.plugin.settings import CollectionSettings

        options = CollectionSettings()
    storage: dict[str, Any] = {
        "on_disk_vectors": options.on_disk_vectors,
        "on_disk_payload": options.on_disk_vectors if options.on_disk_payload is None else options.on_disk_payload,
        "quantization": options.quantization,
    }
    for key in ("shard_number", "replication_factor", "write_consistency_factor"):
        storage[key] = getattr(options, key) or 1
    return storage


def _spec_options(options: CollectionSettings) -> dict[str, Any]:
    """The :class:`CollectionSpec` fields a :class:`CollectionSettings` sets."""
    return {
        "on_disk": options.on_disk_vectors,
        "on_disk_payload": options.on_disk_payload,
        "quantization": options.quantization,
        "always_ram": options.always_ram,
        "hnsw_m": options.hnsw_m,
        "hnsw_ef_construct": options.hnsw_ef_construct,
        "shard_number": options.shard_number,
        "replication_factor": options.replication_factor,
        "write_consistency_factor": options.write_consistency_factor,
    }
