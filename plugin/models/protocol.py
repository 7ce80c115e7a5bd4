"""The one dense-model protocol legalrag's core speaks, and the one place a model is loaded by name.

Ingest, :class:`~legalrag.plugin.search.searcher.Searcher`, eval and tuning all take a :class:`DenseModel`:
two calls shaped like sentence-transformers' ``encode_document`` / ``encode_query`` (a model's own
document and query prompts are applied), plus the facts a collection and the chunker need.
LangChain is an edge: :class:`~legalrag.plugin.langchain.embeddings.LegalEmbeddings` shows a ``DenseModel``
to LangChain, and :func:`legalrag.plugin.models.loading.as_dense_model` takes any LangChain ``Embeddings``
in. Models are loaded by name in one place, :func:`legalrag.plugin.models.loading.load_dense_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from legalrag.plugin.schema import Distance

__all__ = ["CachedQueries", "DenseModel"]


@runtime_checkable
class DenseModel(Protocol):
    """What ingestion, search, eval and tuning need from a dense model.

    ``encode_documents`` / ``encode_queries`` return float32 arrays of shape ``(len(texts), dimension)``;
    ``tokenizer`` and ``max_seq_length`` are what the chunker counts a chunk's budget with.
    """

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def distance(self) -> Distance: ...

    @property
    def max_seq_length(self) -> int: ...

    @property
    def tokenizer(self) -> Any: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class CachedQueries:
    """A :class:`DenseModel` that encodes each distinct query once (tuning runs a grid over the same queries).

    Documents pass through unchanged.

    Example:
        >>> class Fake:
        ...     name, dimension, distance, max_seq_length, tokenizer = "fake", 2, "Cosine", 8, None
        ...     calls = 0
        ...     def encode_documents(self, texts): return np.ones((len(texts), 2), np.float32)
        ...     def encode_queries(self, texts):
        ...         Fake.calls += len(texts)
        ...         return np.ones((len(texts), 2), np.float32)
        >>> cached = CachedQueries(Fake())
        >>> _ = cached.encode_queries(["q", "q"]); _ = cached.encode_queries(["q"])
        >>> Fake.calls
        1
    """

    def __init__(self, inner: DenseModel) -> None:
        self.inner = inner
        self.name = inner.name
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def distance(self) -> Distance:
        return self.inner.distance

    @property
    def max_seq_length(self) -> int:
        return self.inner.max_seq_length

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_documents(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, row in zip(missing, self.inner.encode_queries(missing), strict=True):
                self._cache[text] = row
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])
