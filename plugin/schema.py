"""Typed records that flow through legalrag, and the payload keys stored in Qdrant.

Payloads are flat: the chunk's raw text under ``text`` and every metadata key beside it, so that
LangChain-style filters like ``{"title": ..., "article": ...}`` map directly onto payload keys.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DENSE_VECTOR",
    "DOC_ID_KEY",
    "ID_NAMESPACE",
    "RESERVED_KEYS",
    "SOURCE_PATH_KEY",
    "SPARSE_VECTOR",
    "TENANT_KEY",
    "TEXT_KEY",
    "VERSION_KEY",
    "Chunk",
    "Distance",
    "SourceDocument",
    "SparseVector",
    "content_hash",
    "point_id",
    "without_surrogates",
]

#: Qdrant distances a dense vector can use; a model's similarity function picks one
Distance = Literal["Cosine", "Dot", "Euclid", "Manhattan"]

#: payload key holding the raw chunk text
TEXT_KEY = "text"
#: payload key of the document a chunk belongs to (the unit of incremental ingest and of eval)
DOC_ID_KEY = "doc_id"
#: payload key of the document version a chunk was written with (see ``legalrag.ingest.pipeline``)
VERSION_KEY = "version"
#: payload key binding a point to one tenant (``--tenant``); a point without it belongs to no tenant
TENANT_KEY = "tenant"
#: payload key of the absolute path of the file a document was read from: two runs from different folders
#: (or working directories) that give one doc_id are told apart by it
SOURCE_PATH_KEY = "source_path"
#: payload keys only legalrag writes: a document's own metadata under these names is stored as
#: ``meta_<key>`` instead (front matter ``tenant: B`` must never put a document in tenant B's view)
RESERVED_KEYS: frozenset[str] = frozenset({TEXT_KEY, TENANT_KEY, VERSION_KEY, SOURCE_PATH_KEY, "lc_id"})
#: names of the two vectors every legalrag collection may hold
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"

#: fixed namespace for uuid5 point ids; changing it would duplicate every existing collection
ID_NAMESPACE = uuid.UUID("6f1c2a8e-4b7d-5e3f-9a10-7c2d8e4b1a55")


def content_hash(text: str) -> str:
    """Hex sha256 of ``text`` (UTF-8); the identity of a document or chunk version."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_id(doc_id: str, doc_hash: str, chunk_index: int) -> str:
    """Deterministic point id: uuid5 of document id, document version and chunk position.

    >>> point_id("a", "h", 0) == point_id("a", "h", 0)
    True
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"{doc_id}\x1f{doc_hash}\x1f{chunk_index}"))


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One loaded document (a file, or one record of a JSON/JSONL file) before chunking.

    Example:
        >>> SourceDocument(doc_id="law-1", source="law.md", text="제1조(목적) ...").doc_hash[:8]
        '...'  # doctest: +SKIP
    """

    doc_id: str
    source: str
    text: str
    title: str | None = None
    language: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def doc_hash(self) -> str:
        return content_hash(self.text)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document ready to embed.

    ``text`` is the raw provision text kept in the payload; ``embed_text`` is what the model
    sees (``text`` with the contextual header: law title and article heading).
    ``metadata`` holds every payload key except ``text`` (``doc_id``, ``source``, ``title``,
    ``article``, ``citation``, ``chunk_index``, ``char_start``, ``char_end``, ``language``,
    ``content_hash``, ``doc_hash``, ...).
    """

    text: str
    embed_text: str
    metadata: Mapping[str, Any]

    @property
    def id(self) -> str:
        return point_id(str(self.metadata["doc_id"]), str(self.metadata["doc_hash"]), int(self.metadata["chunk_index"]))

    def payload(self) -> dict[str, Any]:
        return {**self.metadata, TEXT_KEY: self.text}


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse vector: parallel lists of term indices and weights (indices unique)."""

    indices: list[int]
    values: list[float]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("sparse vector indices and values differ in length")


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (bytes that were not UTF-8: a file name, a command-line argument)
    replaced by U+FFFD: Qdrant, the tokenizers and JSON all need valid Unicode.

    Example:
        >>> without_surrogates("bad\udcffname")
        'bad\ufffdname'
    """
    return _SURROGATE.sub("\ufffd", text)
