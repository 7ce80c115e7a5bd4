"""The default search of an untuned collection, chosen without labels when an ingest changed it.

Measured on three Korean datasets × three dense models (docs/benchmarks/default-search.md), DBSF
fusion stays near or above the better single mode, where equal-weight RRF (k=60) fell to half of it with
a dense model that does not read the corpus's language (MiniLM on Korean). DBSF lost
only there: when the dense side is noise, fusion still mixes noise in. So after an ingest,
:func:`choose_default` checks the dense model on the collection itself, with no one writing a query:

* pseudo-queries: from up to :data:`SAMPLE` stored chunks (a fixed seed), the middle half of one of
  the chunk's sentences; the answer is that chunk (documents would be too coarse in a small
  collection: with two laws, a random ranking finds the right one half the time);
* each is searched dense-only and sparse-only (MRR@10 over chunks);
* if the dense model finds the documents at least :data:`COMPETENT` times as well as BM25, the default
  is hybrid with DBSF fusion; otherwise it is sparse only.

Verbatim spans favour BM25, so the check asks only "does the dense model read this corpus at all",
not which mode is better: a model that reads the language scores 0.8–0.9 of BM25 here, one that does
not scores 0.2. The choice, its evidence and ``tuned_by: "ingest"`` are stored with the collection;
``legalrag eval --tune`` (labelled queries) replaces it and is never overwritten by an ingest.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.store.base import Hit, SearchRequest, Store

if TYPE_CHECKING:
    from legalrag.plugin.models.protocol import DenseModel
    from legalrag.plugin.text.bm25 import BM25Encoder

__all__ = ["COMPETENT", "SAMPLE", "TUNED_BY_EVAL", "DefaultChoice", "choose_default", "pseudo_queries"]

#: the provenance ``legalrag eval --tune`` stores with its choice: an ingest never replaces it
TUNED_BY_EVAL = "eval --tune"

#: chunks sampled for pseudo-queries
SAMPLE = 100
#: dense MRR at least this share of BM25's: the dense model reads the corpus, fuse with DBSF
COMPETENT = 0.5
_SENTENCE = re.compile(r"(?<=[.?!。다요])\s+")
_MIN_QUERIES = 5


@dataclass(frozen=True, slots=True)
class DefaultChoice:
    """The chosen default and the measurements behind it."""

    mode: str
    fusion: str
    queries: int
    dense_mrr: float
    sparse_mrr: float

    def as_metadata(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "fusion": self.fusion,
            "rrf_k": 60,
            "weights": None,
            "prefetch_limit": None,
            "tuned_by": "ingest",
            "label_free": {"queries": self.queries, "dense_mrr": self.dense_mrr, "sparse_mrr": self.sparse_mrr},
        }


def pseudo_queries(chunks: Sequence[Hit], *, sample: int = SAMPLE, seed: int = 0) -> list[tuple[str, str]]:
    """``(query, chunk id)``: the middle half of a random sentence from each of up to ``sample`` chunks.

    >>> hit = Hit("1", 0.0, {"doc_id": "d", "text": "제1조 이 법은 개인정보의 처리 및 보호에 관한 사항을 정한다."})
    >>> pseudo_queries([hit])
    [('법은 개인정보의 처리 및 보호에', '1')]
    """
    rng = random.Random(seed)
    order = list(range(len(chunks)))
    rng.shuffle(order)
    out: list[tuple[str, str]] = []
    for index in order:
        payload = chunks[index].payload
        sentences = [s.strip() for s in _SENTENCE.split(str(payload.get(TEXT_KEY, ""))) if 20 <= len(s.strip()) <= 300]
        if not sentences:
            continue
        words = rng.choice(sentences).split()
        if len(words) < 4:
            continue
        size = max(3, len(words) // 2)
        start = (len(words) - size) // 2
        out.append((" ".join(words[start : start + size]), chunks[index].id))
        if len(out) >= sample:
            break
    return out


def choose_default(
    store: Store, collection: str, dense: DenseModel, sparse: BM25Encoder, *, tenant_filter: Any = None
) -> DefaultChoice | None:
    """Measure the dense model on pseudo-queries and pick the collection's default (``None``: too few chunks)."""
    chunks = []
    for hit in store.scroll(collection, tenant_filter):
        chunks.append(hit)
        if len(chunks) >= SAMPLE * 20:  # plenty to sample from, without reading a huge collection
            break
    queries = pseudo_queries(chunks)
    if len(queries) < _MIN_QUERIES:
        return None
    texts = [q for q, _ in queries]
    vectors = dense.encode_queries(texts)
    dense_rr = []
    sparse_rr = []
    for (text, chunk_id), vector in zip(queries, vectors, strict=True):
        dense_hits = store.query(collection, SearchRequest(limit=10, dense=vector.tolist(), filter=tenant_filter))
        sparse_hits = store.query(
            collection, SearchRequest(limit=10, sparse=sparse.encode_query(text), filter=tenant_filter)
        )
        dense_rr.append(_reciprocal_rank(dense_hits, chunk_id))
        sparse_rr.append(_reciprocal_rank(sparse_hits, chunk_id))
    dense_mrr = sum(dense_rr) / len(dense_rr)
    sparse_mrr = sum(sparse_rr) / len(sparse_rr)
    competent = dense_mrr >= COMPETENT * sparse_mrr
    return DefaultChoice(
        mode="hybrid" if competent else "sparse",
        fusion="dbsf",
        queries=len(queries),
        dense_mrr=round(dense_mrr, 4),
        sparse_mrr=round(sparse_mrr, 4),
    )


def _reciprocal_rank(hits: Sequence[Hit], chunk_id: str) -> float:
    """1/rank of chunk ``chunk_id`` in ``hits`` (0 when absent)."""
    return next((1.0 / rank for rank, hit in enumerate(hits, 1) if hit.id == chunk_id), 0.0)
