"""The label-free default: pseudo-queries from stored chunks, and the competence gate."""

from __future__ import annotations

from typing import Any

import numpy as np

from legalrag.plugin.search.defaults import COMPETENT, DefaultChoice, choose_default, pseudo_queries
from legalrag.plugin.store.base import Hit, SearchRequest


def _hit(i: int, text: str, doc: str | None = None) -> Hit:
    return Hit(str(i), 0.0, {"doc_id": doc or f"d{i}", "text": text})


def test_pseudo_queries_are_deterministic_middle_spans_of_sentences() -> None:
    text = "제{i}조 이 법은 개인정보의 처리 및 보호에 관한 사항을 정한다. 짧다. {i}번째 조문은 다른 내용을 규정한다."
    chunks = [_hit(i, text.format(i=i)) for i in range(30)]
    first, again = pseudo_queries(chunks, sample=10), pseudo_queries(chunks, sample=10)
    assert first == again and len(first) == 10
    for query, chunk_id in first:
        text = next(h.payload["text"] for h in chunks if h.id == chunk_id)
        assert query in text and 3 <= len(query.split()) < len(text.split())
    assert pseudo_queries([_hit(0, "짧다."), _hit(1, "")]) == []  # nothing usable: no query


class _Dense:
    """Encodes query i as (i, 0, 0, 0), so the fake store can tell which query it is asked."""

    name = "fake"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.texts = list(texts)
        return np.array([[i, 0, 0, 0] for i in range(len(texts))], dtype=np.float32)


class _Sparse:
    def encode_query(self, text: str) -> Any:
        return text  # the fake store reads the words back


class _Store:
    """Ranks chunks by word overlap with the query; a dense model that cannot read returns them in reverse."""

    def __init__(self, chunks: list[Hit], dense: _Dense, *, dense_reads: bool) -> None:
        self.chunks, self.dense, self.dense_reads = chunks, dense, dense_reads

    def scroll(self, name: str, filter: Any = None) -> Any:
        return iter(self.chunks)

    def query(self, name: str, request: SearchRequest) -> list[Hit]:
        if request.dense is not None:
            if not self.dense_reads:
                return list(reversed(self.chunks))[: request.limit]
            text = self.dense.texts[int(request.dense[0])]
        else:
            text = str(request.sparse)
        words = set(text.split())
        return sorted(self.chunks, key=lambda h: -len(words & set(h.payload["text"].split())))[: request.limit]


def _corpus() -> list[Hit]:
    return [
        _hit(i, f"제{i}조 규정{i} 이 조문은 항목{i}에 관한 특별한 사항{i}을 정하고 그 절차{i}를 규정한다.")
        for i in range(40)
    ]


def test_a_dense_model_that_cannot_read_the_corpus_gets_sparse_only() -> None:
    dense = _Dense()
    store = _Store(_corpus(), dense, dense_reads=False)
    choice = choose_default(store, "c", dense, _Sparse())  # type: ignore[arg-type]
    assert isinstance(choice, DefaultChoice)
    assert choice.mode == "sparse" and choice.dense_mrr < COMPETENT * choice.sparse_mrr
    assert choice.as_metadata()["tuned_by"] == "ingest" and choice.as_metadata()["label_free"]["queries"] > 5


def test_a_competent_dense_model_gets_dbsf_hybrid() -> None:
    dense = _Dense()
    store = _Store(_corpus(), dense, dense_reads=True)
    choice = choose_default(store, "c", dense, _Sparse())  # type: ignore[arg-type]
    assert choice is not None and choice.mode == "hybrid" and choice.fusion == "dbsf"


def test_too_small_a_collection_keeps_what_it_has() -> None:
    dense = _Dense()
    store = _Store([_hit(0, "짧다.")], dense, dense_reads=True)
    assert choose_default(store, "c", dense, _Sparse()) is None  # type: ignore[arg-type]
