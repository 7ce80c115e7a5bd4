"""``LegalVectorStore``: a LangChain ``VectorStore`` over a legalrag collection.

Any LangChain ``Embeddings`` works as the dense encoder. Documents added here get a sparse
BM25 vector too (when the collection has one), so ``as_retriever()`` searches hybrid by default.
Ids: a caller's id that is not a UUID (LangChain users pass ``"1"``) is mapped to a uuid5 and
kept in the payload under ``lc_id``, so ``Document.id`` round-trips unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from qdrant_client import models

from legalrag.plugin.collection import ensure_collection
from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import ID_NAMESPACE, TEXT_KEY
from legalrag.plugin.search import Mode, SearchConfig, Searcher
from legalrag.plugin.store.base import Distance, Hit, PointRecord, Store

if TYPE_CHECKING:
    from legalrag.plugin.sparse import BM25Encoder

__all__ = ["LC_ID_KEY", "LegalVectorStore"]

#: payload key keeping a caller-supplied id that is not a UUID
LC_ID_KEY = "lc_id"
_RESERVED = {TEXT_KEY, LC_ID_KEY}


def _point_id(user_id: str) -> str:
    try:
        return str(uuid.UUID(str(user_id)))
    except ValueError:
        return str(uuid.uuid5(ID_NAMESPACE, f"lc\x1f{user_id}"))


class LegalVectorStore(VectorStore):
    """Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from legalrag.plugin.store import EdgeStore
    >>> vs = LegalVectorStore(EdgeStore("/tmp/lr-doc"), "docs", DeterministicFakeEmbedding(size=8))  # doctest: +SKIP
    >>> vs.add_texts(["제1조(목적) ..."], ids=["art-1"])  # doctest: +SKIP
    ['art-1']
    """

    def __init__(
        self,
        store: Store,
        collection: str,
        embedding: Embeddings,
        *,
        sparse: BM25Encoder | None | bool = True,
        distance: Distance = "Cosine",
        mode: Mode | None = None,
        tenant: str | None = None,
    ) -> None:
        from legalrag.plugin.components import sparse_from_metadata
        from legalrag.plugin.sparse import BM25Encoder

        self.store = store
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
        ensure_collection(
            store, collection, dimension=dimension, distance=distance, model=type(embedding).__name__,
            sparse=encoder is not None,
            metadata={"sparse": encoder.config() if encoder is not None else None, "dimension": dimension},
            tenant_key="tenant" if tenant else None,
        )
        self.sparse = encoder
        self.tenant = tenant
        self.searcher = Searcher(store, collection, embedding, encoder, tenant=tenant,
                                 config=SearchConfig(mode=mode or ("hybrid" if encoder else "dense")))

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    # -- writing -------------------------------------------------------------------------------
    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, *,
        ids: list[str] | None = None, **kwargs: Any,
    ) -> list[str]:
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        items = list(texts)
        metas = metadatas or [{} for _ in items]
        keys = [str(i) if i is not None else str(uuid.uuid4()) for i in (ids or [None] * len(items))]
        if not (len(metas) == len(keys) == len(items)):
            raise InputError("texts, metadatas and ids differ in length")
        for meta in metas:
            clash = _RESERVED & set(meta)
            if clash:
                raise InputError(f"metadata key(s) {sorted(clash)} are reserved by legalrag: rename them")
        dense = self.embedding.embed_documents(items) if items else []
        sparse = self.sparse.encode_documents(items) if self.sparse is not None and items else None
        extra = {"tenant": self.tenant} if self.tenant else {}
        points = [
            PointRecord(
                id=_point_id(key),
                payload={**meta, **extra, TEXT_KEY: text, LC_ID_KEY: key},
                dense=vector,
                sparse=sparse[i] if sparse is not None else None,
            )
            for i, (key, text, meta, vector) in enumerate(zip(keys, items, metas, dense, strict=True))
        ]
        if points:
            self.store.upsert(self.collection, points)
        return keys

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        if ids is None:
            raise InputError("delete needs ids (deleting a whole collection is `legalrag collections drop`)")
        if ids:
            self.store.delete_ids(self.collection, [_point_id(str(i)) for i in ids])
        return True

    # -- reading -------------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        hits = self.store.retrieve(self.collection, [_point_id(str(i)) for i in ids])
        if self.tenant is not None:
            hits = [h for h in hits if h.payload.get("tenant") == self.tenant]
        return [_document(h) for h in hits]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Mapping[str, Any] | models.Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = self.searcher.search(
            query, k, filter=filter, mode=kwargs.pop("mode", None),
            score_threshold=kwargs.pop("score_threshold", None), group_by=kwargs.pop("group_by", None),
        )
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(kwargs))}")
        return [(_document(h), h.score) for h in hits]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Mapping[str, Any] | models.Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return [_document(h) for h in self._dense_hits(embedding, k, filter)]

    def _dense_hits(self, vector: Sequence[float], k: int, filter: Any, *, with_vectors: bool = False) -> list[Hit]:
        request = self.searcher.request(
            "vector", k, mode="dense", filter=filter, dense_vector=vector, with_vectors=with_vectors
        )
        return self.store.query(self.collection, request)

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
        filter: Mapping[str, Any] | models.Filter | None = None, **kwargs: Any,
    ) -> list[Document]:
        """Diversify: fetch ``fetch_k`` by dense similarity, then pick ``k`` by MMR."""
        query_vector = self.embedding.embed_query(query)
        hits = self._dense_hits(query_vector, max(fetch_k, k), filter, with_vectors=True)
        if not hits:
            return []
        vectors = [h.dense or [] for h in hits]
        picked = maximal_marginal_relevance(np.array(query_vector), vectors, lambda_mult=lambda_mult, k=k)
        return [_document(hits[i]) for i in picked]

    def _select_relevance_score_fn(self) -> Any:
        return self._cosine_relevance_score_fn

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Embeddings, metadatas: list[dict[str, Any]] | None = None, *,
        ids: list[str] | None = None, store: Store | None = None, collection: str = "legalrag", **kwargs: Any,
    ) -> LegalVectorStore:
        """Create (or open) ``collection`` in ``store`` (default: embedded store in ./.legalrag/qdrant)."""
        if store is None:
            from legalrag.plugin.settings import Settings
            from legalrag.plugin.store import open_store

            store = open_store(Settings())
        vs = cls(store, collection, embedding, **kwargs)
        vs.add_texts(texts, metadatas, ids=ids)
        return vs


def _document(hit: Hit) -> Document:
    metadata = {k: v for k, v in hit.payload.items() if k not in _RESERVED}
    return Document(page_content=str(hit.payload.get(TEXT_KEY, "")), metadata=metadata,
                    id=str(hit.payload.get(LC_ID_KEY, hit.id)))

