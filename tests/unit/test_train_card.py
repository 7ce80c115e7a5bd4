"""The model card states the mining margin exactly as it was set."""

from __future__ import annotations

import pytest

from legalrag.train.card import model_card

METRICS = {"dense": {"mrr@10": 0.5}}


def _report(margin: float) -> dict:
    return {
        "model_name": "m",
        "base": "base",
        "distance": "Cosine",
        "before": METRICS,
        "after": METRICS,
        "eval_split": "test",
        "dataset": "d",
        "split_by": "query",
        "collection": "c",
        "sizes": {
            "train_pairs": 2,
            "train_queries": 2,
            "dev_queries": 1,
            "test_queries": 1,
            "corpus": 4,
            "leaks_removed": 0,
        },
        "negatives": {"negatives_per_pair": 1, "relative_margin": margin, "skipped_as_likely_positive": 0},
        "hyperparameters": {"epochs": 1},
    }


@pytest.mark.parametrize(("margin", "text"), [(0.025, "within 2.5% of"), (0.05, "within 5% of"), (0.0, "within 0% of")])
def test_the_card_prints_the_margin_exactly(margin: float, text: str) -> None:
    assert text in model_card(_report(margin))
