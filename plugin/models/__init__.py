"""Dense models: the one protocol, loading by name, the sentence-transformers encoder, adapters,
CPU runtimes and token counting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["DenseEncoder", "DenseModel", "as_dense_model", "load_dense_model"]

_WHERE = {
    "DenseEncoder": "encoder",
    "DenseModel": "protocol",
    "as_dense_model": "loading",
    "load_dense_model": "loading",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

if TYPE_CHECKING:
    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.models.loading import as_dense_model, load_dense_model
    from legalrag.plugin.models.protocol import DenseModel
