"""``LegalRetriever``: a LangChain ``BaseRetriever`` handing off to :class:`Searcher`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.search import Searcher
from legalrag.plugin.store.base import Hit

__all__ = ["LegalRetriever", "hit_to_document"]


def hit_to_document(hit: Hit) -> Document:
    """A ``Document`` whose metadata is the whole payload (minus the text) plus ``score`` and ``id``."""
    metadata = {k: v for k, v in hit.payload.items() if k != TEXT_KEY}
    metadata["score"] = hit.score
    metadata["id"] = hit.id
    return Document(page_content=str(hit.payload.get(TEXT_KEY, "")), metadata=metadata, id=hit.id)


class LegalRetriever(BaseRetriever):
    """Retrieve provisions from a legalrag collection.

    Call-time keyword arguments (``k``, ``filter``, ``mode``, ``score_threshold``, ``group_by``)
    override the fields for one call.

    Example:
        >>> retriever = LegalRetriever(searcher=searcher, k=5, mode="hybrid")  # doctest: +SKIP
        >>> chain = retriever | (lambda docs: "\\n\\n".join(d.page_content for d in docs))  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    k: int = 10
    mode: str | None = None
    filter: dict[str, Any] | None = None
    score_threshold: float | None = None
    group_by: str | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = self.searcher.search(
            query,
            kwargs.pop("k", self.k),
            mode=kwargs.pop("mode", self.mode),
            filter=kwargs.pop("filter", self.filter),
            score_threshold=kwargs.pop("score_threshold", self.score_threshold),
            group_by=kwargs.pop("group_by", self.group_by),
        )
        if kwargs:
            raise TypeError(f"unexpected search arguments: {', '.join(sorted(kwargs))}")
        return [hit_to_document(hit) for hit in hits]
