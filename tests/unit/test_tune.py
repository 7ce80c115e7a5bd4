"""Fusion tuning with a fake evaluator: the choice is never below the best single mode, ties are
deterministic, and the winner is stored where ``SearchConfig.from_metadata`` reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legalrag.eval.tune import (
    describe,
    fusion_grid,
    store_tuned,
    tune,
)
from legalrag.plugin.errors import InputError
from legalrag.plugin.search.searcher import SearchConfig


def fake(scores: Mapping[str, float], default: float = 0.0) -> Any:
    """An evaluator that looks the configuration's label up in ``scores``."""
    calls: list[str] = []

    def evaluate(config: SearchConfig) -> dict[str, float]:
        calls.append(describe(config))
        return {"mrr@10": scores.get(describe(config), default), "ndcg@10": 0.0}

    evaluate.calls = calls  # type: ignore[attr-defined]
    return evaluate


def test_grid_covers_k_weights_and_dbsf_default_first() -> None:
    grid = fusion_grid()
    labels = [describe(c) for c in grid]
    assert labels[0] == "rrf k=60 w=1:1"
    assert labels[-1] == "dbsf"
    assert {c.rrf_k for c in grid if c.fusion == "rrf"} == {2, 10, 60}
    assert len(labels) == len(set(labels)) == 3 * 6 + 1
    assert all(c.mode == "hybrid" for c in grid)


def test_weak_fusion_loses_to_the_strong_single_mode() -> None:
    # a weak dense model's numbers: BM25 0.82, dense 0.50, equal-weight RRF 0.67-0.75
    result = tune(fake({"sparse": 0.82, "dense": 0.50, "rrf k=60 w=1:1": 0.70}, default=0.72))
    assert result.chosen.label == "sparse" and not result.fusion_wins
    assert result.chosen.config.mode == "sparse"
    assert result.best_fusion is not None and result.best_fusion.score == 0.72


def test_fusion_that_beats_the_best_single_mode_is_chosen() -> None:
    result = tune(fake({"sparse": 0.82, "dense": 0.50, "rrf k=10 w=1:4": 0.85}, default=0.7))
    assert result.fusion_wins
    assert result.chosen.config == SearchConfig(mode="hybrid", fusion="rrf", rrf_k=10, weights=(1.0, 4.0))
    assert result.as_dict()["chosen"]["label"] == "rrf k=10 w=1:4"


def test_ties_prefer_single_modes_then_grid_order() -> None:
    tie = tune(fake({"sparse": 0.8, "dense": 0.5}, default=0.8))
    assert tie.chosen.label == "sparse"  # a fusion must beat the single mode strictly
    both = tune(fake({"sparse": 0.8, "dense": 0.8}, default=0.1))
    assert both.chosen.label == "dense"  # singles in their given order
    grid = tune(fake({"sparse": 0.1, "dense": 0.1}, default=0.9))
    assert grid.chosen.label == "rrf k=60 w=1:1"  # first of the grid


def test_every_configuration_is_evaluated_once_singles_first() -> None:
    evaluate = fake({})
    result = tune(evaluate)
    assert evaluate.calls[:2] == ["dense", "sparse"]
    assert len(evaluate.calls) == len(result.trials) == 2 + len(fusion_grid())


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=21, max_size=21))
def test_chosen_is_never_below_the_best_single(scores: list[float]) -> None:
    labels = ["dense", "sparse", *(describe(c) for c in fusion_grid())]
    result = tune(fake(dict(zip(labels, scores, strict=True))))
    assert result.chosen.score >= max(scores[:2])
    assert result.chosen.score == max(scores)
    assert result.as_dict()["chosen_ge_best_single"]


def test_nan_counts_as_worst_and_bad_objectives_fail() -> None:
    result = tune(fake({"dense": float("nan"), "sparse": 0.3}, default=float("nan")))
    assert result.chosen.label == "sparse"
    with pytest.raises(InputError):
        tune(fake({}), objective="bogus@10")
    with pytest.raises(ValueError, match="recall@10"):
        tune(fake({}), objective="recall@10")  # the evaluator does not compute it


class MetadataStore:
    """Only what ``store_tuned`` touches: a merge into the collection's metadata."""

    def __init__(self) -> None:
        self.metadata: dict[str, dict[str, Any]] = {"laws": {"model": "m"}}

    def set_metadata(self, name: str, metadata: Mapping[str, Any]) -> None:
        self.metadata[name].update(metadata)


def test_the_winner_is_stored_where_search_config_reads_it() -> None:
    store = MetadataStore()
    chosen = tune(fake({"rrf k=2 w=1:8": 0.9}, default=0.1)).chosen.config
    store_tuned(store, "laws", chosen)  # type: ignore[arg-type]
    assert store.metadata["laws"]["model"] == "m"
    loaded = SearchConfig.from_metadata(store.metadata["laws"])
    assert (loaded.mode, loaded.fusion, loaded.rrf_k, loaded.weights) == ("hybrid", "rrf", 2, (1.0, 8.0))
    store_tuned(store, "laws", SearchConfig(mode="sparse"))  # type: ignore[arg-type]
    assert SearchConfig.from_metadata(store.metadata["laws"]).mode == "sparse"


def test_cached_queries_encode_each_query_once() -> None:
    import numpy as np

    from legalrag.plugin.models.protocol import CachedQueries, DenseModel

    class Counting:
        name, dimension, distance, max_seq_length, tokenizer = "counting", 4, "Cosine", 16, None
        calls = 0

        def encode_documents(self, texts: Any) -> np.ndarray:
            return np.array([[len(t), 1, 2, 3] for t in texts], dtype=np.float32)

        def encode_queries(self, texts: Any) -> np.ndarray:
            self.calls += len(texts)
            return np.array([[len(t), 0, 0, 1] for t in texts], dtype=np.float32)

    inner = Counting()
    cached = CachedQueries(inner)
    assert isinstance(cached, DenseModel)
    first, again = cached.encode_queries(["a", "bb"]), cached.encode_queries(["bb", "a", "a"])
    assert first.tolist() == inner.encode_queries(["a", "bb"]).tolist()
    assert again.tolist() == [first[1].tolist(), first[0].tolist(), first[0].tolist()]
    assert inner.calls == 2 + 2  # the cached pair once, plus the direct reference call
    assert cached.encode_documents(["a"]).tolist() == inner.encode_documents(["a"]).tolist()
    assert cached.encode_queries([]).shape == (0, 4)


def test_cached_query_embeddings_is_a_deprecated_alias() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    import legalrag.eval.tune as tune_module

    class Counting(DeterministicFakeEmbedding):
        calls: int = 0

        def embed_query(self, text: str) -> list[float]:
            self.calls += 1
            return super().embed_query(text)

    with pytest.warns(DeprecationWarning, match="CachedQueries"):
        cached_type = tune_module.CachedQueryEmbeddings
    inner = Counting(size=4)
    cached = cached_type(inner)
    assert cached.embed_query("a") == cached.embed_query("a") == inner.embed_query("a")
    assert inner.calls == 2
    assert cached.embed_documents(["a"]) == inner.embed_documents(["a"])
