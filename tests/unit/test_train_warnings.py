"""``legalrag train`` says when the held-out split argues against using what it made."""

from __future__ import annotations

from legalrag.train.service import MIN_MEASURABLE_QUERIES, held_out_warnings, split_warnings


def _rows(**mrr: float) -> dict[str, dict[str, float]]:
    return {name.replace("_", "+"): {"mrr@10": value} for name, value in mrr.items()}


def test_no_warning_when_training_and_reranking_help() -> None:
    assert held_out_warnings(_rows(dense=0.5, tuned=0.6), _rows(dense=0.7, tuned=0.8, tuned_rerank=0.85)) == []


def test_a_worse_trained_model_and_a_harmful_reranker_are_both_named() -> None:
    found = held_out_warnings(_rows(dense=0.75, tuned=0.79), _rows(dense=0.70, tuned=0.80, tuned_rerank=0.26))
    assert len(found) == 2
    assert "below its base's (0.7500)" in found[0] and "0.7000" in found[0]
    assert "reranker lowers mrr@10" in found[1] and "0.8000 → 0.2600" in found[1] and "do not use it" in found[1]


def test_missing_rows_give_no_warning() -> None:
    assert held_out_warnings({}, _rows(tuned=0.8)) == []


def test_a_held_out_split_too_small_to_measure_is_named() -> None:
    (warning,) = split_warnings({"test_queries": 6})
    assert "6 queries" in warning and "too few to measure" in warning and "0.16" in warning
    assert split_warnings({"test_queries": MIN_MEASURABLE_QUERIES}) == []
