"""A 0–1 ``relevance`` for every hit, whatever the mode, and thresholds on it.

Raw scores live on different scales: cosine in [-1, 1], BM25 unbounded (tens for a long query),
DBSF fused scores up to about 2, RRF fused scores below 0.04. ``relevance`` puts each on [0, 1]:

=========== ======================================================================== ============
mode        relevance                                                                 kind
=========== ======================================================================== ============
dense       ``(1 + cosine) / 2`` (dot product of unit vectors: the same; LangChain's)  absolute
sparse      the BM25 score over the query's best BM25 score (the first hit is 1)      per query
hybrid rrf  the fused score over the most RRF can give (first in every list is 1)     per query
hybrid dbsf the fused score over the number of lists (2), capped at 1                 per query
reranked    the cross-encoder's score, capped to [0, 1] (most emit a sigmoid)          absolute
=========== ======================================================================== ============

"Per query" relevances compare hits of one query: a threshold of 0.5 keeps what scores at least half
of what the query's best match could; it does not say that the best match answers the question.
A dense relevance means the same across queries: 0.8 is a cosine of 0.6.

``score_threshold`` compares against the relevance by default (``SearchSettings.threshold_on``); a
threshold whose raw score is known before the search runs is given to Qdrant, the others
(sparse) drop hits after it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from legalrag.plugin.errors import InputError
from legalrag.plugin.store.base import Hit

__all__ = ["DENSE_RELEVANCE", "Scale", "with_relevance"]


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


#: dense scores by the collection's distance -> [0, 1] (LangChain's vector-store relevance convention)
DENSE_RELEVANCE: dict[str, Callable[[float], float]] = {
    "Cosine": lambda similarity: _clip((1.0 + similarity) / 2.0),
    "Dot": lambda similarity: _clip((1.0 + similarity) / 2.0),  # unit vectors: the cosine
    "Euclid": lambda distance: _clip(1.0 - distance * distance / 4.0),  # unit vectors: (1 + cosine) / 2
    "Manhattan": lambda distance: 1.0 / (1.0 + distance),
}


@dataclass(frozen=True)
class Scale:
    """How one mode's raw scores map onto relevance.

    Fused and reranked scores: ``clip(score / unit, 0, 1)``; sparse: ``unit`` is ``None`` and the
    query's best score stands for it; dense: the distance's own mapping.
    """

    mode: str
    unit: float | None
    distance: str | None = None

    @classmethod
    def of(
        cls,
        mode: str,
        *,
        fusion: str,
        rrf_k: int,
        weights: Any = None,
        distance: str | None = None,
    ) -> Scale:
        if mode == "dense":
            return cls(mode, None, distance or "Cosine")
        if mode == "sparse":
            return cls(mode, None)
        if fusion == "rrf":
            w = weights or (1.0, 1.0)
            return cls("rrf", sum(1.0 / (1.0 / float(x) + rrf_k - 1) for x in w if float(x) > 0))
        return cls("dbsf", 2.0)

    @property
    def before_search(self) -> bool:
        """Whether a relevance threshold becomes a raw score Qdrant can apply (else it drops hits after)."""
        return self.unit is not None or self.distance in ("Cosine", "Dot")

    def raw_threshold(self, relevance: Any) -> float | None:
        """The raw score a relevance threshold stands for, when known before searching (else ``None``).

        Raises:
            InputError: ``relevance`` is not a number in [0, 1].
        """
        check_relevance(relevance)
        if not self.before_search or relevance <= 0:
            return None  # after the search; 0 keeps everything
        if self.unit is None:  # cosine / dot: relevance = (1 + s) / 2
            return 2.0 * float(relevance) - 1.0
        return float(relevance) * self.unit

    def relevance(self, score: float, best: float) -> float:
        if self.mode == "dense":
            return DENSE_RELEVANCE.get(self.distance or "Cosine", DENSE_RELEVANCE["Cosine"])(score)
        unit = self.unit if self.unit is not None else best
        return _clip(score / unit) if unit > 0 else 0.0


def check_relevance(relevance: Any) -> None:
    if isinstance(relevance, bool) or not isinstance(relevance, (int, float)) or not math.isfinite(relevance):
        raise InputError(f"score_threshold must be a finite number, got {relevance!r}")
    if not 0.0 <= relevance <= 1.0:
        raise InputError(
            f"score_threshold={relevance} is a relevance, which lies in [0, 1] in every mode; to compare raw "
            "scores instead set search threshold_on='score' (LEGALRAG_SEARCH__THRESHOLD_ON=score)"
        )


def with_relevance(hits: Sequence[Hit], scale: Scale, threshold: float | None = None) -> list[Hit]:
    """``hits`` (best first) with ``relevance`` set, less those below ``threshold`` (a relevance)."""
    best = hits[0].score if hits else 0.0
    out = [replace(h, relevance=scale.relevance(h.score, best)) for h in hits]
    if threshold is not None:
        out = [h for h in out if h.relevance is not None and h.relevance >= threshold]
    return out
