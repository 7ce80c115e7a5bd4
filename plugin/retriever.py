"""``LegalRetriever``: a LangChain ``BaseRetriever`` handing off to :class:`Searcher`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field
from qdrant_client import models

from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.search import MAX_K, Mode, Searcher
from legalrag.plugin.store.base import Hit
from legalrag.plugin.vectorstore import LC_ID_KEY

__all__ = ["LegalRetriever", "hit_to_document"]


def hit_to_document(hit: Hit) -> Document:
    """A ``Document`` whose metadata is the whole payload (minus the text) plus ``score`` and ``id``.

    ``id`` is the id the document was added under (``lc_id``, for points written by
    :class:`~legalrag.plugin.vectorstore.LegalVectorStore`), else the Qdrant point id; either works
    with the vector store's ``get_by_ids`` and ``delete``.
    """
    doc_id = str(hit.payload.get(LC_ID_KEY, hit.id))
    metadata = {k: v for k, v in hit.payload.items() if k != TEXT_KEY}
    metadata["score"] = hit.score
    metadata["id"] = doc_id
    return Document(page_content=str(hit.payload.get(TEXT_KEY, "")), metadata=metadata, id=doc_id)


class LegalRetriever(BaseRetriever):
    """Retrieve provisions from a legalrag collection.

    Call-time keyword arguments (``k``, ``filter``, ``mode``, ``score_threshold``, ``group_by``)
    override the fields for one call. ``ainvoke`` is truly async when the searcher has an async
    store (``Searcher(..., astore=AsyncClientStore(AsyncQdrantClient(url)))``); otherwise the sync
    search runs in a worker thread.

    Example:
        >>> retriever = LegalRetriever(searcher=searcher, k=5, mode="hybrid")  # doctest: +SKIP
        >>> chain = retriever | (lambda docs: "\\n\\n".join(d.page_content for d in docs))  # doctest: +SKIP
        >>> docs = retriever.invoke("개인정보 수집 동의", k=3, filter={"doc_id": "pipa"})  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    searcher: Searcher
    k: int = Field(default=10, ge=1, le=MAX_K)
    mode: Mode | None = None
    filter: dict[str, Any] | models.Filter | None = None
    score_threshold: float | None = None
    group_by: str | None = None

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
        """The search arguments: the fields, with the call's keyword arguments taking precedence."""
        unknown = set(overrides) - {"k", "mode", "filter", "score_threshold", "group_by"}
        if unknown:
            raise TypeError(
                f"unexpected search arguments: {', '.join(sorted(unknown))} (use k, mode, filter, "
                "score_threshold or group_by)"
            )
        fields = {
            "k": self.k,
            "mode": self.mode,
            "filter": self.filter,
            "score_threshold": self.score_threshold,
            "group_by": self.group_by,
        }
        return {**fields, **overrides}
