"""AutoRAG's retrieval metrics, as pure functions, with AutoRAG's own definitions.

AutoRAG judges a retrieval against ``retrieval_gt``: a list of AND-groups, each a list of
OR-alternatives (``[["a", "b"], ["c"]]``: "a or b, and c"). Every metric is computed over the list
the retriever returned at a given ``top_k`` (``pred``, in rank order), not over a fixed cutoff of a
longer ranking. The definitions follow ``autorag/evaluation/metric/retrieval.py`` (unchanged since
AutoRAG added mAP, mRR and NDCG in April 2024); a query whose ground truth is empty (``[[]]``) or holds
an empty id has no value and is left out of the means, as AutoRAG leaves it out.

Names: :data:`AUTORAG_METRICS` (``retrieval_f1``, ``retrieval_recall``, ...), reported per top-k as
``retrieval_f1@3``. Inputs are never mutated; nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "AUTORAG_METRICS",
    "DEFAULT_TOP_K",
    "GroundTruth",
    "autorag_means",
    "groups_from_qrels",
    "retrieval_f1",
    "retrieval_map",
    "retrieval_mrr",
    "retrieval_ndcg",
    "retrieval_precision",
    "retrieval_recall",
    "scorable",
]

#: AND-groups of OR-alternatives
GroundTruth = Sequence[Sequence[str]]

#: AutoRAG's top-k cutoffs in the Korean embedding benchmark (``--top-k`` changes them)
DEFAULT_TOP_K: tuple[int, ...] = (1, 3, 5, 10)


def scorable(gt: GroundTruth) -> bool:
    """False for a ground truth AutoRAG gives no value: no group with ids, or an empty id."""
    return bool(gt) and any(gt) and all(all(bool(doc) for doc in group) for group in gt)


def _in_any(doc: str, gt: GroundTruth) -> bool:
    return any(doc in group for group in gt)


def retrieval_recall(gt: GroundTruth, pred: Sequence[str]) -> float:
    """Share of AND-groups with at least one alternative retrieved: ``|{g : g ∩ pred ≠ ∅}| / |gt|``.

    >>> retrieval_recall([["a", "b"], ["c"]], ["a", "x", "b", "y"])
    0.5
    """
    found = set(pred)
    return sum(1 for group in gt if found.intersection(group)) / len(gt) if gt else 0.0


def retrieval_precision(gt: GroundTruth, pred: Sequence[str]) -> float:
    """Distinct retrieved ids found in any group, over the length of the list: ``|{p ∈ set(pred) : p ∈ ∪gt}| / |pred|``.

    >>> retrieval_precision([["a", "b"], ["c"]], ["a", "x", "b", "y"])
    0.5
    """
    if not pred:
        return 0.0
    return sum(1 for doc in set(pred) if _in_any(doc, gt)) / len(pred)


def retrieval_f1(gt: GroundTruth, pred: Sequence[str]) -> float:
    """Harmonic mean of :func:`retrieval_recall` and :func:`retrieval_precision` (0 when both are 0).

    >>> round(retrieval_f1([["a", "b"], ["c"]], ["a", "x", "b", "y"]), 4)
    0.5
    """
    recall, precision = retrieval_recall(gt, pred), retrieval_precision(gt, pred)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def retrieval_ndcg(gt: GroundTruth, pred: Sequence[str]) -> float:
    """Binary-gain NDCG over the returned list.

    ``DCG = Σ_i rel(pred_i) / log2(i + 2)`` (``rel`` 1 if the id is in any group, i from 0);
    the ideal list has ``min(n_gt, |pred|)`` relevant ids first, where ``n_gt`` counts every id of
    every group (alternatives included); ``NDCG = DCG / IDCG`` (0 when IDCG is 0).

    >>> round(retrieval_ndcg([["a", "b"], ["c"]], ["a", "x", "b", "y"]), 4)
    0.7039
    """
    dcg = math.fsum(1.0 / math.log2(i + 2) for i, doc in enumerate(pred) if _in_any(doc, gt))
    ideal = min(sum(len(group) for group in gt), len(pred))
    idcg = math.fsum(1.0 / math.log2(i + 2) for i in range(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def retrieval_mrr(gt: GroundTruth, pred: Sequence[str]) -> float:
    """Mean over AND-groups of the reciprocal rank of the group's first retrieved alternative (0 if none).

    ``MRR = (1/|gt|) Σ_g 1/rank_g``, groups never retrieved adding 0.

    >>> retrieval_mrr([["a", "b"], ["c"]], ["a", "x", "b", "y"])
    0.5
    """
    total = 0.0
    for group in gt:
        rank = next((i + 1 for i, doc in enumerate(pred) if doc in group), None)
        if rank is not None:
            total += 1.0 / rank
    return total / len(gt) if gt else 0.0


def retrieval_map(gt: GroundTruth, pred: Sequence[str]) -> float:
    """Mean over AND-groups of the group's average precision in the returned list.

    For a group g: ``AP_g = mean over ranks r where pred_r ∈ g of (|{i ≤ r : pred_i ∈ g}| / r)``
    (0 when nothing of g was retrieved); ``MAP = (1/|gt|) Σ_g AP_g``.

    >>> round(retrieval_map([["a", "b"], ["c"]], ["a", "x", "b", "y"]), 4)
    0.4167
    """
    total = 0.0
    for group in gt:
        hits = 0
        precisions = []
        for i, doc in enumerate(pred):
            if doc in group:
                hits += 1
                precisions.append(hits / (i + 1))
        if precisions:
            total += math.fsum(precisions) / len(precisions)
    return total / len(gt) if gt else 0.0


#: AutoRAG's metric names, in the order of its benchmark tables (F1, Recall, Precision, mAP, mRR, NDCG)
AUTORAG_METRICS: dict[str, Callable[[GroundTruth, Sequence[str]], float]] = {
    "retrieval_f1": retrieval_f1,
    "retrieval_recall": retrieval_recall,
    "retrieval_precision": retrieval_precision,
    "retrieval_map": retrieval_map,
    "retrieval_mrr": retrieval_mrr,
    "retrieval_ndcg": retrieval_ndcg,
}


def groups_from_qrels(judgments: Mapping[str, int]) -> list[list[str]]:
    """AutoRAG ground truth for a plain qrels entry: every relevant document its own AND-group."""
    return [[doc] for doc, relevance in sorted(judgments.items()) if relevance > 0]


def autorag_means(
    ground_truth: Mapping[str, GroundTruth],
    ranked: Mapping[str, Sequence[str]],
    top_k: Sequence[int] = DEFAULT_TOP_K,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Every AutoRAG metric at every ``top_k``: ``(means, per_query)``, keys like ``retrieval_f1@3``.

    ``ranked[qid]`` is the retriever's list for the query in rank order; its first ``k`` ids are the
    list returned at ``top_k = k``. Queries whose ground truth is not :func:`scorable` are left out
    (AutoRAG's ``None``); a query missing from ``ranked`` retrieved nothing.

    Raises:
        ValueError: a cutoff below 1, or no scorable query.
    """
    if any(k < 1 for k in top_k):
        raise ValueError(f"top-k cutoffs must be at least 1, got {list(top_k)}")
    per_query: dict[str, dict[str, float]] = {}
    for qid, gt in ground_truth.items():
        if not scorable(gt):
            continue
        pred_all = list(ranked.get(qid, ()))
        per_query[qid] = {
            f"{name}@{k}": metric(gt, pred_all[:k]) for k in top_k for name, metric in AUTORAG_METRICS.items()
        }
    if not per_query:
        raise ValueError("no query has a usable retrieval_gt (every one is empty)")
    keys = next(iter(per_query.values())).keys()
    means = {key: math.fsum(row[key] for row in per_query.values()) / len(per_query) for key in keys}
    return means, per_query
