"""Loading, statute-aware chunking and the ingest pipeline.

The entry points: :func:`ingest_paths` (files and folders), :func:`ingest_documents` (documents you
made) and :func:`chunk_paths` (the chunks, without embedding). Names load lazily (PEP 562), so
``import legalrag.ingest.loaders`` does not pull in the store or the model code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "IngestReport",
    "IngestStats",
    "LegalDocumentLoader",
    "LegalTextSplitter",
    "chunk_paths",
    "ingest_documents",
    "ingest_paths",
]

_WHERE = {
    "IngestReport": "service",
    "chunk_paths": "service",
    "ingest_documents": "service",
    "ingest_paths": "service",
    "IngestStats": "pipeline",
    "LegalDocumentLoader": "langchain",
    "LegalTextSplitter": "langchain",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'legalrag.ingest' has no attribute {name!r}")
    value = getattr(import_module(f"legalrag.ingest.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from legalrag.ingest.langchain import LegalDocumentLoader, LegalTextSplitter
    from legalrag.ingest.pipeline import IngestStats
    from legalrag.ingest.service import IngestReport, chunk_paths, ingest_documents, ingest_paths
