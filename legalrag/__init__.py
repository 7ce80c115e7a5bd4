"""legalrag: Qdrant retrieval for legal and financial documents in any language.

Everything a user needs imports from here; names load on first use (PEP 562), so
``import legalrag`` stays fast and pulls in neither torch nor qdrant-client.

Example:
    >>> from legalrag import IngestOptions, Settings
    >>> Settings(collection="ko-laws").collection
    'ko-laws'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = [
    "EvalOptions",
    "EvalReport",
    "IngestOptions",
    "IngestReport",
    "LegalEmbeddings",
    "LegalRAGError",
    "LegalRetriever",
    "LegalVectorStore",
    "Settings",
    "TrainOptions",
    "TrainReport",
    "__version__",
    "chunk_paths",
    "evaluate_collection",
    "ingest_documents",
    "ingest_paths",
    "open_searcher",
    "open_store",
    "train_model",
]

_WHERE = {
    "EvalOptions": "eval.options",
    "EvalReport": "eval.evaluation",
    "evaluate_collection": "eval.evaluation",
    "IngestOptions": "ingest.options",
    "IngestReport": "ingest.service",
    "chunk_paths": "ingest.service",
    "ingest_documents": "ingest.service",
    "ingest_paths": "ingest.service",
    "LegalEmbeddings": "plugin.langchain.embeddings",
    "LegalRetriever": "plugin.langchain.retriever",
    "LegalVectorStore": "plugin.langchain.vectorstore",
    "LegalRAGError": "plugin.errors",
    "Settings": "plugin.settings",
    "open_searcher": "plugin.components",
    "open_store": "plugin.store",
    "TrainOptions": "train.options",
    "TrainReport": "train.service",
    "train_model": "train.service",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

if TYPE_CHECKING:
    from legalrag.eval.evaluation import EvalReport, evaluate_collection
    from legalrag.eval.options import EvalOptions
    from legalrag.ingest.options import IngestOptions
    from legalrag.ingest.service import IngestReport, chunk_paths, ingest_documents, ingest_paths
    from legalrag.plugin.components import open_searcher
    from legalrag.plugin.errors import LegalRAGError
    from legalrag.plugin.langchain.embeddings import LegalEmbeddings
    from legalrag.plugin.langchain.retriever import LegalRetriever
    from legalrag.plugin.langchain.vectorstore import LegalVectorStore
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import open_store
    from legalrag.train.options import TrainOptions
    from legalrag.train.service import TrainReport, train_model
