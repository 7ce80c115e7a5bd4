"""Hard negatives mined through the collection, with the searcher users query with.

For every training query the collection is searched in hybrid mode (BM25 and the base model, fused as
users get them) and the documents ranked by their best chunk. A candidate is a hard negative unless it
is a positive, or scores too close to the positive to be trusted as a negative: as sentence-transformers'
``mine_hard_negatives`` does with ``relative_margin``, the base model's cosine between the query and the
candidate must stay below ``(1 - relative_margin)`` times its cosine with the positive (unlabelled
relevant documents are the usual false negatives of a legal Q&A set: two interpretations answering the
same question). The first ``count`` that pass are kept, in search order. A pair whose candidates are
all too close (common with a model whose cosines crowd together, such as E5's) gets random documents
of the corpus instead, so that every row keeps its negative columns (the trainer's table has fixed
columns: one short row would otherwise drop the hard negatives of every pair).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from legalrag.eval.datasets import EvalDataset
from legalrag.eval.harness import document_ranking
from legalrag.plugin.models.protocol import DenseModel
from legalrag.plugin.search.searcher import Searcher
from legalrag.train.data import Mined, Pair

__all__ = ["Mined", "load_mined", "mine_negatives", "save_mined"]

#: documents searched per query for negatives
CANDIDATES = 30
#: the mined training table and its statistics, in the trained model's folder
ROWS_FILE = "hard_negatives.jsonl"
STATS_FILE = "hard_negatives.json"


def mine_negatives(
    pairs: Sequence[Pair],
    searcher: Searcher,
    dense: DenseModel,
    data: EvalDataset,
    *,
    count: int,
    relative_margin: float = 0.05,
    seed: int = 13,
    on_query: Callable[[], None] | None = None,
) -> tuple[list[Mined], dict[str, float]]:
    """``count`` hard negatives per pair from ``searcher``'s collection; returns them and mining statistics.

    ``data`` holds the corpus texts and every query's relevant documents (a document relevant to the
    query is never its negative, whatever the pair).
    """
    positives: dict[str, set[str]] = {}
    for pair in pairs:
        positives.setdefault(pair.query_id, set()).add(pair.doc_id)
        positives[pair.query_id].update(d for d, r in data.qrels.get(pair.query_id, {}).items() if r > 0)
    candidates: list[list[str]] = []
    for pair in pairs:  # the searches first; then every document is encoded once, not once per query
        ranked = [doc for doc, _ in document_ranking(searcher, pair.query, CANDIDATES, mode="hybrid")]
        candidates.append([doc for doc in ranked if doc not in positives[pair.query_id] and doc in data.corpus])
        if on_query is not None:
            on_query()
    needed = sorted({d for found in candidates for d in found} | {p.doc_id for p in pairs})
    vectors = dict(zip(needed, _unit(dense.encode_documents([_text(data, d) for d in needed])), strict=True))
    queries = _unit(dense.encode_queries([p.query for p in pairs]))
    mined: list[Mined] = []
    skipped_close = found_short = padded = 0
    rng = random.Random(seed)
    corpus = sorted(data.corpus)
    for pair, query, found in zip(pairs, queries, candidates, strict=True):
        ceiling = (1.0 - relative_margin) * float(query @ vectors[pair.doc_id])
        kept: list[str] = []
        close: set[str] = set()
        for doc in found:
            if len(kept) == count:
                break
            if float(query @ vectors[doc]) >= ceiling:
                skipped_close += 1
                close.add(doc)
                continue
            kept.append(_text(data, doc))
        if len(kept) < count:  # every candidate too close: random documents keep the row's negative columns
            found_short += 1
            padding = _random_documents(rng, corpus, count - len(kept), positives[pair.query_id] | close | set(found))
            padded += len(padding)
            kept.extend(_text(data, doc) for doc in padding)
        mined.append(Mined(pair, tuple(kept)))
    stats = {
        "negatives_per_pair": count,
        "relative_margin": relative_margin,
        "skipped_as_likely_positive": skipped_close,
        "pairs_with_fewer_negatives": found_short,
        "random_negatives": padded,
    }
    return mined, stats


def _random_documents(rng: random.Random, corpus: Sequence[str], count: int, excluded: set[str]) -> list[str]:
    """Up to ``count`` distinct documents of ``corpus`` outside ``excluded``, drawn with ``rng``."""
    chosen: list[str] = []
    for _ in range(20 * count):  # a few misses are expected; a corpus of only positives gives up
        if len(chosen) == count:
            break
        doc = corpus[rng.randrange(len(corpus))]
        if doc not in excluded and doc not in chosen:
            chosen.append(doc)
    return chosen


def save_mined(folder: Path, mined: Sequence[Mined], stats: dict[str, Any]) -> None:
    """Write the training table with its negatives (``hard_negatives.jsonl``, one pair per line) and the
    mining statistics (``hard_negatives.json``) into ``folder``: what the model was trained on, published
    with it, and what ``resume`` trains on again without searching."""
    fields = ("query_id", "doc_id", "query", "positive")
    rows = (
        json.dumps({**{f: getattr(m.pair, f) for f in fields}, "negatives": list(m.negatives)}, ensure_ascii=False)
        for m in mined
    )
    (folder / ROWS_FILE).write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    (folder / STATS_FILE).write_text(json.dumps({**stats, "pairs": len(mined)}, indent=2), encoding="utf-8")


def load_mined(
    folder: Path, pairs: Sequence[Pair], *, count: int, relative_margin: float
) -> tuple[list[Mined], dict[str, Any]] | None:
    """The negatives :func:`save_mined` wrote for exactly these ``pairs`` and mining settings, else ``None``."""
    try:
        stats = json.loads((folder / STATS_FILE).read_text(encoding="utf-8"))
        lines = (folder / ROWS_FILE).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None
    same = stats.get("negatives_per_pair") == count and stats.get("relative_margin") == relative_margin
    keys = [(p.query_id, p.doc_id, p.query, p.positive) for p in pairs]
    if not same or keys != [(r.get("query_id"), r.get("doc_id"), r.get("query"), r.get("positive")) for r in rows]:
        return None
    mined = [Mined(p, tuple(str(n) for n in row.get("negatives", []))) for p, row in zip(pairs, rows, strict=True)]
    return mined, {k: v for k, v in stats.items() if k != "pairs"}


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def _text(data: EvalDataset, doc_id: str) -> str:
    doc = data.corpus[doc_id]
    return f"{doc.title}\n{doc.text}" if doc.title else doc.text
