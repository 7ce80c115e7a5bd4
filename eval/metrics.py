"""Retrieval metrics as pure functions over ``qrels`` and ``run`` dicts.

The default definitions (``compat="st"``) are those of sentence-transformers'
``InformationRetrievalEvaluator.compute_metrics``, so a number printed here can be compared with a
model card. ``compat="trec"`` switches the two metrics where trec_eval/ranx differ: MAP divides by
all relevant documents and NDCG uses graded gains.

Conventions shared by every metric:

* **Relevance** is ``qrels[qid][doc_id] > 0``; a judgment of 0 (or below) means "judged, not relevant".
* **Ranking** is by score descending, ties broken by document id ascending. sentence-transformers >= 6
  sorts with the same key ``(-score, corpus_id)``; older releases sorted by score only, leaving ties in
  ``torch.topk``'s arbitrary order, so results with tied scores were not reproducible there.
* **Queries without a relevant document are skipped**: they are not counted in any mean (as in
  sentence-transformers). Queries missing from the run count as retrieving nothing (score 0).
* Inputs are never mutated; nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from legalrag.plugin.errors import InputError

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_NAMES",
    "Compat",
    "EvalResult",
    "Qrels",
    "Run",
    "accuracy_at_k",
    "average_precision_at_k",
    "evaluate",
    "ndcg_at_k",
    "parse_metric",
    "precision_at_k",
    "rank_documents",
    "recall_at_k",
    "reciprocal_rank_at_k",
    "relevant_ids",
    "trec_average_precision_at_k",
    "trec_ndcg_at_k",
]

#: query id → document id → relevance judgment (> 0 means relevant)
Qrels = Mapping[str, Mapping[str, int]]
#: query id → retrieved documents: ``(doc_id, score)`` pairs, a ranx-style ``{doc_id: score}`` dict, or
#: doc ids already in rank order
Run = Mapping[str, Sequence[tuple[str, float]] | Mapping[str, float] | Sequence[str]]
Compat = Literal["st", "trec"]

#: metric names accepted by :func:`parse_metric`
METRIC_NAMES: tuple[str, ...] = ("accuracy", "precision", "recall", "mrr", "ndcg", "map")

#: sentence-transformers' ``InformationRetrievalEvaluator`` defaults, in its order
DEFAULT_METRICS: tuple[str, ...] = (
    *(f"accuracy@{k}" for k in (1, 3, 5, 10)),
    *(f"precision@{k}" for k in (1, 3, 5, 10)),
    *(f"recall@{k}" for k in (1, 3, 5, 10)),
    "mrr@10",
    "ndcg@10",
    "map@100",
)


# ---------------------------------------------------------------------------------------------- ranking
def rank_documents(hits: Sequence[tuple[str, float]] | Mapping[str, float]) -> list[tuple[str, float]]:
    """Sort ``(doc_id, score)`` pairs by score descending, ties by doc id ascending.

    Raises:
        InputError: a score is NaN or a document appears twice.

    >>> rank_documents([("b", 0.5), ("a", 0.5), ("c", 0.9)])
    [('c', 0.9), ('a', 0.5), ('b', 0.5)]
    """
    pairs = list(hits.items()) if isinstance(hits, Mapping) else [(str(d), float(s)) for d, s in hits]
    seen: set[str] = set()
    for doc_id, score in pairs:
        if doc_id in seen:
            raise InputError(f"document {doc_id!r} appears twice in one ranking: deduplicate the run")
        if math.isnan(score):
            raise InputError(f"document {doc_id!r} has a NaN score: fix the scorer before evaluating")
        seen.add(doc_id)
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def relevant_ids(judgments: Mapping[str, int]) -> frozenset[str]:
    """The documents judged relevant (relevance > 0).

    >>> sorted(relevant_ids({"a": 1, "b": 0, "c": 2}))
    ['a', 'c']
    """
    return frozenset(doc_id for doc_id, rel in judgments.items() if rel > 0)


def _ranked_ids(retrieved: Sequence[tuple[str, float]] | Mapping[str, float] | Sequence[str]) -> list[str]:
    if isinstance(retrieved, str):
        raise InputError("a run entry is a single string: give a list of doc ids or (doc_id, score) pairs")
    if isinstance(retrieved, Mapping) or (len(retrieved) > 0 and not isinstance(retrieved[0], str)):
        return [doc_id for doc_id, _ in rank_documents(retrieved)]  # type: ignore[arg-type]
    ranked = [str(doc_id) for doc_id in retrieved]
    if len(set(ranked)) != len(ranked):
        raise InputError("a ranked list contains the same document twice: deduplicate the run")
    return ranked


# --------------------------------------------------------------------------------- per-query metrics
# Each takes the doc ids in rank order, the relevant ids, and a cutoff k >= 1. An empty relevant set
# gives 0.0 (ranx's convention); evaluate() never asks, because it skips such queries.


def accuracy_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Hit rate: 1 if any of the top ``k`` documents is relevant, else 0.

    ``accuracy@k = 1[ |top_k ∩ R| > 0 ]``
    """
    return 1.0 if any(doc_id in relevant for doc_id in ranked[:k]) else 0.0


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Fraction of the ``k`` slots holding a relevant document (short rankings are not rescaled).

    ``precision@k = |top_k ∩ R| / k``
    """
    return sum(doc_id in relevant for doc_id in ranked[:k]) / k


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Fraction of the relevant documents found in the top ``k``.

    ``recall@k = |top_k ∩ R| / |R|``
    """
    if not relevant:
        return 0.0
    return sum(doc_id in relevant for doc_id in ranked[:k]) / len(relevant)


def reciprocal_rank_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top ``k`` (0 if none); same in trec_eval.

    ``rr@k = 1 / min{ i <= k : d_i ∈ R }``
    """
    for position, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in relevant:
            return 1.0 / position
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary NDCG, as sentence-transformers computes it.

    ``DCG@k = Σ_{i=1..k} 1[d_i ∈ R] / log2(i + 1)``;
    ``IDCG@k = Σ_{i=1..min(k, |R|)} 1 / log2(i + 1)``; ``ndcg@k = DCG@k / IDCG@k``.
    """
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, doc_id in enumerate(ranked[:k]) if doc_id in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / idcg


def trec_ndcg_at_k(ranked: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Graded NDCG (Järvelin & Kekäläinen gains), as ranx's ``ndcg@k`` computes it.

    With ``rel_i = max(qrels[d_i], 0)``: ``DCG@k = Σ_{i=1..k} rel_i / log2(i + 1)``; ``IDCG@k`` is the DCG
    of the judgments sorted descending. Equal to :func:`ndcg_at_k` when all relevances are 0/1.
    """
    gains = sorted((rel for rel in judgments.values() if rel > 0), reverse=True)[:k]
    if not gains:
        return 0.0
    dcg = sum(
        judgments[doc_id] / math.log2(i + 2) for i, doc_id in enumerate(ranked[:k]) if judgments.get(doc_id, 0) > 0
    )
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(gains))
    return dcg / idcg


def _precision_sum(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    hits = 0
    total = 0.0
    for position, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in relevant:
            hits += 1
            total += hits / position
    return total


def average_precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Average precision cut at ``k``, normalised as sentence-transformers does.

    ``AP@k = Σ_{i<=k, d_i ∈ R} precision@i / min(k, |R|)``
    """
    if not relevant:
        return 0.0
    return _precision_sum(ranked, relevant, k) / min(k, len(relevant))


def trec_average_precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Average precision cut at ``k``, normalised by all relevant documents (trec_eval, ranx).

    ``AP@k = Σ_{i<=k, d_i ∈ R} precision@i / |R|``
    """
    if not relevant:
        return 0.0
    return _precision_sum(ranked, relevant, k) / len(relevant)


# ------------------------------------------------------------------------------------------ evaluate
def parse_metric(metric: str) -> tuple[str, int]:
    """Split ``"ndcg@10"`` into ``("ndcg", 10)``.

    Raises:
        InputError: unknown metric name, or a cutoff that is missing or below 1.

    >>> parse_metric("ndcg@10")
    ('ndcg', 10)
    """
    name, sep, cutoff = metric.strip().lower().partition("@")
    if name not in METRIC_NAMES:
        raise InputError(f"unknown metric {metric!r}: use one of {', '.join(METRIC_NAMES)} with '@k'")
    if not sep or not cutoff.isdigit() or int(cutoff) < 1:
        raise InputError(f"metric {metric!r} needs a cutoff k >= 1, e.g. '{name}@10'")
    return name, int(cutoff)


def _metric_value(
    name: str,
    k: int,
    ranked: Sequence[str],
    judgments: Mapping[str, int],
    relevant: frozenset[str],
    compat: Compat,
) -> float:
    if name == "accuracy":
        return accuracy_at_k(ranked, relevant, k)
    if name == "precision":
        return precision_at_k(ranked, relevant, k)
    if name == "recall":
        return recall_at_k(ranked, relevant, k)
    if name == "mrr":
        return reciprocal_rank_at_k(ranked, relevant, k)
    if name == "ndcg":
        return trec_ndcg_at_k(ranked, judgments, k) if compat == "trec" else ndcg_at_k(ranked, relevant, k)
    if compat == "trec":
        return trec_average_precision_at_k(ranked, relevant, k)
    return average_precision_at_k(ranked, relevant, k)


@dataclass(frozen=True)
class EvalResult:
    """Mean and per-query metric values from :func:`evaluate`.

    Attributes:
        means: metric → mean over the evaluated queries.
        per_query: query id → metric → value, for every evaluated query.
        skipped_queries: qrels queries without a relevant document (not in any mean).

    Example:
        >>> result = evaluate({"q1": {"d1": 1}}, {"q1": [("d1", 0.9), ("d2", 0.3)]}, ["mrr@10"])
        >>> result.means
        {'mrr@10': 1.0}
        >>> result.per_query
        {'q1': {'mrr@10': 1.0}}
    """

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    skipped_queries: tuple[str, ...] = field(default=())

    @property
    def num_queries(self) -> int:
        """Number of queries that entered the means."""
        return len(self.per_query)


def evaluate(
    qrels: Qrels,
    run: Run,
    metrics: Sequence[str] = DEFAULT_METRICS,
    compat: Compat = "st",
) -> EvalResult:
    """Compute ``metrics`` for every query of ``qrels`` that has a relevant document.

    Args:
        qrels: query id → doc id → relevance (> 0 relevant).
        run: query id → retrieved documents (see :data:`Run`); queries absent from ``qrels`` are ignored.
        metrics: names like ``"ndcg@10"`` (see :data:`METRIC_NAMES`).
        compat: ``"st"`` for sentence-transformers' definitions, ``"trec"`` for trec_eval/ranx ones
            (MAP divides by |R|, NDCG uses graded gains); the other metrics are identical.

    Raises:
        InputError: an unknown metric or compat, a malformed run, or no query with a relevant document.

    Example:
        >>> evaluate({"q": {"a": 1, "b": 1}}, {"q": [("a", 2.0), ("c", 1.0)]}, ["recall@2"]).means
        {'recall@2': 0.5}
    """
    if compat not in ("st", "trec"):
        raise InputError(f"unknown compat {compat!r}: use 'st' (sentence-transformers) or 'trec'")
    names = list(dict.fromkeys(metrics))
    parsed = [(metric, *parse_metric(metric)) for metric in names]
    per_query: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    for query_id, judgments in qrels.items():
        relevant = relevant_ids(judgments)
        if not relevant:
            skipped.append(query_id)
            continue
        ranked = _ranked_ids(run.get(query_id, ()))
        per_query[query_id] = {
            metric: _metric_value(name, k, ranked, judgments, relevant, compat) for metric, name, k in parsed
        }
    if not per_query:
        raise InputError("no query in qrels has a relevant document (relevance > 0): check the qrels")
    count = len(per_query)
    means = {metric: math.fsum(row[metric] for row in per_query.values()) / count for metric in names}
    return EvalResult(means=means, per_query=per_query, skipped_queries=tuple(skipped))
