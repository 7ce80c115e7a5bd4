"""``LegalRetriever``: a LangChain ``BaseRetriever`` handing off to :class:`Searcher`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from pydantic import ConfigDict, Field, PrivateAttr, field_validator
from qdrant_client import models

from legalrag.plugin.errors import InputError
from legalrag.plugin.langchain.vectorstore import LC_ID_KEY
from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.search.searcher import MAX_K, Mode, Searcher
from legalrag.plugin.settings import Settings
from legalrag.plugin.store.base import Hit, Store

if TYPE_CHECKING:
    from legalrag.plugin.store.client.aio import AsyncStore

__all__ = ["LegalRetriever", "hit_to_document"]


def hit_to_document(hit: Hit) -> Document:
    """A ``Document`` whose metadata is the whole payload (minus the text) plus ``score`` (the mode's raw score),
    ``relevance`` (0–1, :mod:`legalrag.plugin.search.relevance`) and ``id``.

    ``id`` is the id the document was added under (``lc_id``, for points written by
    :class:`~legalrag.plugin.langchain.vectorstore.LegalVectorStore`), else the Qdrant point id; either works
    with the vector store's ``get_by_ids`` and ``delete``.
    """
    doc_id = str(hit.payload.get(LC_ID_KEY, hit.id))
    metadata = {k: v for k, v in hit.payload.items() if k != TEXT_KEY}
    metadata["score"] = hit.score
    metadata["relevance"] = hit.relevance
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
    #: ``similarity`` (the searcher's ranking), ``similarity_score_threshold`` (the same, with
    #: ``score_threshold`` required) or ``mmr`` (diverse: ``fetch_k`` candidates re-picked by maximal
    #: marginal relevance with ``lambda_mult``), as LangChain's ``VectorStoreRetriever`` spells them
    search_type: Literal["similarity", "similarity_score_threshold", "mmr"] = "similarity"
    search_kwargs: dict[str, Any] = Field(default_factory=dict)
    #: the store ``from_collection`` opened for this retriever (closed by :meth:`close`)
    _owned: Store | None = PrivateAttr(default=None)

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
        owned = open_store(settings) if store is None else None
        target = store if store is not None else owned
        assert target is not None
        try:
            mode = (search_kwargs or {}).get("mode")
            searcher = open_searcher(settings, target, collection, tenant=tenant, astore=astore, mode=mode)
            if warmup:
                searcher.warmup(mode)
            retriever = cls(searcher=searcher, k=settings.search.k, search_kwargs=dict(search_kwargs or {}))
        except BaseException:
            if owned is not None:
                owned.close()
            raise
        retriever._owned = owned
        return retriever

    def close(self) -> None:
        """Close the store :meth:`from_collection` opened (a store passed in stays the caller's to close).

        An embedded store's reader copy is removed then; ``with LegalRetriever.from_collection(...) as r:``
        does the same on the way out.
        """
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()

    def __enter__(self) -> LegalRetriever:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        searcher = self.searcher
        model = getattr(searcher.dense, "name", None) if searcher.dense is not None else None
        return (
            f"LegalRetriever(collection={searcher.collection!r}, mode={searcher.resolve_mode(self.mode)!r}, "
            f"fusion={searcher.config.fusion!r}, model={model!r}, k={self.k}, search_type={self.search_type!r})"
        )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        arguments, diversity = self._arguments(kwargs)
        if diversity is None:
            return [hit_to_document(hit) for hit in self.searcher.search(query, **arguments)]
        k, (fetch_k, lambda_mult) = arguments.pop("k"), diversity
        candidates = self.searcher.search(query, max(fetch_k, k), **arguments)
        return self._diverse(query, candidates, k, lambda_mult)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        arguments, diversity = self._arguments(kwargs)
        if diversity is None:
            return [hit_to_document(hit) for hit in await self.searcher.asearch(query, **arguments)]
        k, (fetch_k, lambda_mult) = arguments.pop("k"), diversity
        candidates = await self.searcher.asearch(query, max(fetch_k, k), **arguments)
        return await run_in_executor(None, self._diverse, query, candidates, k, lambda_mult)

    def _diverse(self, query: str, candidates: list[Hit], k: int, lambda_mult: float) -> list[Document]:
        """``k`` of ``candidates`` picked by maximal marginal relevance over their stored dense vectors."""
        if not candidates:
            return []
        dense = self.searcher.embeddings
        if dense is None:
            raise InputError("search_type='mmr' needs the collection's dense model: search a collection with one")
        stored = {
            h.id: h.dense
            for h in self.searcher.store.retrieve(
                self.searcher.collection, [h.id for h in candidates], with_vectors=True
            )
        }
        vectors = [stored.get(h.id) or [] for h in candidates]
        picked = maximal_marginal_relevance(dense.encode_queries([query])[0], vectors, lambda_mult=lambda_mult, k=k)
        return [hit_to_document(candidates[i]) for i in picked]

    def _arguments(self, overrides: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, float] | None]:
        """The search arguments (the fields, then ``search_kwargs``, then the call's keyword arguments), and
        for ``mmr`` its ``(fetch_k, lambda_mult)``."""
        _check_arguments(overrides, "retriever")
        fields = {
            "k": self.k,
            "mode": self.mode,
            "filter": self.filter,
            "score_threshold": self.score_threshold,
            "group_by": self.group_by,
        }
        merged = {**fields, **self.search_kwargs, **overrides}
        fetch_k, lambda_mult = merged.pop("fetch_k", 20), merged.pop("lambda_mult", 0.5)
        if self.search_type == "similarity_score_threshold" and merged["score_threshold"] is None:
            raise InputError("search_type='similarity_score_threshold' needs a score_threshold in search_kwargs")
        if self.search_type != "mmr":
            return merged, None
        if not isinstance(fetch_k, int) or fetch_k < 1 or not 0.0 <= float(lambda_mult) <= 1.0:
            raise InputError(f"mmr needs fetch_k >= 1 and 0 <= lambda_mult <= 1, got {fetch_k!r} and {lambda_mult!r}")
        return merged, (fetch_k, float(lambda_mult))


_SEARCH_ARGUMENTS = ("k", "mode", "filter", "score_threshold", "group_by", "fetch_k", "lambda_mult")


def _check_arguments(arguments: dict[str, Any], where: str) -> None:
    unknown = set(arguments) - set(_SEARCH_ARGUMENTS)
    if unknown:
        raise TypeError(
            f"unexpected {where} search arguments: {', '.join(sorted(unknown))} (use {', '.join(_SEARCH_ARGUMENTS)})"
        )
