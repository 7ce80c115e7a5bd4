"""LangChain-facing retrieval: settings, embeddings, sparse BM25, stores, searcher, retriever.

Names load lazily (PEP 562), so ``import legalrag.plugin.errors`` does not pull in torch or kiwipiepy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = [
    "BM25Encoder",
    "ClientStore",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "ConfigError",
    "DenseEncoder",
    "EdgeStore",
    "FilterWarning",
    "InputError",
    "LegalEmbeddings",
    "LegalRAGError",
    "LegalRetriever",
    "LegalVectorStore",
    "ModelLoadError",
    "Reranker",
    "SearchConfig",
    "Searcher",
    "Settings",
    "Store",
    "StoreError",
    "StoreLockedError",
    "load_dense",
    "open_searcher",
    "open_store",
    "to_qdrant_filter",
]

_WHERE = {
    "BM25Encoder": "sparse",
    "ClientStore": "store",
    "EdgeStore": "store",
    "Store": "store",
    "open_store": "store",
    "DenseEncoder": "embedder",
    "FilterWarning": "diagnose",
    "LegalEmbeddings": "embeddings",
    "LegalRetriever": "retriever",
    "LegalVectorStore": "vectorstore",
    "Reranker": "rerank",
    "SearchConfig": "search",
    "Searcher": "search",
    "Settings": "settings",
    "load_dense": "components",
    "open_searcher": "components",
    "to_qdrant_filter": "filters",
    **{
        name: "errors"
        for name in (
            "CollectionMismatchError",
            "CollectionNotFoundError",
            "ConfigError",
            "InputError",
            "LegalRAGError",
            "ModelLoadError",
            "StoreError",
            "StoreLockedError",
        )
    },
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)


if TYPE_CHECKING:
    from legalrag.plugin.components import load_dense, open_searcher
    from legalrag.plugin.diagnose import FilterWarning
    from legalrag.plugin.embedder import DenseEncoder
    from legalrag.plugin.embeddings import LegalEmbeddings
    from legalrag.plugin.errors import (
        CollectionMismatchError,
        CollectionNotFoundError,
        ConfigError,
        InputError,
        LegalRAGError,
        ModelLoadError,
        StoreError,
        StoreLockedError,
    )
    from legalrag.plugin.filters import to_qdrant_filter
    from legalrag.plugin.rerank import Reranker
    from legalrag.plugin.retriever import LegalRetriever
    from legalrag.plugin.search import SearchConfig, Searcher
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.sparse import BM25Encoder
    from legalrag.plugin.store import ClientStore, EdgeStore, Store, open_store
    from legalrag.plugin.vectorstore import LegalVectorStore
