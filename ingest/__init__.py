"""Loading, statute-aware chunking and the ingest pipeline.

The entry points: :func:`ingest_paths` (files and folders), :func:`ingest_documents` (documents you
made) and :func:`chunk_paths` (the chunks, without embedding). Names load lazily (PEP 562), so
``import legalrag.ingest.loaders`` does not pull in the store or the model code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = [
    "IngestOptions",
    "IngestReport",
    "IngestStats",
    "LegalDocumentLoader",
    "LegalTextSplitter",
    "chunk_paths",
    "ingest_documents",
    "ingest_paths",
]

_WHERE = {
    "IngestOptions": "options",
    "IngestReport": "service",
    "chunk_paths": "service",
    "ingest_documents": "service",
    "ingest_paths": "service",
    "IngestStats": "pipeline",
    "LegalDocumentLoader": "langchain",
    "LegalTextSplitter": "langchain",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)


if TYPE_CHECKING:
    from legalrag.ingest.langchain import LegalDocumentLoader, LegalTextSplitter
    from legalrag.ingest.options import IngestOptions
    from legalrag.ingest.pipeline import IngestStats
    from legalrag.ingest.service import IngestReport, chunk_paths, ingest_documents, ingest_paths
