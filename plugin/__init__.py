"""The retrieval core: settings, models, BM25 text analysis, stores, search and the LangChain edge.

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
    "NotPublishedError",
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
    "BM25Encoder": "text.bm25",
    "ClientStore": "store",
    "EdgeStore": "store",
    "Store": "store",
    "open_store": "store",
    "DenseEncoder": "models.encoder",
    "FilterWarning": "search.diagnose",
    "LegalEmbeddings": "langchain.embeddings",
    "LegalRetriever": "langchain.retriever",
    "LegalVectorStore": "langchain.vectorstore",
    "Reranker": "search.rerank",
    "SearchConfig": "search.searcher",
    "Searcher": "search.searcher",
    "Settings": "settings",
    "load_dense": "components",
    "open_searcher": "components",
    "to_qdrant_filter": "search.filters",
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
            "NotPublishedError",
        )
    },
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)


if TYPE_CHECKING:
    from legalrag.plugin.components import load_dense, open_searcher
    from legalrag.plugin.errors import (
        CollectionMismatchError,
        CollectionNotFoundError,
        ConfigError,
        InputError,
        LegalRAGError,
        ModelLoadError,
        NotPublishedError,
        StoreError,
        StoreLockedError,
    )
    from legalrag.plugin.langchain.embeddings import LegalEmbeddings
    from legalrag.plugin.langchain.retriever import LegalRetriever
    from legalrag.plugin.langchain.vectorstore import LegalVectorStore
    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.search.diagnose import FilterWarning
    from legalrag.plugin.search.filters import to_qdrant_filter
    from legalrag.plugin.search.rerank import Reranker
    from legalrag.plugin.search.searcher import SearchConfig, Searcher
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import ClientStore, EdgeStore, Store, open_store
    from legalrag.plugin.text.bm25 import BM25Encoder
