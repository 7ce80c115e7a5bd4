"""Identical calls give identical results, and hits tied at the cut are ordered by id."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from legalrag.plugin.schema import SparseVector
from legalrag.plugin.search.searcher import SearchConfig, Searcher
from legalrag.plugin.store import ClientStore, CollectionSpec, EdgeStore, PointRecord, Store

DIM = 4


class _Fixed:
    """A dense model that maps every query to the same vector: every stored point below ties."""

    name, dimension, distance, max_seq_length, tokenizer = "fixed", DIM, "Cosine", 16, None

    def encode_queries(self, texts: list[str]) -> object:
        import numpy as np

        return np.ones((len(texts), DIM), dtype=np.float32)

    def encode_documents(self, texts: list[str]) -> object:
        return self.encode_queries(texts)


class _Terms:
    def encode_query(self, text: str) -> SparseVector:
        return SparseVector([7], [1.0])


def _store(kind: str, tmp_path: Path) -> Store:
    return EdgeStore(tmp_path / "q") if kind == "edge" else ClientStore(QdrantClient(":memory:"))


@pytest.mark.parametrize("kind", ["edge", "client"])
@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_tied_scores_are_cut_by_id(kind: str, mode: str, tmp_path: Path) -> None:
    store = _store(kind, tmp_path)
    store.create_collection("laws", CollectionSpec(dense_size=DIM))
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"tie-{i}")) for i in range(40)]
    # written in reverse id order, so an engine's own order is not the id order
    points = [PointRecord(i, {"n": n}, [1.0] * DIM, SparseVector([7], [1.0])) for n, i in enumerate(ids)]
    store.upsert("laws", sorted(points, key=lambda p: p.id, reverse=True))
    for fusion in ("rrf", "dbsf"):
        searcher = Searcher(store, "laws", _Fixed(), _Terms(), config=SearchConfig(mode=mode, fusion=fusion))
        results = [[h.id for h in searcher.search("같은 질문", 5)] for _ in range(6)]
        assert all(r == results[0] for r in results)  # identical calls, identical results
        scores = [h.score for h in searcher.search("같은 질문", 5)]
        if len(set(scores)) == 1:  # all tied: the five smallest ids, not five the engine picked
            assert results[0] == sorted(ids)[:5], (mode, fusion)
    store.close()


class _InOrder:
    """A cross-encoder stand-in scoring candidates in the order they come: a reranker that agrees."""

    def predict(self, pairs: list[tuple[str, str]], **_: object) -> object:
        import numpy as np

        return -np.arange(len(pairs), dtype=np.float32)


class _Undecided:
    """A cross-encoder stand-in scoring every candidate the same."""

    def predict(self, pairs: list[tuple[str, str]], **_: object) -> object:
        import numpy as np

        return np.zeros(len(pairs), dtype=np.float32)


def _varied(store: Store, count: int) -> list[str]:
    """``count`` points with seeded random dense vectors and term weights, written in reverse id order."""
    import numpy as np

    rng = np.random.default_rng(7)
    store.create_collection("laws", CollectionSpec(dense_size=DIM))
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"varied-{i}")) for i in range(count)]
    points = [
        PointRecord(i, {"n": n, "text": f"조문 {n}"}, rng.normal(size=DIM).tolist(), SparseVector([7], [float(w)]))
        for n, (i, w) in enumerate(zip(ids, rng.uniform(0.1, 5.0, size=count), strict=True))
    ]
    store.upsert("laws", sorted(points, key=lambda p: p.id, reverse=True))
    return ids


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_a_reranker_rescores_the_searchers_own_best_candidates(fusion: str, tmp_path: Path) -> None:
    """Regression: with a reranker the search fetched 4k hits, so hybrid fusion ran over deeper prefetch
    lists and the candidates (and, with DBSF, their order) were not those the searcher returns without it;
    a reranker that agrees with the retriever changed the results."""
    from legalrag.plugin.search.rerank import Reranker

    store = EdgeStore(tmp_path / "q")
    _varied(store, 600)
    config = SearchConfig(mode="hybrid", fusion=fusion)
    plain = Searcher(store, "laws", _Fixed(), _Terms(), config=config)
    agreeing = Searcher(store, "laws", _Fixed(), _Terms(), config=config, reranker=Reranker(_InOrder(), top_n=50))
    for k in (50, 80):
        assert [h.id for h in agreeing.search("질문", k)] == [h.id for h in plain.search("질문", k)], k
    store.close()


def test_candidates_a_reranker_cannot_tell_apart_keep_the_retrievers_order(tmp_path: Path) -> None:
    """Regression: hits the reranker scored the same were put in id order, discarding the retriever's."""
    from legalrag.plugin.search.rerank import Reranker

    store = EdgeStore(tmp_path / "q")
    ids = _varied(store, 60)
    plain = Searcher(store, "laws", _Fixed(), _Terms(), config=SearchConfig(mode="hybrid"))
    undecided = Searcher(
        store, "laws", _Fixed(), _Terms(), config=SearchConfig(mode="hybrid"), reranker=Reranker(_Undecided(), top_n=20)
    )
    expected = [h.id for h in plain.search("질문", 30)]
    assert expected[:20] != sorted(expected[:20])  # the retriever's order is not the id order
    assert [h.id for h in undecided.search("질문", 30)] == expected
    assert set(expected) <= set(ids)
    store.close()


def test_a_reranked_list_stays_sorted_by_score(tmp_path: Path) -> None:
    """Regression: the hits after ``top_n`` kept the retriever's scores, on another scale than the
    reranker's (DBSF's reach 2, a sigmoid 1), so whatever sorted the list by score put them first: the
    metrics do, and a trained reranker's tuned+rerank row read MRR@10 0.0."""
    from legalrag.eval.metrics import rank_documents
    from legalrag.plugin.search.rerank import Reranker

    store = EdgeStore(tmp_path / "q")
    _varied(store, 120)
    config = SearchConfig(mode="hybrid", fusion="dbsf")
    plain = Searcher(store, "laws", _Fixed(), _Terms(), config=config)
    agreeing = Searcher(store, "laws", _Fixed(), _Terms(), config=config, reranker=Reranker(_InOrder(), top_n=20))
    hits = agreeing.search("질문", 60)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert [h.id for h in hits] == [h.id for h in plain.search("질문", 60)]
    # what the metrics rank by: score, then id
    assert [d for d, _ in rank_documents([(h.id, h.score) for h in hits])] == [h.id for h in hits]
    store.close()
