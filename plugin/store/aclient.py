"""Async store over ``AsyncQdrantClient``: the calls a retriever or vector store awaits in an event loop.

Only what the async search and write paths need (query, retrieve, count, upsert, delete by id,
plus collection reads and creation); administration stays with the sync
:class:`~legalrag.plugin.store.client.ClientStore`. Requests are built by the same pure builders
(``_client_args``), transient failures retried under the same :class:`RetryPolicy` (with awaited
waits), and failures reported by the same ``_client_errors``, so both adapters behave alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from qdrant_client import AsyncQdrantClient, models

from legalrag.plugin.errors import CollectionNotFoundError, InputError, LegalRAGError
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store._client_args import (
    create_arguments,
    index_schema,
    point_struct,
    query_arguments,
    vector_infos,
)
from legalrag.plugin.store._client_errors import failure, gave_up, server_of, status_of
from legalrag.plugin.store._common import (
    check_dim,
    check_filter,
    check_request,
    check_spec,
    make_hit,
    pick_vector,
    point_uuid,
)
from legalrag.plugin.store.base import (
    CollectionInfo,
    CollectionSpec,
    Hit,
    PayloadSchema,
    PointRecord,
    SearchRequest,
    VectorInfo,
)
from legalrag.plugin.store.retry import RetriesExhausted, RetryPolicy, transient_wait

__all__ = ["AsyncClientStore", "AsyncStore"]

T = TypeVar("T")

#: a collection's dense vectors by name, and its sparse vector names
_Layout = tuple[dict[str, VectorInfo], tuple[str, ...]]


@runtime_checkable
class AsyncStore(Protocol):
    """The awaitable subset of :class:`~legalrag.plugin.store.base.Store` that async search needs."""

    async def get_collection(self, name: str) -> CollectionInfo | None: ...

    async def query(self, name: str, request: SearchRequest) -> list[Hit]: ...

    async def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]: ...

    async def count(self, name: str, filter: models.Filter | None = None) -> int: ...

    async def upsert(self, name: str, points: Sequence[PointRecord]) -> None: ...

    async def delete_ids(self, name: str, ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


async def retrying(policy: RetryPolicy, call: Callable[[], Awaitable[T]]) -> T:
    """:meth:`RetryPolicy.run` for coroutines: same classification, waits and deadline, awaited sleeps.

    Raises:
        RetriesExhausted: a transient failure lasted past the budget.
        Exception: the first non-transient error, unchanged.
    """
    start = policy.clock()
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            retry_after = transient_wait(exc)
            if retry_after is None:
                raise
            elapsed = policy.clock() - start
            wait = policy.delay(attempt, elapsed=elapsed, retry_after=retry_after)
            if wait is None:
                raise RetriesExhausted(exc, attempt + 1, elapsed) from exc
        await asyncio.sleep(wait)
        attempt += 1


class AsyncClientStore:
    """:class:`AsyncStore` over a ready ``AsyncQdrantClient`` (a server, or local mode for tests).

    Args:
        client: a configured async client; URL, API key and timeouts are the caller's business.
        retry: how long transient server failures are retried (default: 30 s in all per call).

    Example:
        >>> import asyncio
        >>> async def demo() -> int:
        ...     store = AsyncClientStore(AsyncQdrantClient(":memory:"))
        ...     await store.create_collection("laws", CollectionSpec(dense_size=8))
        ...     return await store.count("laws")
        >>> asyncio.run(demo())
        0
    """

    def __init__(self, client: AsyncQdrantClient, *, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry if retry is not None else RetryPolicy()
        self._where = server_of(client)
        #: collection -> (dense vectors, sparse vector names), learnt once per collection
        self._layouts: dict[str, _Layout] = {}

    def __repr__(self) -> str:
        return f"AsyncClientStore({self._where!r})"

    @property
    def client(self) -> AsyncQdrantClient:
        return self._client

    async def list_collections(self) -> list[str]:
        found = await self._call(None, "list", self._client.get_collections)
        return sorted(c.name for c in found.collections)

    async def get_collection(self, name: str) -> CollectionInfo | None:
        if not await self._exists(name):
            return None
        config = (await self._call(name, "read", lambda: self._client.get_collection(name))).config
        vectors = vector_infos(config.params.vectors)
        sparse = tuple(config.params.sparse_vectors or {})
        self._layouts[name] = (vectors, sparse)
        return CollectionInfo(
            name=name,
            points=await self.count(name),
            vectors=vectors,
            sparse_vectors=sparse,
            metadata=dict(getattr(config, "metadata", None) or {}),
        )

    async def create_collection(self, name: str, spec: CollectionSpec) -> None:
        validate_collection_name(name)
        check_spec(spec)
        if await self._exists(name):
            raise InputError(
                f"collection {name!r} already exists: use it, drop it first (--recreate), "
                "or choose another --collection"
            )
        arguments = create_arguments(spec)
        tries = 0

        async def create() -> None:
            nonlocal tries
            tries += 1
            if tries > 1 and await self._client.collection_exists(name):
                return  # an earlier attempt reached the server before its answer was lost
            await self._client.create_collection(name, **arguments)

        await self._call(name, "create", create, check_missing=False)
        self._layouts.pop(name, None)

    async def create_payload_index(
        self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False
    ) -> None:
        validate_collection_name(name)
        field_schema = index_schema(schema, is_tenant)
        await self._call(
            name,
            "index",
            lambda: self._client.create_payload_index(name, key, field_schema=field_schema, wait=True),
        )

    async def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        dense, sparse = await self._layout(name)
        if not points:
            return
        structs = [point_struct(point, dense, sparse, name) for point in points]
        # ids are deterministic, so a retried upsert rewrites the same points instead of adding copies
        await self._call(name, "upsert into", lambda: self._client.upsert(name, structs, wait=True))

    async def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        validate_collection_name(name)
        selector = models.PointIdsList(points=[point_uuid(i) for i in ids])
        await self._call(name, "delete from", lambda: self._client.delete(name, points_selector=selector, wait=True))

    async def query(self, name: str, request: SearchRequest) -> list[Hit]:
        check_request(request)
        dense, sparse = await self._layout(name)
        sources: list[tuple[Any, str]] = []
        if request.dense is not None:
            using = pick_vector(tuple(dense), "dense", name)
            check_dim(name, dense[using].size, len(request.dense))
            sources.append(([float(x) for x in request.dense], using))
        if request.sparse is not None:
            vector = models.SparseVector(indices=list(request.sparse.indices), values=list(request.sparse.values))
            sources.append((vector, pick_vector(sparse, "sparse", name)))
        dense_name = pick_vector(tuple(dense), "dense", name) if request.with_vectors else None
        arguments = query_arguments(request, sources, dense_name)
        found = await self._call(name, "query", lambda: self._client.query_points(name, **arguments))
        return [make_hit(p.id, p.score, p.payload, p.vector, dense_name) for p in found.points]

    async def count(self, name: str, filter: models.Filter | None = None) -> int:
        validate_collection_name(name)
        count_filter = check_filter(filter) if filter is not None else None
        result = await self._call(
            name, "count", lambda: self._client.count(name, count_filter=count_filter, exact=True)
        )
        return result.count

    async def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        dense, _ = await self._layout(name)
        dense_name = pick_vector(tuple(dense), "dense", name) if with_vectors else None
        wanted = list(dict.fromkeys(point_uuid(i) for i in ids))
        records = await self._call(
            name,
            "retrieve from",
            lambda: self._client.retrieve(
                name, wanted, with_payload=True, with_vectors=[dense_name] if dense_name else False
            ),
        )
        found = {str(r.id): make_hit(r.id, 0.0, r.payload, r.vector, dense_name) for r in records}
        return [found[i] for i in wanted if i in found]

    async def close(self) -> None:
        await self._client.close()

    async def _exists(self, name: str) -> bool:
        validate_collection_name(name)
        exists = await self._call(name, "read", lambda: self._client.collection_exists(name), check_missing=False)
        return bool(exists)

    async def _layout(self, name: str) -> _Layout:
        validate_collection_name(name)
        layout = self._layouts.get(name)
        if layout is None:
            params = (await self._call(name, "read", lambda: self._client.get_collection(name))).config.params
            layout = self._layouts[name] = (vector_infos(params.vectors), tuple(params.sparse_vectors or {}))
        return layout

    async def _call(
        self, name: str | None, action: str, call: Callable[[], Awaitable[T]], *, check_missing: bool = True
    ) -> T:
        """Await ``call()`` under the retry policy, its failures turned into legalrag errors."""
        try:
            return await retrying(self._retry, call)
        except LegalRAGError:
            raise
        except RetriesExhausted as exc:
            if name is not None:
                self._layouts.pop(name, None)
            raise gave_up(self._where, _target(name), action, exc) from exc
        except Exception as exc:
            if name is not None:
                self._layouts.pop(name, None)
            raise await self._translate(name, action, exc, check_missing) from exc

    async def _translate(self, name: str | None, action: str, exc: Exception, check_missing: bool) -> LegalRAGError:
        if name is not None and check_missing and (status_of(exc) == 404 or await self._missing(name)):
            return CollectionNotFoundError(await self._not_found(name))
        return failure(self._where, _target(name), action, exc)

    async def _missing(self, name: str) -> bool:
        try:
            return not await self._client.collection_exists(name)
        except Exception:
            return False

    async def _not_found(self, name: str) -> str:
        try:
            existing = ", ".join(await self.list_collections()) or "none"
        except LegalRAGError:
            existing = "unknown"
        return (
            f"collection {name!r} does not exist (existing: {existing}): run "
            f"`legalrag ingest PATH --collection {name}` first, or pass an existing --collection"
        )


def _target(name: str | None) -> str:
    return f"collection {name!r}" if name is not None else "collections"
