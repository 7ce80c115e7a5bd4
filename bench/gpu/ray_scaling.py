"""The Ray engine over a machine's GPUs: ingest throughput with 1 GPU worker, then one per GPU.

Builds a random-weight model with BGE-M3's architecture (568M parameters; nothing from the hub), starts a
local Ray cluster on the machine, and ingests the same corpus into a fresh embedded store twice through
``IngestOptions(engine="ray")``: ``--workers 1`` and ``--workers <GPUs>``, one GPU each. Prints one JSON
document: tokens/s and chunks/s of each run's pipeline (listing, loading, chunking, embedding and writing;
model load and index build excluded) and the scaling efficiency ``rate(all) / (GPUs × rate(1))``.

    python -m bench.gpu.ray_scaling --corpus .gpu_corpus            # on a multi-GPU machine
    python -m bench.gpu.ray_scaling --device cpu --tiny --workers 2  # the same code on CPUs, toy sizes
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.gpu.check import SIZES


def _corpus(given: Path | None, max_mb: float) -> list[Path]:
    if given is not None:
        return [given]
    from bench.common import legal_files

    return legal_files(max_mb)


def _run(paths: list[Path], model: Path, workers: int, gpus: float, device: str, folder: Path) -> dict[str, Any]:
    from legalrag import IngestOptions, Settings, ingest_paths

    settings = Settings(model=str(model), device=device, qdrant_path=folder, collection="bench")
    options = IngestOptions(engine="ray", workers=workers, gpus_per_worker=gpus, sparse=False, chunks_per_batch=512)
    began = time.perf_counter()
    report = ingest_paths(paths, options, settings=settings)
    return {
        "workers": workers,
        "chunks": report.chunks,
        "tokens": report.tokens,
        "pipeline_s": round(report.seconds, 2),
        "total_s": round(time.perf_counter() - began, 2),
        "chunks_per_s": round(report.chunks / report.seconds, 1),
        "tokens_per_s": round(report.tokens / report.seconds, 1),
        "failed": len(report.failed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="a folder of files (default: card-legal-data statutes)")
    parser.add_argument("--max-mb", type=float, default=20.0, help="corpus sample size without --corpus")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="toy model sizes (a CPU smoke run)")
    parser.add_argument("--workers", type=int, help="workers of the second run (default: one per GPU)")
    args = parser.parse_args()

    import ray

    from tests.helpers.tiny_models import build_tiny_bge_m3

    # the workers import legalrag from where this process does (a copied checkout's site folder)
    ray.init(include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    gpus = int(ray.cluster_resources().get("GPU", 0))
    on_gpu = args.device != "cpu"
    if on_gpu and gpus < 1:
        raise SystemExit("no GPU in the Ray cluster: use --device cpu --tiny for a smoke run")
    many = args.workers or max(gpus, 1)
    paths = _corpus(args.corpus, args.max_mb)
    results: dict[str, Any] = {"gpus": gpus, "device": args.device, "tiny": args.tiny}
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_bge_m3(Path(tmp) / "model", **SIZES["bge-m3"]["tiny" if args.tiny else "full"])
        per_worker = 1.0 if on_gpu else 0.0
        runs = [_run(paths, model, n, per_worker, args.device, Path(tmp) / f"store-{n}") for n in (1, many)]
    ray.shutdown()
    one, all_ = runs
    results["runs"] = runs
    results["scaling"] = round(all_["tokens_per_s"] / (many * one["tokens_per_s"]), 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
