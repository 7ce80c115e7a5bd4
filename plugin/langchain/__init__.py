"""The LangChain edge: embeddings, retriever and vector store, each a thin adapter over the core."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["LegalEmbeddings", "LegalRetriever", "LegalVectorStore"]

_WHERE = {"LegalEmbeddings": "embeddings", "LegalRetriever": "retriever", "LegalVectorStore": "vectorstore"}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

if TYPE_CHECKING:
    from legalrag.plugin.langchain.embeddings import LegalEmbeddings
    from legalrag.plugin.langchain.retriever import LegalRetriever
    from legalrag.plugin.langchain.vectorstore import LegalVectorStore
