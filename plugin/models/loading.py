"""Dense models by name, and any LangChain ``Embeddings`` as a dense model: the one loading place.

A hub name, a local folder or ``pkg:<module>`` load with sentence-transformers
(:class:`~legalrag.plugin.models.encoder.DenseEncoder`); ``use:multilingual`` is Google's USE
(:class:`~legalrag.plugin.models.adapters.USEEncoder`, numpy). Everything returned is a
:class:`~legalrag.plugin.models.protocol.DenseModel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from legalrag.plugin.models.adapters import EmbeddingsEncoder, is_adapter_model, load_adapter
from legalrag.plugin.models.protocol import DenseModel

if TYPE_CHECKING:
    from legalrag.plugin.settings import EmbeddingSettings

__all__ = ["as_dense_model", "is_adapter_model", "load_dense_model"]


def load_dense_model(
    name: str, device: str = "auto", settings: EmbeddingSettings | None = None, *, max_tokens: int | None = None
) -> DenseModel:
    """Load the dense model ``name``: sentence-transformers (hub name, folder, ``pkg:``) or ``use:...``.

    ``max_tokens`` caps the chunk budget of a ``use:`` model (words and CJK characters).

    Raises:
        ModelLoadError: the model cannot be found or loaded (the message says what to pass instead).
        MissingExtraError: the model's package is not installed (the message names the extra).
    """
    if is_adapter_model(name):
        return load_adapter(name, max_tokens=max_tokens)
    from legalrag.plugin.models.encoder import DenseEncoder

    return DenseEncoder.load(name, device, settings)


def as_dense_model(model: Any) -> DenseModel:
    """``model`` itself when it is a :class:`DenseModel`, else a LangChain ``Embeddings`` adapted to one.

    A :class:`~legalrag.plugin.langchain.embeddings.LegalEmbeddings` gives back the model under it (no wrapper
    around a wrapper).

    Raises:
        TypeError: ``model`` is neither.
    """
    if isinstance(model, DenseModel):
        return model
    inner = getattr(model, "dense_model", None)
    if isinstance(inner, DenseModel):
        return inner
    if callable(getattr(model, "embed_query", None)) and callable(getattr(model, "embed_documents", None)):
        return EmbeddingsEncoder(model, name=str(getattr(model, "model", None) or type(model).__name__))
    raise TypeError(
        f"expected a dense model (encode_queries/encode_documents) or a LangChain Embeddings, "
        f"got {type(model).__name__}"
    )
