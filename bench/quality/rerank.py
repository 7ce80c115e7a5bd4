"""Train a reranker on a finished ``bench.quality.train`` run's saved hard negatives and report it on test.

``python -m bench.quality.train --work DIR`` leaves the trained model (``DIR/<name>-trained`` with its
``hard_negatives.jsonl``) and its collection (``DIR/store``, ``<name>-trained``). This trains
:func:`legalrag.train.fit.fit_reranker` (the code ``legalrag train --reranker`` runs) from ``--base`` on that
table's first ``--negatives`` hard negatives per pair (plus the one random other positive it always adds),
then evaluates the test split over the trained collection as ``legalrag train`` does: dense, sparse, the
hybrid re-tuned on dev, and the reranker over the tuned hybrid's top 50. ``fsc/opinions`` is never read.

    python -m bench.quality.rerank --run /work/train_e5_neg3_e2 --base /models/e5-small --negatives 2

A reranker trained elsewhere (on a GPU machine, say) is read with ``--skip-train --output FOLDER``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import DATA


def main() -> None:
    from legalrag.eval.evaluation import evaluate_collection
    from legalrag.eval.options import EvalOptions
    from legalrag.plugin.components import load_dense
    from legalrag.plugin.settings import Settings
    from legalrag.train.data import prepare_data
    from legalrag.train.fit import FitOptions, fit_reranker
    from legalrag.train.mining import Mined, load_mined

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a python -m bench.quality.train --work folder")
    parser.add_argument("--name", default="e5-small", help="the model's name in that folder")
    parser.add_argument("--base", required=True, help="the model the reranker starts from")
    parser.add_argument("--data", type=Path, default=DATA / "law_qa")
    parser.add_argument("--train", type=int, default=3000, help="the --train the run used")
    parser.add_argument("--mined", type=int, default=3, help="hard negatives per pair the run mined")
    parser.add_argument("--relative-margin", type=float, default=0.02, help="the margin the run mined with")
    parser.add_argument("--negatives", type=int, default=2, help="hard negatives per pair used here")
    parser.add_argument("--max-seq-length", type=int, default=128, help="tokens per text (a pair: twice)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--output", type=Path, default=None, help="default: RUN/reranker-bench")
    parser.add_argument("--skip-train", action="store_true", help="evaluate the reranker already in --output")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    trained = args.run / f"{args.name}-trained"
    output = args.output or args.run / "reranker-bench"
    data = prepare_data(args.data, max_pairs=args.train)
    loaded = load_mined(trained, data.pairs, count=args.mined, relative_margin=args.relative_margin)
    if loaded is None:
        sys.exit(f"{trained} holds no mined table for these pairs and settings (--train, --mined, --relative-margin)")
    mined = [Mined(m.pair, m.negatives[: args.negatives]) for m in loaded[0]]
    started = time.perf_counter()
    losses: list[float] = []
    if not args.skip_train:
        options = FitOptions(
            max_seq_length=args.max_seq_length, learning_rate=args.learning_rate, mini_batch_size=args.batch_size,
            epochs=args.epochs, device="cpu", logging_steps=20, save_steps=100_000, show_progress=True,
        )  # fmt: skip
        history = fit_reranker(args.base, mined, output, options)
        losses = [row["loss"] for row in history if "loss" in row]
    train_s = time.perf_counter() - started
    settings = Settings(qdrant_path=args.run / "store", device="cpu", model=str(trained),
                        collection=f"law-{args.name}-trained")  # fmt: skip
    options = EvalOptions(modes=("dense", "sparse", "hybrid"), exact=True, tune=True, rerank=str(output),
                          rerank_rows=("tuned",))  # fmt: skip
    report = evaluate_collection(data.test, options, settings=settings, tune_data=data.dev, dense=load_dense(settings))
    mrr = {
        k: round(v["mrr@10"], 4) for k, v in report.summaries.items() if k.split("+")[0] in ("dense", "sparse", "tuned")
    }
    result = {
        "pairs": len(mined), "rows": sum(len(m.negatives) + 2 for m in mined), "test_mrr@10": mrr,
        "rerank_gain": round(mrr["tuned+rerank"] - mrr["tuned"], 4), "loss_first_last": losses[:1] + losses[-1:],
        "train_s": round(train_s), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "args": {k: str(v) for k, v in vars(args).items()},
    }  # fmt: skip
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
