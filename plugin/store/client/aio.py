"""Async store over ``AsyncQdrantClient``: every :class:`~legalrag.plugin.store.base.Store` call, awaited.

Requests are planned and results parsed by the same code as the sync
:class:`~legalrag.plugin.store.client.store.ClientStore` (``plan``), transient failures retried
under the same :class:`RetryPolicy` (:meth:`RetryPolicy.arun`: the same schedule, awaited waits), and
failures reported by the same ``errors``: only the client calls differ. Both run the same
contract tests. Snapshots and bulk-load pauses stay with the sync store (administration).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

from qdrant_client import AsyncQdrantClient, models

from legalrag.plugin.errors import InputError, LegalRAGError
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store.base import CollectionInfo, CollectionSpec, Hit, PayloadSchema, PointRecord, SearchRequest
from legalrag.plugin.store.client import plan
from legalrag.plugin.store.client.args import create_arguments, index_schema
from legalrag.plugin.store.client.errors import server_of
from legalrag.plugin.store.common import check_filter, check_spec, make_hit, pick_vector
from legalrag.plugin.store.retry import RetryPolicy

__all__ = ["AsyncClientStore", "AsyncStore", "retrying"]

T = TypeVar("T")


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
    """``policy.arun(call)`` (kept for callers of the older name)."""
    return await policy.arun(call)


class AsyncClientStore:
    """:class:`AsyncStore` (and the rest of the store calls, awaited) over a ready ``AsyncQdrantClient``.

        Args:
            client: a configured async client; URL, API key and timeouts are the caller's business.
            retry: how long transient server failures are retried (default: 30 s in all per call).
            optimize_timeout: seconds :meth:`optimize` waits for the server's optimizers to finish.

        Example:
            >>> import asyncio
    from functools import partial
            >>> async def demo() -> int:
            ...     store = AsyncClientStore(AsyncQdrantClient(":memory:"))
            ...     await store.create_collection("laws", CollectionSpec(dense_size=8))
            ...     return await store.count("laws")
            >>> asyncio.run(demo())
            0
    """

    def __init__(
        self, client: AsyncQdrantClient, *, retry: RetryPolicy | None = None, optimize_timeout: float = 600.0
    ) -> None:
        self._client = client
        self._retry = retry if retry is not None else RetryPolicy()
        self._optimize_timeout = optimize_timeout
        self._where = server_of(client)
        #: collection -> (dense vectors, sparse vector names), learnt once per collection
        self._layouts: dict[str, plan.Layout] = {}

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
        found = await self._call(name, "read", lambda: self._client.get_collection(name))
        self._layouts[name] = plan.layout_of(found.config)
        return plan.collection_info(name, found, await self.count(name))

    async def create_collection(self, name: str, spec: CollectionSpec) -> None:
        validate_collection_name(name)
        check_spec(spec)
        if await self._exists(name):
            raise plan.already_exists(name)
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

    async def drop_collection(self, name: str) -> bool:
        self._layouts.pop(name, None)
        if not await self._exists(name):
            return False
        await self._call(name, "drop", lambda: self._client.delete_collection(name), check_missing=False)
        return True

    async def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        validate_collection_name(name)
        current = (await self._call(name, "update", lambda: self._client.get_collection(name))).config.metadata
        merged = {**(current or {}), **metadata}  # the merged whole: no dependence on the server's merge rules
        await self._call(name, "update", lambda: self._client.update_collection(name, metadata=merged))

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
        layout = await self._layout(name)
        if not points:
            return
        structs = plan.plan_upsert(points, layout, name)
        # ids are deterministic, so a retried upsert rewrites the same points instead of adding copies
        await self._call(name, "upsert into", lambda: self._client.upsert(name, structs, wait=True))

    async def delete(self, name: str, filter: models.Filter) -> None:
        validate_collection_name(name)
        selector = models.FilterSelector(filter=check_filter(filter))
        await self._call(name, "delete from", lambda: self._client.delete(name, points_selector=selector, wait=True))

    async def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        validate_collection_name(name)
        selector = plan.ids_selector(ids)
        await self._call(name, "delete from", lambda: self._client.delete(name, points_selector=selector, wait=True))

    async def query(self, name: str, request: SearchRequest) -> list[Hit]:
        planned = plan.plan_query(request, await self._layout(name), name)
        found = await self._call(name, "query", lambda: self._client.query_points(name, **planned.arguments))
        return plan.query_hits(found, planned)

    async def count(self, name: str, filter: models.Filter | None = None) -> int:
        validate_collection_name(name)
        count_filter = plan.count_filter(filter)
        result = await self._call(
            name, "count", lambda: self._client.count(name, count_filter=count_filter, exact=True)
        )
        return result.count

    async def scroll(
        self, name: str, filter: models.Filter | None = None, *, batch_size: int = 256, with_vectors: bool = False
    ) -> AsyncIterator[Hit]:
        """Every point matching ``filter``, ``batch_size`` per request (an async iterator)."""
        if batch_size < 1:
            raise InputError(f"scroll batch_size must be at least 1, not {batch_size}")
        dense, _ = await self._layout(name)
        dense_name = pick_vector(tuple(dense), "dense", name) if with_vectors else None
        scroll_filter = plan.count_filter(filter)
        offset: Any = None
        while True:
            page = partial(
                self._client.scroll,
                name,
                scroll_filter=scroll_filter,
                limit=batch_size,
                offset=offset,
                with_payload=True,
                with_vectors=[dense_name] if dense_name else False,
            )
            records, offset = await self._call(name, "scroll", page)
            for record in records:
                yield make_hit(record.id, 0.0, record.payload, record.vector, dense_name)
            if offset is None:
                return

    async def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        planned = plan.plan_retrieve(ids, await self._layout(name), name, with_vectors=with_vectors)
        records = await self._call(
            name,
            "retrieve from",
            lambda: self._client.retrieve(name, planned.wanted, with_payload=True, with_vectors=planned.with_vectors),
        )
        return plan.retrieved_hits(records, planned)

    async def optimize(self, name: str) -> None:
        """Start the server's pending optimizations; wait up to ``optimize_timeout`` s for green."""
        validate_collection_name(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._optimize_timeout
        diff = models.OptimizersConfigDiff()  # an empty diff is Qdrant's way to start pending optimizations
        await self._call(name, "optimize", lambda: self._client.update_collection(name, optimizers_config=diff))
        while (await self._call(name, "optimize", lambda: self._client.get_collection(name))).status != (
            models.CollectionStatus.GREEN
        ) and loop.time() < deadline:
            await asyncio.sleep(0.5)

    async def claim(self, name: str) -> None:
        """Nothing to claim: a server takes concurrent writers (checks the name only)."""
        validate_collection_name(name)

    async def close(self) -> None:
        await self._client.close()

    async def _exists(self, name: str) -> bool:
        validate_collection_name(name)
        exists = await self._call(name, "read", lambda: self._client.collection_exists(name), check_missing=False)
        return bool(exists)

    async def _layout(self, name: str) -> plan.Layout:
        validate_collection_name(name)
        layout = self._layouts.get(name)
        if layout is None:
            config = (await self._call(name, "read", lambda: self._client.get_collection(name))).config
            layout = self._layouts[name] = plan.layout_of(config)
        return layout

    async def _call(
        self, name: str | None, action: str, call: Callable[[], Awaitable[T]], *, check_missing: bool = True
    ) -> T:
        """Await ``call()`` under the retry policy, its failures turned into legalrag errors."""
        try:
            return await self._retry.arun(call)
        except LegalRAGError:
            raise
        except Exception as exc:
            if name is None:
                raise plan.translate(self._where, name, action, exc) from exc
            self._layouts.pop(name, None)
            if check_missing and plan.worth_checking(exc) and (plan.surely_missing(exc) or await self._missing(name)):
                raise plan.not_found(name, await self._existing()) from exc
            raise plan.translate(self._where, name, action, exc) from exc

    async def _missing(self, name: str) -> bool:
        try:
            return not await self._client.collection_exists(name)
        except Exception:
            return False

    async def _existing(self) -> list[str] | None:
        try:
            return await self.list_collections()
        except LegalRAGError:
            return None
