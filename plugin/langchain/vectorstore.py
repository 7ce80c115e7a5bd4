"""``LegalVectorStore``: a LangChain ``VectorStore`` over a legalrag collection.

Any LangChain ``Embeddings`` works as the dense encoder. Documents added here get a sparse
BM25 vector too (when the collection has one), so ``as_retriever()`` searches hybrid by default.
Ids: a caller's id that is not a UUID (LangChain users pass ``"1"``) is mapped to a uuid5 and
kept in the payload under ``lc_id``, so ``Document.id`` round-trips unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from qdrant_client import models

from legalrag.plugin.collection import ensure_collection
from legalrag.plugin.errors import InputError
from legalrag.plugin.langchain.convert import (
    LC_ID_KEY,
    mmr,
    no_extra,
    own_metadata,
    point_id,
    prepare_texts,
    search_options,
    to_document,
)
from legalrag.plugin.schema import DENSE_VECTOR, TENANT_KEY, TEXT_KEY, Distance, SparseVector
from legalrag.plugin.search.relevance import DENSE_RELEVANCE
from legalrag.plugin.search.searcher import Mode, SearchConfig, Searcher
from legalrag.plugin.store.base import Hit, PointRecord, SearchRequest, Store

if TYPE_CHECKING:
    from legalrag.plugin.store.client.aio import AsyncStore
    from legalrag.plugin.text.bm25 import BM25Encoder

__all__ = ["LC_ID_KEY", "LegalVectorStore"]

_Filter = Mapping[str, Any] | models.Filter | None


class LegalVectorStore(VectorStore):
    """A LangChain vector store over one legalrag collection (created on first use).

    Args:
        store: the collection's store (:class:`~legalrag.plugin.store.EdgeStore` or
            :class:`~legalrag.plugin.store.ClientStore`).
        collection: collection name; an existing collection must fit ``embedding``'s dimension.
        embedding: any LangChain ``Embeddings``.
        sparse: ``True`` adds BM25 vectors to a new collection, ``False``/``None`` makes it dense
            only, or pass a configured :class:`~legalrag.plugin.text.bm25.BM25Encoder`. An existing
            collection keeps the encoder it was built with.
        distance: dense distance for a new collection.
        mode: default search mode (default: hybrid when the collection has sparse vectors).
        tenant: bind reads and writes to one tenant (payload ``tenant``).
        astore: the same collection through an async client
            (:class:`~legalrag.plugin.store.client.aio.AsyncClientStore`); the ``a*`` methods await it
            instead of running the sync calls in worker threads.

    Relevance scores (``similarity_search_with_relevance_scores``, ``as_retriever(search_type=
    "similarity_score_threshold")``) are the hits' 0–1 ``relevance`` in every mode
    (:mod:`legalrag.plugin.search.relevance`): dense ``(1 + cosine) / 2``, fused and sparse scores
    relative to what the query can score.

    Examples:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from qdrant_client import QdrantClient
        >>> from legalrag.plugin.store import ClientStore
        >>> store = ClientStore(QdrantClient(":memory:"))
        >>> vs = LegalVectorStore(store, "docs", DeterministicFakeEmbedding(size=8))
        >>> vs.add_texts(["제1조(목적) 이 법은 개인정보의 처리를 정한다."], ids=["art-1"])
        ['art-1']
        >>> [d.id for d in vs.as_retriever(search_kwargs={"k": 1}).invoke("개인정보")]
        ['art-1']
    """

    def __init__(
        self,
        store: Store,
        collection: str,
        embedding: Embeddings,
        *,
        sparse: BM25Encoder | bool | None = True,
        distance: Distance = "Cosine",
        mode: Mode | None = None,
        tenant: str | None = None,
        astore: AsyncStore | None = None,
    ) -> None:
        from legalrag.plugin.components import sparse_from_metadata
        from legalrag.plugin.text.bm25 import BM25Encoder

        self.store = store
        self.astore = astore
        self.collection = collection
        self.embedding = embedding
        info = store.get_collection(collection)
        encoder: BM25Encoder | None
        if info is not None:
            encoder = sparse_from_metadata(dict(info.metadata))
        elif sparse is True:
            encoder = BM25Encoder()
        else:
            encoder = sparse or None
        dimension = len(embedding.embed_query("dimension probe"))
        info = ensure_collection(
            store,
            collection,
            dimension=dimension,
            distance=distance,
            model=str(getattr(embedding, "model", None) or type(embedding).__name__),
            sparse=encoder is not None,
            metadata={"sparse": encoder.config() if encoder is not None else None, "dimension": dimension},
            tenant_key=TENANT_KEY if tenant else None,
        )
        self.distance: Distance = info.vectors[DENSE_VECTOR].distance
        self.sparse = encoder
        self.tenant = tenant
        self.searcher = Searcher(
            store,
            collection,
            embedding,
            encoder,
            tenant=tenant,
            astore=astore,
            config=SearchConfig(mode=mode or ("hybrid" if encoder else "dense")),
        )

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    # -- writing -------------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; an id already present is overwritten. Returns the ids."""
        no_extra(kwargs)
        items, metas, keys = prepare_texts(texts, metadatas, ids)
        self._refuse_too_long(items)
        self._refuse_foreign(self.store.retrieve(self.collection, self._ids(keys)) if self.tenant else [])
        if items:
            dense = self.embedding.embed_documents(items)
            self.store.upsert(self.collection, self._points(items, metas, keys, dense, self._sparse(items)))
        return keys

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """:meth:`add_texts`, awaiting ``aembed_documents`` and the async store when there is one."""
        if self.astore is None:
            return await super().aadd_texts(texts, metadatas, ids=ids, **kwargs)
        no_extra(kwargs)
        items, metas, keys = prepare_texts(texts, metadatas, ids)
        self._refuse_too_long(items)
        self._refuse_foreign(await self.astore.retrieve(self.collection, self._ids(keys)) if self.tenant else [])
        if items:
            dense = await self.embedding.aembed_documents(items)
            sparse = await run_in_executor(None, self._sparse, items)  # tokenizing is CPU work
            await self.astore.upsert(self.collection, self._points(items, metas, keys, dense, sparse))
        return keys

    def _refuse_too_long(self, items: list[str]) -> None:
        """A text longer than the model reads would be cut silently by the model: refuse it with the fix.

        Checked for legalrag's own models (``LegalEmbeddings``), whose tokenizer and limit are known.
        """
        from legalrag.plugin.langchain.embeddings import LegalEmbeddings

        if not isinstance(self.embedding, LegalEmbeddings) or not items:
            return
        model = self.embedding.dense_model
        tokenizer, limit = model.tokenizer, model.max_seq_length
        if not callable(tokenizer):
            return  # a words-and-characters budget (USE): no silent cut to guard against
        lengths = [len(ids) for ids in tokenizer(items, add_special_tokens=True)["input_ids"]]
        too_long = [(i, n) for i, n in enumerate(lengths) if n > limit]
        if too_long:
            index, tokens = too_long[0]
            raise InputError(
                f"{len(too_long)} text(s) are longer than the model reads (text {index}: {tokens} tokens, the "
                f"model's limit is {limit}) and would be cut silently: split them first, e.g. with "
                "legalrag.ingest.langchain.LegalTextSplitter (statute-aware) or any LangChain text splitter"
            )

    def _sparse(self, items: list[str]) -> list[SparseVector] | None:
        return self.sparse.encode_documents(items) if self.sparse is not None else None

    def _points(
        self,
        items: list[str],
        metas: list[dict[str, Any]],
        keys: list[str],
        dense: list[list[float]],
        sparse: list[SparseVector] | None,
    ) -> list[PointRecord]:
        extra = {TENANT_KEY: self.tenant} if self.tenant else {}
        return [
            PointRecord(
                id=point_id(key, self.tenant),
                payload={**own_metadata(meta), **extra, TEXT_KEY: text, LC_ID_KEY: key},
                dense=vector,
                sparse=sparse[i] if sparse is not None else None,
            )
            for i, (key, text, meta, vector) in enumerate(zip(keys, items, metas, dense, strict=True))
        ]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id (ids not present are ignored)."""
        no_extra(kwargs)
        point_ids = self._delete_ids(ids)
        if point_ids and self.tenant is not None:
            point_ids = [h.id for h in self.store.retrieve(self.collection, point_ids) if self._mine(h)]
        if point_ids:
            self.store.delete_ids(self.collection, point_ids)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if self.astore is None:
            return await super().adelete(ids, **kwargs)
        no_extra(kwargs)
        point_ids = self._delete_ids(ids)
        if point_ids and self.tenant is not None:
            point_ids = [h.id for h in await self.astore.retrieve(self.collection, point_ids) if self._mine(h)]
        if point_ids:
            await self.astore.delete_ids(self.collection, point_ids)
        return True

    def _delete_ids(self, ids: list[str] | None) -> list[str]:
        if ids is None:
            raise InputError("delete needs ids (deleting a whole collection is `legalrag collections drop`)")
        return self._ids(ids)

    def _mine(self, hit: Hit) -> bool:
        return self.tenant is None or hit.payload.get(TENANT_KEY) == self.tenant

    def _refuse_foreign(self, existing: Sequence[Hit]) -> None:
        """A tenant-bound store never overwrites another tenant's point, even given its UUID."""
        foreign = [h.id for h in existing if not self._mine(h)]
        if foreign:
            raise InputError(f"id(s) {', '.join(foreign[:3])} belong to another tenant: use other ids")

    def _ids(self, ids: Sequence[str]) -> list[str]:
        return [point_id(str(i), self.tenant) for i in ids]

    # -- reading -------------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return self._own([to_document(h) for h in self.store.retrieve(self.collection, self._ids(ids))])

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        if self.astore is None:
            return await super().aget_by_ids(ids)
        return self._own([to_document(h) for h in await self.astore.retrieve(self.collection, self._ids(ids))])

    def _own(self, documents: list[Document]) -> list[Document]:
        """Drop documents of other tenants when the store is bound to one."""
        if self.tenant is None:
            return documents
        return [d for d in documents if d.metadata.get(TENANT_KEY) == self.tenant]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: _Filter = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Top ``k`` with the search's own score (see :mod:`legalrag.plugin.search.searcher` for its meaning).

        Keyword arguments: ``mode``, ``score_threshold`` (on the hits' 0–1 relevance, unless the searcher's
        ``threshold_on`` is ``score``) and ``group_by``.
        """
        hits = self.searcher.search(query, k, filter=filter, **search_options(kwargs))
        return [(to_document(h), h.score) for h in hits]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: _Filter = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = await self.searcher.asearch(query, k, filter=filter, **search_options(kwargs))
        return [(to_document(h), h.score) for h in hits]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, **kwargs)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        filter = kwargs.pop("filter", None)
        hits = self.searcher.search(query, k, filter=filter, **search_options(kwargs))
        return [(to_document(h), float(h.relevance or 0.0)) for h in hits]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        filter = kwargs.pop("filter", None)
        hits = await self.searcher.asearch(query, k, filter=filter, **search_options(kwargs))
        return [(to_document(h), float(h.relevance or 0.0)) for h in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Map the dense score Qdrant returns for the collection's distance to [0, 1]."""
        return DENSE_RELEVANCE[self.distance]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: _Filter = None, **kwargs: Any
    ) -> list[Document]:
        no_extra(kwargs)
        return [to_document(h) for h in self.store.query(self.collection, self._dense(embedding, k, filter))]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: _Filter = None, **kwargs: Any
    ) -> list[Document]:
        if self.astore is None:
            return await super().asimilarity_search_by_vector(embedding, k, filter=filter, **kwargs)
        no_extra(kwargs)
        hits = await self.astore.query(self.collection, self._dense(embedding, k, filter))
        return [to_document(h) for h in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: _Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Diversify: fetch ``fetch_k`` by dense similarity, then pick ``k`` by MMR."""
        vector = self.embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter, **kwargs)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: _Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        no_extra(kwargs)
        request = self._dense(embedding, max(fetch_k, k), filter, with_vectors=True)
        return mmr(embedding, self.store.query(self.collection, request), k, lambda_mult)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: _Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = await self.embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter, **kwargs)

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: _Filter = None,
        **kwargs: Any,
    ) -> list[Document]:
        if self.astore is None:
            return await super().amax_marginal_relevance_search_by_vector(
                embedding, k, fetch_k, lambda_mult, filter=filter, **kwargs
            )
        no_extra(kwargs)
        request = self._dense(embedding, max(fetch_k, k), filter, with_vectors=True)
        return mmr(embedding, await self.astore.query(self.collection, request), k, lambda_mult)

    def _dense(self, vector: Sequence[float], k: int, filter: _Filter, *, with_vectors: bool = False) -> SearchRequest:
        # the text is only validated, never encoded: the vector is given
        return self.searcher.request(
            "<vector>", k, mode="dense", filter=filter, dense_vector=vector, with_vectors=with_vectors
        )

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        store: Store | None = None,
        collection: str = "legalrag",
        **kwargs: Any,
    ) -> LegalVectorStore:
        """Create (or open) ``collection`` in ``store`` (default: embedded store in ./.legalrag/qdrant)."""
        if store is None:
            from legalrag.plugin.settings import Settings
            from legalrag.plugin.store import open_store

            store = open_store(Settings())
        vs = cls(store, collection, embedding, **kwargs)
        vs.add_texts(texts, metadatas, ids=ids)
        return vs
