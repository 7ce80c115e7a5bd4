"""Fusion tuning: pick hybrid settings on a labelled dev split, never worse than the best single mode.

Equal-weight fusion of a strong and a weak retriever can score below the strong one alone (on a
Korean financial-law Q&A set: BM25 0.82 MRR@10, a generic multilingual dense model 0.50, equal RRF
0.67–0.75). So :func:`tune` evaluates dense-only and sparse-only, then a grid of fusions (RRF with
several ``k`` and dense/sparse weight ratios, and DBSF), and chooses:

* the best fusion when it scores strictly above the best single mode on the objective;
* otherwise the best single mode itself (then stored as the collection's default mode).

Ties go to the earlier candidate: single modes before fusions (they are cheaper), then grid order
(the default ``rrf k=60 w=1:1`` comes first). The choice is stored in the collection's metadata under
``"search"`` (:func:`store_tuned`), where :func:`legalrag.plugin.components.open_searcher` and so the
LangChain retriever read it.

RRF weights only matter as a ratio (``w_d / (k + r_d) + w_s / (k + r_s)`` scaled by a constant ranks
the same), so the grid varies the sparse weight against a dense weight of 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legalrag.eval.datasets import EvalDataset
from legalrag.eval.harness import run_queries, score_run
from legalrag.eval.metrics import parse_metric
from legalrag.plugin.models.protocol import CachedQueries
from legalrag.plugin.search.defaults import TUNED_BY_EVAL
from legalrag.plugin.search.searcher import SearchConfig, Searcher
from legalrag.plugin.store.base import Store

__all__ = [
    "DEFAULT_RRF_KS",
    "DEFAULT_WEIGHTS",
    "CachedQueryEmbeddings",  # noqa: F822 - deprecated, served by __getattr__
    "Evaluate",
    "Trial",
    "TuneResult",
    "describe",
    "fusion_grid",
    "searcher_evaluator",
    "store_tuned",
    "tune",
]

#: the provenance tuning writes with the configuration it stores
TUNED_BY = TUNED_BY_EVAL
#: RRF ``k`` values tried, the default (60) first
DEFAULT_RRF_KS: tuple[int, ...] = (60, 10, 2)
#: (dense, sparse) RRF weights tried: equal first, then sparse weaker, then sparse stronger
DEFAULT_WEIGHTS: tuple[tuple[float, float], ...] = (
    (1.0, 1.0),
    (1.0, 0.5),
    (1.0, 0.25),
    (1.0, 2.0),
    (1.0, 4.0),
    (1.0, 8.0),
)
#: the single modes every tuning run evaluates, in tie-break order
SINGLE_MODES: tuple[SearchConfig, ...] = (SearchConfig(mode="dense"), SearchConfig(mode="sparse"))

#: a configuration in, that configuration's metrics (``{"mrr@10": 0.71, ...}``) out
Evaluate = Callable[[SearchConfig], Mapping[str, float]]


def fusion_grid(
    rrf_ks: Sequence[int] = DEFAULT_RRF_KS,
    weights: Sequence[tuple[float, float]] = DEFAULT_WEIGHTS,
    *,
    dbsf: bool = True,
) -> list[SearchConfig]:
    """Hybrid configurations to try: every ``k`` × weight pair with RRF, then DBSF (weightless).

    Example:
        >>> [describe(c) for c in fusion_grid([60], [(1, 1), (1, 4)])]
        ['rrf k=60 w=1:1', 'rrf k=60 w=1:4', 'dbsf']
    """
    grid = [
        SearchConfig(mode="hybrid", fusion="rrf", rrf_k=k, weights=(float(w[0]), float(w[1])))
        for k in rrf_ks
        for w in weights
    ]
    if dbsf:
        grid.append(SearchConfig(mode="hybrid", fusion="dbsf"))
    return grid


def describe(config: SearchConfig) -> str:
    """A short label: ``dense``, ``sparse``, ``rrf k=10 w=1:4`` or ``dbsf``."""
    if config.mode != "hybrid":
        return config.mode
    if config.fusion == "dbsf":
        return "dbsf"
    dense, sparse = config.weights or (1.0, 1.0)
    return f"rrf k={config.rrf_k} w={dense:g}:{sparse:g}"


@dataclass(frozen=True, slots=True)
class Trial:
    """One evaluated configuration: its objective ``score`` and all the metrics computed."""

    config: SearchConfig
    score: float
    metrics: Mapping[str, float]

    @property
    def label(self) -> str:
        return describe(self.config)


@dataclass(frozen=True, slots=True)
class TuneResult:
    """What tuning tried and chose.

    Attributes:
        objective: the metric maximised (e.g. ``mrr@10``).
        trials: every configuration, single modes first, in evaluation order.
        best_single: the better of dense-only and sparse-only.
        best_fusion: the best hybrid configuration (``None`` when no fusion was tried).
        chosen: ``best_fusion`` if it beats ``best_single`` strictly, else ``best_single``.
    """

    objective: str
    trials: tuple[Trial, ...]
    best_single: Trial
    best_fusion: Trial | None
    chosen: Trial

    @property
    def fusion_wins(self) -> bool:
        return self.chosen.config.mode == "hybrid"

    def as_dict(self) -> dict[str, Any]:
        def row(trial: Trial | None) -> dict[str, Any] | None:
            if trial is None:
                return None
            return {"label": trial.label, "score": trial.score, "config": trial.config.as_metadata()}

        return {
            "objective": self.objective,
            "best_single": row(self.best_single),
            "best_fusion": row(self.best_fusion),
            "chosen": row(self.chosen),
            "fusion_wins": self.fusion_wins,
            "chosen_ge_best_single": self.chosen.score >= self.best_single.score,
            "trials": [{"label": t.label, "score": t.score} for t in self.trials],
        }


def tune(
    evaluate: Evaluate,
    *,
    objective: str = "mrr@10",
    grid: Sequence[SearchConfig] | None = None,
    singles: Sequence[SearchConfig] = SINGLE_MODES,
) -> TuneResult:
    """Evaluate ``singles`` and ``grid`` (default :func:`fusion_grid`) and choose (see the module doc).

    Args:
        evaluate: runs one configuration on the dev set and returns its metrics; must include ``objective``.
        objective: the metric to maximise; a NaN counts as the worst score.
        grid: the hybrid configurations to try.
        singles: the single-mode configurations (at least one).

    Raises:
        InputError: ``objective`` is not a metric name such as ``mrr@10``.
        ValueError: ``singles`` is empty, or ``evaluate`` did not return ``objective``.

    Example:
        >>> scores = {"dense": 0.5, "sparse": 0.8, "rrf k=60 w=1:1": 0.7}
        >>> fake = lambda c: {"mrr@10": scores.get(describe(c), 0.0)}
        >>> tune(fake, grid=fusion_grid([60], [(1, 1)], dbsf=False)).chosen.label
        'sparse'
    """
    parse_metric(objective)
    if not singles:
        raise ValueError("tune needs at least one single-mode configuration to compare fusion against")
    grid = fusion_grid() if grid is None else grid
    single_trials = [_trial(evaluate, config, objective) for config in singles]
    fusion_trials = [_trial(evaluate, config, objective) for config in grid]
    best_single = _best(single_trials)
    best_fusion = _best(fusion_trials) if fusion_trials else None
    chosen = best_fusion if best_fusion is not None and best_fusion.score > best_single.score else best_single
    return TuneResult(objective, tuple(single_trials + fusion_trials), best_single, best_fusion, chosen)


def _trial(evaluate: Evaluate, config: SearchConfig, objective: str) -> Trial:
    metrics = dict(evaluate(config))
    if objective not in metrics:
        raise ValueError(f"the evaluation of {describe(config)} returned no {objective!r}: {sorted(metrics)}")
    score = float(metrics[objective])
    return Trial(config, -math.inf if math.isnan(score) else score, metrics)


def _best(trials: Sequence[Trial]) -> Trial:
    """The highest score; the earliest trial on a tie (deterministic)."""
    best = trials[0]
    for trial in trials[1:]:
        if trial.score > best.score:
            best = trial
    return best


def store_tuned(store: Store, collection: str, config: SearchConfig) -> None:
    """Store ``config`` as the collection's search settings (read back by ``SearchConfig.from_metadata``).

    Marked ``tuned_by: "eval --tune"``: a later ingest's label-free default never replaces it.
    """
    store.set_metadata(collection, {"search": {**config.as_metadata(), "tuned_by": TUNED_BY}})


def searcher_evaluator(
    searcher: Searcher,
    dataset: EvalDataset,
    *,
    metrics: Sequence[str],
    depth: int,
    compat: str = "st",
    on_query: Callable[[], None] | None = None,
) -> Evaluate:
    """An :data:`Evaluate` that runs ``dataset``'s queries through ``searcher`` with each configuration.

    Only the fusion fields (``mode``, ``fusion``, ``rrf_k``, ``weights``) of the configuration are
    applied; depth, exactness and quantization settings stay the searcher's. Query vectors are cached.
    ``on_query`` is called after every query of every configuration (progress).
    """
    base = searcher.with_config()
    if base.dense is not None:
        base.dense = CachedQueries(base.dense)

    def evaluate(config: SearchConfig) -> Mapping[str, float]:
        trial = base.with_config(mode=config.mode, fusion=config.fusion, rrf_k=config.rrf_k, weights=config.weights)
        run = run_queries(
            trial, dataset.queries, name=describe(config), depth=depth, mode=config.mode, on_query=on_query
        )
        return score_run(run, dataset.qrels, metrics, compat).metrics

    return evaluate


def __getattr__(name: str) -> Any:
    # deprecated: tuning caches query vectors with legalrag.plugin.models.protocol.CachedQueries now
    if name == "CachedQueryEmbeddings":
        import warnings

        warnings.warn(
            "CachedQueryEmbeddings is deprecated: use legalrag.plugin.models.protocol.CachedQueries",
            DeprecationWarning,
            stacklevel=2,
        )
        return _cached_query_embeddings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cached_query_embeddings() -> type:
    from langchain_core.embeddings import Embeddings

    class CachedQueryEmbeddings(Embeddings):
        """Memoise ``embed_query`` of a LangChain ``Embeddings`` (documents pass through)."""

        def __init__(self, inner: Embeddings) -> None:
            self.inner = inner
            self._cache: dict[str, list[float]] = {}

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.inner.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            if text not in self._cache:
                self._cache[text] = self.inner.embed_query(text)
            return self._cache[text]

    return CachedQueryEmbeddings
