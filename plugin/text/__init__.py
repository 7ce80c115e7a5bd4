"""Text for the lexical side: language detection by script, BM25 analysers per language, the BM25 encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["BM25Encoder", "detect_language"]

_WHERE = {"BM25Encoder": "bm25", "detect_language": "language"}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

if TYPE_CHECKING:
    from legalrag.plugin.text.bm25 import BM25Encoder
    from legalrag.plugin.text.language import detect_language
