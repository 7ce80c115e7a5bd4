"""``LegalRetriever``: a LangChain ``BaseRetriever`` handing off to :class:`Searcher`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, field_validator
from qdrant_client import models

from legalrag.plugin.langchain.vectorstore import LC_ID_KEY
from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.search.searcher import MAX_K, Mode, Searcher
from legalrag.plugin.settings import Settings
from legalrag.plugin.store.base import Hit, Store

if TYPE_CHECKING:
    from legalrag.plugin.store.client.aio import AsyncStore

__all__ = ["LegalRetriever", "hit_to_document"]


def hit_to_document(hit: Hit) -> Document:
    """A ``Document`` whose metadata is the whole payload (minus the text) plus ``score`` and ``id``.

    ``id`` is the id the document was added under (``lc_id``, for points written by
    :class:`~legalrag.plugin.langchain.vectorstore.LegalVectorStore`), else the Qdrant point id; either works
    with the vector store's ``get_by_ids`` and ``delete``.
    """
    doc_id = str(hit.payload.get(LC_ID_KEY, hit.id))
    metadata = {k: v for k, v in hit.payload.items() if k != TEXT_KEY}
    metadata["score"] = hit.score
    metadata["id"] = doc_id
    return Document(page_content=str(hit.payload.get(TEXT_KEY, "")), metadata=metadata, id=doc_id)


class LegalRetriever(BaseRetriever):
    """Retrieve provisions from a legalrag collection.

    The search arguments (``k``, ``mode``, ``filter``, ``score_threshold``, ``group_by``) come from, in
    order of precedence: the call's keyword arguments, ``search_kwargs`` (as LangChain's own retrievers
    take them), then the fields. ``ainvoke`` is truly async when the searcher has an async store
    (``open_searcher(..., astore=AsyncClientStore(AsyncQdrantClient(url)))``); otherwise the sync
    search runs in a worker thread.

    Example:
        >>> retriever = LegalRetriever.from_collection("ko-laws", search_kwargs={"k": 5})  # doctest: +SKIP
        >>> chain = retriever | (lambda docs: "\\n\\n".join(d.page_content for d in docs))  # doctest: +SKIP
        >>> docs = retriever.invoke("개인정보 수집 동의", k=3, filter={"doc_id": "pipa.md"})  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    searcher: Searcher
    k: int = Field(default=10, ge=1, le=MAX_K)
    mode: Mode | None = None
    filter: dict[str, Any] | models.Filter | None = None
    score_threshold: float | None = None
    group_by: str | None = None
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("search_kwargs")
    @classmethod
    def _known_search_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_arguments(value, "search_kwargs")
        return value

    @classmethod
    def from_collection(
        cls,
        collection: str | None = None,
        *,
        settings: Settings | None = None,
        store: Store | None = None,
        astore: AsyncStore | None = None,
        tenant: str | None = None,
        search_kwargs: dict[str, Any] | None = None,
        warmup: bool = True,
    ) -> LegalRetriever:
        """A retriever over ``collection`` in one line: the store and model the settings name, the
        collection's own default search, and everything loaded now (``warmup``) so the first query is fast.

        Args:
            collection: the collection (default: ``settings.collection``).
            settings: default ``Settings()`` (the ``LEGALRAG_*`` environment).
            store: an open store (default: the one ``settings`` names; it stays open with the retriever).
            astore: the same collection through an async client, for a truly async ``ainvoke``.
            tenant: see only this tenant's documents.
            search_kwargs: ``k``, ``mode``, ``filter``, ``score_threshold``, ``group_by``.
            warmup: load now, not at the first query, what the mode needs: the model (dense, hybrid),
                the BM25 analysers (sparse, hybrid) and the collection.

        Example:
            >>> retriever = LegalRetriever.from_collection("ko-laws", search_kwargs={"k": 5})  # doctest: +SKIP
        """
        from legalrag.plugin.components import open_searcher
        from legalrag.plugin.store import open_store

        settings = settings or Settings()
        store = store if store is not None else open_store(settings)
        mode = (search_kwargs or {}).get("mode")
        searcher = open_searcher(settings, store, collection, tenant=tenant, astore=astore, mode=mode)
        if warmup:
            searcher.warmup(mode)
        return cls(searcher=searcher, k=settings.search.k, search_kwargs=dict(search_kwargs or {}))

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = self.searcher.search(query, **self._arguments(kwargs))
        return [hit_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = await self.searcher.asearch(query, **self._arguments(kwargs))
        return [hit_to_document(hit) for hit in hits]

    def _arguments(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The search arguments: the fields, then ``search_kwargs``, then the call's keyword arguments."""
        _check_arguments(overrides, "retriever")
        fields = {
            "k": self.k,
            "mode": self.mode,
            "filter": self.filter,
            "score_threshold": self.score_threshold,
            "group_by": self.group_by,
        }
        return {**fields, **self.search_kwargs, **overrides}


_SEARCH_ARGUMENTS = ("k", "mode", "filter", "score_threshold", "group_by")


def _check_arguments(arguments: dict[str, Any], where: str) -> None:
    unknown = set(arguments) - set(_SEARCH_ARGUMENTS)
    if unknown:
        raise TypeError(
            f"unexpected {where} search arguments: {', '.join(sorted(unknown))} (use {', '.join(_SEARCH_ARGUMENTS)})"
        )
