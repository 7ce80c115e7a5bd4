"""Search: the searcher (dense, sparse, hybrid), reranking, the default-mode choice, diagnostics, filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legalrag._lazy import lazy_exports

__all__ = ["FilterWarning", "Reranker", "SearchConfig", "Searcher", "to_qdrant_filter"]

_WHERE = {
    "FilterWarning": "diagnose",
    "Reranker": "rerank",
    "SearchConfig": "searcher",
    "Searcher": "searcher",
    "to_qdrant_filter": "filters",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

if TYPE_CHECKING:
    from legalrag.plugin.search.diagnose import FilterWarning
    from legalrag.plugin.search.filters import to_qdrant_filter
    from legalrag.plugin.search.rerank import Reranker
    from legalrag.plugin.search.searcher import SearchConfig, Searcher
