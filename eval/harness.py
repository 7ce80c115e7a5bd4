"""The evaluation harness: ingest a dataset's corpus through the normal pipeline, run its queries,
map chunk hits back to corpus documents, and score the ranking.

Chunk → document mapping: each document is ranked by its best chunk (no duplicates in the
list); the search goes deep enough that ``depth`` documents survive the de-duplication
(doubling the chunk depth while chunks are still coming back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from legalrag.eval.autorag_metrics import DEFAULT_TOP_K, autorag_means, groups_from_qrels
from legalrag.eval.datasets import EvalDataset
from legalrag.eval.metrics import DEFAULT_METRICS, evaluate, parse_metric, rank_documents
from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.search.searcher import MAX_K, Searcher

__all__ = ["COMPATS", "RunResult", "corpus_documents", "document_ranking", "run_queries", "score_run"]


def corpus_documents(dataset: EvalDataset) -> Iterator[SourceDocument]:
    """The corpus as documents whose ``doc_id`` is the corpus id (so hits map back directly)."""
    for doc_id, doc in dataset.corpus.items():
        yield SourceDocument(doc_id=doc_id, source=f"{dataset.name}:{doc_id}", text=doc.text, title=doc.title or None)


def document_ranking(searcher: Searcher, query: str, depth: int, *, mode: str | None = None) -> list[tuple[str, float]]:
    """The ``depth`` best documents for ``query``, each scored by its best chunk."""
    chunk_depth = max(depth * 2, 10)
    while True:
        hits = searcher.search(query, min(chunk_depth, MAX_K), mode=mode)
        ranked: dict[str, float] = {}
        for hit in hits:
            doc_id = str(hit.payload.get("doc_id"))
            if doc_id not in ranked:
                ranked[doc_id] = hit.score
        exhausted = len(hits) < min(chunk_depth, MAX_K) or chunk_depth >= MAX_K
        if len(ranked) >= depth or exhausted:
            return list(ranked.items())[:depth]
        chunk_depth *= 2


@dataclass(slots=True)
class RunResult:
    """The ranked run of one configuration, with timings."""

    name: str
    run: dict[str, list[tuple[str, float]]]
    latencies_ms: dict[str, float]
    metrics: dict[str, float] = field(default_factory=dict)
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms.values()) or [0.0]
        return {
            **self.metrics,
            "latency_ms_p50": lat[len(lat) // 2],
            "latency_ms_p95": lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))],
            "seconds": sum(lat) / 1000,
        }


def run_queries(
    searcher: Searcher,
    queries: Mapping[str, str],
    *,
    name: str,
    depth: int,
    mode: str | None = None,
    on_query: Callable[[], None] | None = None,
) -> RunResult:
    run: dict[str, list[tuple[str, float]]] = {}
    latencies: dict[str, float] = {}
    for qid, text in queries.items():
        started = time.perf_counter()
        run[qid] = document_ranking(searcher, text, depth, mode=mode)
        latencies[qid] = (time.perf_counter() - started) * 1000
        if on_query is not None:
            on_query()
    return RunResult(name=name, run=run, latencies_ms=latencies)


def required_depth(metrics: tuple[str, ...] | list[str]) -> int:
    return max(parse_metric(m)[1] for m in metrics)


#: the metric definitions a run can be scored with
COMPATS: tuple[str, ...] = ("st", "trec", "autorag")


def score_run(
    result: RunResult,
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    compat: str = "st",
    *,
    ground_truth: Mapping[str, Sequence[Sequence[str]]] | None = None,
    top_k: Sequence[int] = DEFAULT_TOP_K,
) -> RunResult:
    """Score ``result`` against ``qrels``.

    ``compat``: ``st`` (sentence-transformers) or ``trec`` definitions of ``metrics`` (see
    :mod:`legalrag.eval.metrics`), or ``autorag``: AutoRAG's six metrics at each of ``top_k`` over
    ``ground_truth`` (AND/OR groups; default: each relevant document its own group), see
    :mod:`legalrag.eval.autorag_metrics` (``metrics`` is then unused).
    """
    if compat not in COMPATS:
        raise InputError(f"metrics compat must be one of {', '.join(COMPATS)}, not {compat!r}")
    if compat == "autorag":
        truth = ground_truth or {qid: groups_from_qrels(j) for qid, j in qrels.items()}
        ranked = {qid: [doc for doc, _ in rank_documents(hits)] for qid, hits in result.run.items()}
        try:
            means, per_query = autorag_means(truth, ranked, top_k)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        result.metrics, result.per_query = means, per_query
        return result
    scored = evaluate(qrels, result.run, metrics=metrics, compat="trec" if compat == "trec" else "st")
    result.metrics = dict(scored.means)
    result.per_query = dict(scored.per_query)
    return result
