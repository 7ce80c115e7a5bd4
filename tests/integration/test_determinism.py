"""Identical calls give identical results, and hits tied at the cut are ordered by id (issue 13)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from legalrag.plugin.schema import SparseVector
from legalrag.plugin.search import SearchConfig, Searcher
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
