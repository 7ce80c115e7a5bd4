"""The typed records the ingest pipeline streams and reports, and the protocols of its stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from legalrag.plugin.schema import Chunk, SourceDocument, SparseVector

__all__ = [
    "ChunkerLike",
    "DocumentEncoder",
    "DocumentFailure",
    "DocumentStatus",
    "IngestStats",
    "PreparedChunks",
    "PreparedDocument",
    "SparseDocumentEncoder",
]

#: what a run does with a document: write it whole (``added``/``updated``), nothing (``unchanged``),
#: or only retire older versions when the current one is already complete (``stale_only``)
DocumentStatus = Literal["added", "updated", "unchanged", "stale_only"]
#: a document's chunks, their BM25 vectors (None: not analysed) and their lengths in the model's tokens,
#: special tokens included, truncated at its limit (None: not counted), made ahead of the pipeline
PreparedChunks = tuple[list[Chunk], list[SparseVector] | None, list[int] | None]


class DocumentEncoder(Protocol):
    """What the pipeline needs from a dense encoder (see :class:`legalrag.plugin.models.encoder.DenseEncoder`)."""

    def encode_documents(self, texts: Sequence[str]) -> Any: ...


class SparseDocumentEncoder(Protocol):
    """What the pipeline needs from a sparse encoder (see :mod:`legalrag.plugin.text.bm25`)."""

    def encode_documents(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[SparseVector]: ...


class ChunkerLike(Protocol):
    """What the pipeline needs from a chunker (see :class:`legalrag.ingest.chunking.Chunker`)."""

    def chunk(self, doc: SourceDocument) -> list[Chunk]: ...


@dataclass(frozen=True, slots=True)
class DocumentFailure:
    """A document (or file) the run could not load or ingest, and why (``source`` is the file path).

    The loaders yield it for a file they cannot read (``legalrag.ingest.loaders.LoadFailure`` is the
    same class), and the pipeline reports it in :attr:`IngestStats.failed`.
    """

    source: str
    reason: str


@dataclass(slots=True)
class PreparedDocument:
    """A chunked document with its version, point ids and what the collection already holds."""

    doc: SourceDocument
    version: str
    chunks: list[Chunk]
    ids: list[str]
    status: DocumentStatus
    warnings: tuple[str, ...] = ()
    #: the chunks' BM25 vectors when prepared ahead (legalrag.ingest.prepare); None: analysed when written
    sparse: list[SparseVector] | None = None
    #: the chunks' lengths as the encoder counts them, when prepared ahead; None: the encoder counts
    lengths: list[int] | None = None


@dataclass(slots=True)
class IngestStats:
    """Counts reported by ``legalrag ingest`` (documents unless named ``chunks``/``upserted``).

    One thread owns it during a run (the one that called :meth:`Ingestor.run`); the other stages
    send it what happened as messages.
    """

    files: int = 0
    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks: int = 0
    upserted: int = 0
    skipped: int = 0
    tokens: int = 0
    failed: list[DocumentFailure] = field(default_factory=list)
    #: documents stored with a change the user should know of (reserved metadata keys renamed)
    warnings: list[DocumentFailure] = field(default_factory=list)
    seconds: float = 0.0
    #: wall time inside the dense encoder; ``seconds - embed_seconds`` is what the pipeline adds
    embed_seconds: float = 0.0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "documents": self.documents,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks": self.chunks,
            "upserted": self.upserted,
            "skipped": self.skipped,
            "tokens": self.tokens,
            "failed": [{"source": f.source, "reason": f.reason} for f in self.failed],
            "warnings": [{"source": w.source, "reason": w.reason} for w in self.warnings],
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "interrupted": self.interrupted,
        }
