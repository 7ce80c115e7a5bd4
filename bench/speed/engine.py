"""Embedded engine benchmark: qdrant-edge (``EdgeStore``) against qdrant-client's local mode.

Both engines run through legalrag's own ``Store`` adapters, so the numbers are what users get:
``EdgeStore(path)`` against ``ClientStore(QdrantClient(path=...))`` (on-disk local mode, the
baseline). Each engine and size runs in its own subprocess (peak RSS is per engine), the reopen
in a second fresh one (its RSS is what a search process holding the collection costs).

Data is synthetic but shaped like ours: unit-norm float32 dense vectors drawn around cluster
centres (so an approximate index has structure to exploit), BM25-like sparse vectors (Zipf term
ids, ~60 distinct terms per chunk, term frequencies as values, Qdrant's IDF modifier), payloads
with ``doc_id``/``article``/``title``/``text`` (~600 chars) and legalrag's payload indexes.

Run::

    python -m bench.speed.engine --sizes 10000,100000 --baseline-max 10000 --json bench/results/engine.json

Ratios are edge ÷ local from the same run: above 1 is better for rates, below 1 for times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ENGINES = ("edge", "local")
COLLECTION = "bench"
VOCAB = 50_000
TOKENS_PER_CHUNK = 80  # ~60 distinct terms after Zipf repeats
CHUNKS_PER_DOC = 20
TITLES = 40
POINTS_PER_CLUSTER = 500
UUID_NS = uuid.UUID("0b6c1f1e-3c55-4f0c-9d4e-bbd0c3b2a001")


# -- synthetic data (deterministic per seed and batch, identical for both engines) ---------------
class Corpus:
    """Clustered dense vectors, Zipf sparse vectors and legal-looking payloads for ``size`` chunks.

    Example:
        >>> corpus = Corpus(size=1000, dim=16, seed=0)
        >>> len(next(corpus.batches(256)))
        256
    """

    def __init__(self, size: int, dim: int, seed: int) -> None:
        self.size, self.dim, self.seed = size, dim, seed
        rng = np.random.default_rng([seed, 0])
        self.clusters = max(8, size // POINTS_PER_CLUSTER)
        self.centers = rng.standard_normal((self.clusters, dim)).astype(np.float32)
        ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
        self.zipf = 1.0 / ranks**1.05
        self.zipf /= self.zipf.sum()
        self.words = _words(rng, VOCAB)

    def _dense(self, rng: np.random.Generator, clusters: np.ndarray) -> np.ndarray:
        vectors = self.centers[clusters] + rng.standard_normal((len(clusters), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def _terms(self, rng: np.random.Generator, clusters: np.ndarray, count: int) -> np.ndarray:
        """Zipf ranks, half of them shifted per cluster so topics differ between clusters."""
        ranks = rng.choice(VOCAB, size=(len(clusters), count), p=self.zipf)
        topical = rng.random((len(clusters), count)) < 0.5
        shifted = (ranks * 7919 + clusters[:, None] * 104_729) % VOCAB
        return np.where(topical, shifted, ranks)

    def batches(self, batch_size: int) -> Iterator[list[Any]]:
        """``PointRecord`` batches, built outside any timer."""
        from legalrag.plugin.schema import SparseVector
        from legalrag.plugin.store import PointRecord

        for start in range(0, self.size, batch_size):
            rng = np.random.default_rng([self.seed, 1, start])
            count = min(batch_size, self.size - start)
            clusters = rng.integers(0, self.clusters, count)
            dense = self._dense(rng, clusters)
            terms = self._terms(rng, clusters, TOKENS_PER_CHUNK)
            batch = []
            for row in range(count):
                i = start + row
                ids, tf = np.unique(terms[row], return_counts=True)
                batch.append(
                    PointRecord(
                        id=str(uuid.uuid5(UUID_NS, str(i))),
                        payload=self._payload(i, terms[row]),
                        dense=dense[row].tolist(),
                        sparse=SparseVector(ids.tolist(), tf.astype(float).tolist()),
                    )
                )
            yield batch

    def _payload(self, i: int, terms: np.ndarray) -> dict[str, Any]:
        doc = i // CHUNKS_PER_DOC
        return {
            "doc_id": f"law-{doc}",
            "title": f"법률 {doc % TITLES}",
            "article": f"제{i % CHUNKS_PER_DOC + 1}조",
            "chunk_index": i % CHUNKS_PER_DOC,
            "language": "ko",
            "source": f"corpus/law-{doc}.md",
            "text": " ".join(self.words[t] for t in terms),
        }

    def queries(self, count: int) -> list[tuple[list[float], Any, Any]]:
        """``count`` (dense, sparse, title filter) triples near random clusters."""
        from qdrant_client import models

        from legalrag.plugin.schema import SparseVector

        rng = np.random.default_rng([self.seed, 2])
        clusters = rng.integers(0, self.clusters, count)
        dense = self._dense(rng, clusters)
        terms = self._terms(rng, clusters, 6)
        out = []
        for row in range(count):
            ids = np.unique(terms[row])
            title = models.FieldCondition(key="title", match=models.MatchValue(value=f"법률 {row % TITLES}"))
            sparse = SparseVector(ids.tolist(), [1.0] * len(ids))
            out.append((dense[row].tolist(), sparse, models.Filter(must=[title])))
        return out


def _words(rng: np.random.Generator, count: int) -> list[str]:
    syllables = rng.integers(0xAC00, 0xD7A4, size=(count, 9))
    lengths = rng.integers(3, 10, size=count)
    return ["".join(map(chr, row[:n])) for row, n in zip(syllables, lengths, strict=True)]


# -- the engines ------------------------------------------------------------------------------------
def open_engine(engine: str, path: Path) -> Any:
    """The store users get for ``engine``: ``EdgeStore`` or ``ClientStore`` over on-disk local mode."""
    from legalrag.plugin.store import ClientStore, EdgeStore

    if engine == "edge":
        return EdgeStore(path)
    from qdrant_client import QdrantClient

    return ClientStore(QdrantClient(path=str(path)))


def _ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _percentiles(samples: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(samples, 50)), "p95": float(np.percentile(samples, 95))}


def _rss_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _request(limit: int, **fields: Any) -> Any:
    from legalrag.plugin.store import SearchRequest

    return SearchRequest(limit=limit, **fields)


def _load(store: Any, corpus: Corpus, batch_size: int) -> float:
    """Create the collection as legalrag does (payload indexes first), upsert, return seconds."""
    from legalrag.plugin.collection import INDEXED_KEYS
    from legalrag.plugin.store import CollectionSpec

    store.create_collection(COLLECTION, CollectionSpec(dense_size=corpus.dim))
    for key, schema in INDEXED_KEYS.items():
        store.create_payload_index(COLLECTION, key, schema)
    spent = 0.0
    for batch in corpus.batches(batch_size):
        spent += _ms(partial(store.upsert, COLLECTION, batch)) / 1000
    return spent


def _latencies(store: Any, queries: list[tuple[Any, Any, Any]], k: int) -> dict[str, Any]:
    modes = {
        "dense": lambda d, s, f: _request(k, dense=d),
        "sparse": lambda d, s, f: _request(k, sparse=s),
        "hybrid": lambda d, s, f: _request(k, dense=d, sparse=s, fusion="rrf"),
        "filtered": lambda d, s, f: _request(k, dense=d, filter=f),
    }
    out: dict[str, Any] = {}
    for mode, build in modes.items():
        requests = [build(*q) for q in queries]
        out[mode] = _percentiles([_ms(partial(store.query, COLLECTION, r)) for r in requests])
    return out


def _recall(store: Any, queries: list[tuple[Any, Any, Any]], k: int) -> float:
    """Mean overlap of the top ``k`` with the exact top ``k`` (dense), over up to 50 queries."""
    found = []
    for dense, _, _ in queries[:50]:
        approx = {h.id for h in store.query(COLLECTION, _request(k, dense=dense))}
        exact = {h.id for h in store.query(COLLECTION, _request(k, dense=dense, exact=True))}
        found.append(len(approx & exact) / k)
    return float(np.mean(found))


def run_load(engine: str, path: Path, size: int, dim: int, seed: int, queries: int, batch: int) -> dict:
    """Phase 1, in its own process: bulk load, query before and after ``optimize()``, close."""
    corpus = Corpus(size, dim, seed)
    probes = corpus.queries(queries)
    store = open_engine(engine, path)
    upsert_s = _load(store, corpus, batch)
    first = _ms(lambda: store.query(COLLECTION, _request(10, dense=probes[0][0])))
    warm = [_request(10, dense=d) for d, _, _ in probes[1:21]]
    before = _percentiles([_ms(partial(store.query, COLLECTION, r)) for r in warm])
    optimize_s = _ms(lambda: store.optimize(COLLECTION)) / 1000
    after = _ms(lambda: store.query(COLLECTION, _request(10, dense=probes[21][0])))
    result = {
        "points": store.count(COLLECTION),
        "upsert_s": upsert_s,
        "upsert_rate": size / upsert_s,
        "first_query_no_optimize_ms": first,
        "dense_no_optimize_ms": before,
        "optimize_s": optimize_s,
        "first_query_after_optimize_ms": after,
        "latency_ms": _latencies(store, probes, 10),
        "recall_at_10": _recall(store, probes, 10),
    }
    result["close_ms"] = _ms(store.close)
    result["peak_rss_mib"] = _peak_rss_mib()
    return result


def run_reopen(engine: str, path: Path, size: int, dim: int, seed: int) -> dict:
    """Phase 2, in a fresh process: open the stored collection and answer one query."""
    import qdrant_client  # noqa: F401 - imported before the baseline: only the open is measured

    import legalrag.plugin.store  # noqa: F401

    probe = Corpus(size, dim, seed).queries(1)[0][0]
    baseline = _rss_mib()
    started = time.perf_counter()
    store = open_engine(engine, path)
    store.query(COLLECTION, _request(10, dense=probe))
    open_ms = (time.perf_counter() - started) * 1000
    rss = _rss_mib() - baseline
    store.close()
    return {"open_first_query_ms": open_ms, "serving_rss_mib": rss}


# -- orchestration -----------------------------------------------------------------------------------
def _worker(argv: list[str]) -> None:
    warnings.filterwarnings("ignore")  # local mode warns that it is slow and ignores indexes
    phase, engine, path, size, dim, seed, queries, batch, out = argv
    args = (engine, Path(path), int(size), int(dim), int(seed))
    result = run_load(*args, int(queries), int(batch)) if phase == "load" else run_reopen(*args)
    Path(out).write_text(json.dumps(result), encoding="utf-8")


def _spawn(phase: str, engine: str, path: Path, opts: argparse.Namespace, size: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    values = (phase, engine, path, size, opts.dim, opts.seed, opts.queries, opts.batch_size, out)
    command = [sys.executable, "-m", __spec__.name, "--worker", *map(str, values)]
    try:
        subprocess.run(command, check=True, timeout=opts.timeout)
        return dict(json.loads(out.read_text(encoding="utf-8")))
    finally:
        out.unlink(missing_ok=True)


def _disk_mib(path: Path) -> float:
    """Blocks actually allocated (qdrant-edge preallocates sparse files; their size is not disk use)."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20


def bench_one(engine: str, size: int, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Load then reopen ``engine`` at ``size`` in two subprocesses; a failure is reported, not guessed."""
    path = workdir / f"{engine}-{size}"
    started = time.perf_counter()
    load_before = os.getloadavg()[0]  # the machine may be shared: record how busy it was
    try:
        result = _spawn("load", engine, path, opts, size)
        result["disk_mib"] = _disk_mib(path)
        result.update(_spawn("reopen", engine, path, opts, size))
        result["reopen_ms"] = result["close_ms"] + result["open_first_query_ms"]
        result["status"] = "ok"
    except subprocess.TimeoutExpired:
        result = {"status": f"timed out after {opts.timeout} s"}
    except subprocess.CalledProcessError as exc:
        result = {"status": f"failed (exit {exc.returncode})"}
    finally:
        shutil.rmtree(path, ignore_errors=True)
    result["wall_s"] = time.perf_counter() - started
    result["loadavg_1min"] = [load_before, os.getloadavg()[0]]
    print(f"# {engine} {size}: {result['status']} in {result['wall_s']:.0f} s", file=sys.stderr, flush=True)
    return result


ROWS: list[tuple[str, Callable[[dict], float], str]] = [
    ("upsert rate (points/s)", lambda r: r["upsert_rate"], "{:,.0f}"),
    ("first dense query after load, no optimize (ms)", lambda r: r["first_query_no_optimize_ms"], "{:.1f}"),
    ("dense p50 before optimize (ms)", lambda r: r["dense_no_optimize_ms"]["p50"], "{:.1f}"),
    ("optimize / index build (s)", lambda r: r["optimize_s"], "{:.1f}"),
    ("first dense query after optimize (ms)", lambda r: r["first_query_after_optimize_ms"], "{:.1f}"),
    *[
        (f"{mode} p{p} (ms)", lambda r, m=mode, q=p: r["latency_ms"][m][f"p{q}"], "{:.2f}")
        for mode in ("dense", "sparse", "hybrid", "filtered")
        for p in (50, 95)
    ],
    ("dense recall@10 vs exact", lambda r: r["recall_at_10"], "{:.3f}"),
    ("reopen: close + open + first query (ms)", lambda r: r["reopen_ms"], "{:.0f}"),
    ("peak RSS, load process (MiB)", lambda r: r["peak_rss_mib"], "{:,.0f}"),
    ("RSS added by open + first query (MiB)", lambda r: r["serving_rss_mib"], "{:,.0f}"),
    ("disk (MiB)", lambda r: r["disk_mib"], "{:,.0f}"),
]


def _cell(result: dict[str, Any], get: Callable[[dict], float], fmt: str) -> str:
    return fmt.format(get(result)) if result.get("status") == "ok" else str(result.get("status"))


def _ratio(results: dict[str, dict], get: Callable[[dict], float], label: str) -> str:
    if label.startswith("optimize"):
        return "n/a"
    edge, local = results.get("edge", {}), results.get("local", {})
    if edge.get("status") != "ok" or local.get("status") != "ok" or get(local) == 0:
        return "–"
    return f"{get(edge) / get(local):.3g}"


def markdown(results: dict[int, dict[str, dict]]) -> str:
    """One column per engine and size, then edge ÷ local for sizes where both ran."""
    header = ["metric"]
    for size in results:
        header += [f"edge {size:,}", f"local {size:,}", f"edge÷local {size:,}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, get, fmt in ROWS:
        cells = [label]
        for per_engine in results.values():
            cells += [_cell(per_engine.get(e, {"status": "pending"}), get, fmt) for e in ENGINES]
            cells.append(_ratio(per_engine, get, label))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "qdrant-edge-py": metadata.version("qdrant-edge-py"),
        "qdrant-client": metadata.version("qdrant-client"),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return _worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,300000", help="comma-separated chunk counts")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--baseline-max", type=int, default=None, help="largest size local mode runs at")
    parser.add_argument("--queries", type=int, default=200, help="queries per mode")
    parser.add_argument("--batch-size", type=int, default=256, help="points per upsert (ingest's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per subprocess")
    parser.add_argument("--workdir", type=Path, default=None, help="where stores are written (deleted after)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--render", type=Path, default=None, help="print a saved --json table")
    opts = parser.parse_args(argv)
    if opts.render is not None:
        saved = json.loads(opts.render.read_text(encoding="utf-8"))["results"]
        wanted = {int(s) for s in opts.sizes.split(",") if s}
        return print(markdown({int(size): r for size, r in saved.items() if int(size) in wanted}))
    if opts.queries < 22:
        parser.error("--queries must be at least 22 (20 are used before optimize)")
    sizes = [int(s) for s in opts.sizes.split(",") if s]
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="legalrag-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, dict]] = {}
    for size in sizes:
        results[size] = {}
        for engine in ENGINES:
            if engine == "local" and opts.baseline_max is not None and size > opts.baseline_max:
                results[size][engine] = {"status": "not run"}
                continue
            results[size][engine] = bench_one(engine, size, opts, workdir)
            _write_json(opts, argv, results)  # partial results survive an interrupted run
    print(markdown(results))
    _write_json(opts, argv, results)


def _write_json(opts: argparse.Namespace, argv: list[str], results: dict[int, dict[str, dict]]) -> None:
    if opts.json is None:
        return
    document = {
        "command": " ".join(["python", "-m", "bench.speed.engine", *argv]),
        "machine": machine(),
        "config": {k: str(v) for k, v in vars(opts).items()},
        "results": results,
        "table": markdown(results),
    }
    opts.json.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
