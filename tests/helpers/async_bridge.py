"""A blocking :class:`~legalrag.plugin.store.base.Store` over :class:`AsyncClientStore`, for the contract tests.

Every call runs to completion on one private event loop, so the async store answers the same
contract as the sync ones, call for call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from qdrant_client import models

from legalrag.plugin.store.base import CollectionInfo, CollectionSpec, Hit, PayloadSchema, PointRecord, SearchRequest
from legalrag.plugin.store.client.aio import AsyncClientStore

T = TypeVar("T")


class BlockingStore:
    def __init__(self, astore: AsyncClientStore) -> None:
        self.astore = astore
        self._loop = asyncio.new_event_loop()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    def list_collections(self) -> list[str]:
        return self._run(self.astore.list_collections())

    def get_collection(self, name: str) -> CollectionInfo | None:
        return self._run(self.astore.get_collection(name))

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        self._run(self.astore.create_collection(name, spec))

    def drop_collection(self, name: str) -> bool:
        return self._run(self.astore.drop_collection(name))

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        self._run(self.astore.set_metadata(name, metadata))

    def create_payload_index(self, name: str, key: str, schema: PayloadSchema, *, is_tenant: bool = False) -> None:
        self._run(self.astore.create_payload_index(name, key, schema, is_tenant=is_tenant))

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        self._run(self.astore.upsert(name, points))

    def delete(self, name: str, filter: models.Filter) -> None:
        self._run(self.astore.delete(name, filter))

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        self._run(self.astore.delete_ids(name, ids))

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        return self._run(self.astore.query(name, request))

    def count(self, name: str, filter: models.Filter | None = None) -> int:
        return self._run(self.astore.count(name, filter))

    def scroll(
        self, name: str, filter: models.Filter | None = None, *, batch_size: int = 256, with_vectors: bool = False
    ) -> Iterator[Hit]:
        async def collect() -> list[Hit]:
            return [h async for h in self.astore.scroll(name, filter, batch_size=batch_size, with_vectors=with_vectors)]

        return iter(self._run(collect()))

    def retrieve(self, name: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        return self._run(self.astore.retrieve(name, ids, with_vectors=with_vectors))

    def optimize(self, name: str) -> None:
        self._run(self.astore.optimize(name))

    def claim(self, name: str) -> None:
        self._run(self.astore.claim(name))

    def bulk_load(self, name: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def close(self) -> None:
        self._run(self.astore.close())
        self._loop.close()
