"""AutoRAG's retrieval metrics: AutoRAG's documented cases, and property tests against an independent
implementation (relevance matrices in numpy, a different computation of the same definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legalrag.eval.autorag_metrics import (
    AUTORAG_METRICS,
    autorag_means,
    groups_from_qrels,
    retrieval_f1,
    retrieval_map,
    retrieval_mrr,
    retrieval_ndcg,
    retrieval_precision,
    retrieval_recall,
    scorable,
)

# the cases of AutoRAG's own metric tests and docs: (ground truth, returned list, expected values)
CASES = [
    ([["test-1", "test-2"], ["test-3"]], ["test-1", "pred-1", "test-2", "pred-3"],
     {"recall": 0.5, "precision": 0.5, "f1": 0.5, "ndcg": 0.7039180890341347, "mrr": 0.5, "map": 5 / 12}),
    ([["test-4", "test-5"], ["test-6", "test-7"], ["test-8"]], ["test-6", "pred-5", "pred-6", "pred-7"],
     {"recall": 1 / 3, "precision": 0.25, "f1": 2 / 7, "ndcg": 0.3903800499921017, "mrr": 1 / 3, "map": 1 / 3}),
    ([["test-9", "test-10"]], ["test-9", "pred-0", "pred-8", "pred-9"],
     {"recall": 1.0, "precision": 0.25, "f1": 2 / 5, "ndcg": 0.6131471927654584, "mrr": 1.0, "map": 1.0}),
    ([["test-11"], ["test-12"], ["test-13"]], ["test-13", "test-12", "pred-10", "pred-11"],
     {"recall": 2 / 3, "precision": 0.5, "f1": 4 / 7, "ndcg": 0.7653606369886217, "mrr": 0.5, "map": 0.5}),
    ([["test-14"]], ["test-14", "pred-12"],
     {"recall": 1.0, "precision": 0.5, "f1": 2 / 3, "ndcg": 1.0, "mrr": 1.0, "map": 1.0}),
    ([["test-15"]], ["pred-15", "pred-16", "test-15"],
     {"recall": 1.0, "precision": 1 / 3, "f1": 0.5, "ndcg": 0.5, "mrr": 1 / 3, "map": 1 / 3}),
]  # fmt: skip
FUNCTIONS = {
    "recall": retrieval_recall,
    "precision": retrieval_precision,
    "f1": retrieval_f1,
    "ndcg": retrieval_ndcg,
    "mrr": retrieval_mrr,
    "map": retrieval_map,
}


@pytest.mark.parametrize("case", range(len(CASES)))
def test_autorag_documented_cases(case: int) -> None:
    gt, pred, expected = CASES[case]
    for name, value in expected.items():
        assert FUNCTIONS[name](gt, pred) == pytest.approx(value, rel=1e-9), name


def test_empty_ground_truth_has_no_value_and_is_left_out_of_means() -> None:
    assert not scorable([[]]) and not scorable([[""]]) and not scorable([]) and scorable([["a"]])
    truth = {"q1": [["a"]], "q2": [[]], "q3": [[""]]}
    means, per_query = autorag_means(truth, {"q1": ["a", "b"], "q2": ["x"], "q3": ["y"]}, top_k=[1, 2])
    assert set(per_query) == {"q1"}
    assert means["retrieval_precision@1"] == 1.0 and means["retrieval_precision@2"] == 0.5
    with pytest.raises(ValueError, match="no query"):
        autorag_means({"q": [[]]}, {})


def test_metrics_are_over_the_returned_list_at_each_top_k() -> None:
    means, _ = autorag_means({"q": [["b"]]}, {"q": ["a", "b", "c"]}, top_k=[1, 3])
    assert means["retrieval_recall@1"] == 0.0 and means["retrieval_recall@3"] == 1.0
    assert means["retrieval_precision@3"] == pytest.approx(1 / 3)
    assert list(means) == [f"{name}@{k}" for k in (1, 3) for name in AUTORAG_METRICS]


def test_plain_qrels_become_one_group_per_relevant_document() -> None:
    assert groups_from_qrels({"d2": 1, "d1": 2, "d0": 0}) == [["d1"], ["d2"]]


# -- an independent implementation: a (groups × positions) hit matrix --------------------------------
def reference(gt: list[list[str]], pred: list[str]) -> dict[str, float]:
    hits = np.array([[doc in group for doc in pred] for group in gt], dtype=float).reshape(len(gt), len(pred))
    found = hits.any(axis=1)
    recall = float(found.mean())
    union = {doc for group in gt for doc in group}
    precision = len([d for d in dict.fromkeys(pred) if d in union]) / len(pred) if pred else 0.0
    f1 = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    discounts = 1.0 / np.log2(np.arange(2, len(pred) + 2))
    relevant = hits.any(axis=0) if len(pred) else np.zeros(0)
    ideal = discounts[: min(sum(len(g) for g in gt), len(pred))]
    ndcg = float((relevant * discounts).sum() / ideal.sum()) if ideal.sum() > 0 else 0.0
    first = [int(np.argmax(row)) + 1 if row.any() else 0 for row in hits]
    mrr = sum(1.0 / r for r in first if r) / len(gt)
    ap = []
    for row in hits:
        ranks = np.flatnonzero(row)
        ap.append(float(np.mean(np.cumsum(row)[ranks] / (ranks + 1))) if ranks.size else 0.0)
    return {"recall": recall, "precision": precision, "f1": f1, "ndcg": ndcg, "mrr": mrr, "map": float(np.mean(ap))}


ids = st.sampled_from([f"d{i}" for i in range(8)])
ground_truths = st.lists(st.lists(ids, min_size=1, max_size=3), min_size=1, max_size=4)
returned = st.lists(ids, max_size=10)


@settings(max_examples=300, deadline=None)
@given(ground_truths, returned)
def test_property_matches_the_independent_implementation(gt: list[list[str]], pred: list[str]) -> None:
    expected = reference(gt, pred)
    for name, function in FUNCTIONS.items():
        value = function(gt, pred)
        assert math.isclose(value, expected[name], rel_tol=1e-9, abs_tol=1e-12), (name, gt, pred)
        # AutoRAG's NDCG counts a repeated id twice and can pass 1 then; a retriever's list has no repeats
        if len(set(pred)) == len(pred):
            assert 0.0 <= value <= 1.0 + 1e-12


@settings(max_examples=100, deadline=None)
@given(ground_truths, returned)
def test_inputs_are_not_mutated(gt: list[list[str]], pred: list[str]) -> None:
    before = ([list(g) for g in gt], list(pred))
    for function in FUNCTIONS.values():
        function(gt, pred)
    assert (gt, pred) == before
