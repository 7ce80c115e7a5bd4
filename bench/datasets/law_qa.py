"""A Korean financial-law Q&A set from FSC law interpretations (법령해석), split train/dev/test by query.

Each ``card_legal_data/fsc/law_interpretations/*.json`` holds an interpretation whose ``text`` has the
sections ``질의요지:`` (the question), ``회답:`` (the answer) and usually ``이유:`` (the reasoning), as the
FSS opinions of ``bench/datasets/fss_qa.py`` do. The question becomes a query, 회답 + 이유 its one relevant
passage. Queries are shuffled with a fixed seed and split into ``test`` and ``dev`` (``--test``,
``--dev`` queries each) and ``train`` (the rest, capped by ``--train``); the corpus holds the passages of
every split, plus ``--distractors`` passages of unused interpretations. Written as BEIR:
``corpus.jsonl``, ``queries.jsonl``, ``qrels/{train,dev,test}.tsv``.

``fsc/opinions/`` is never read: it is held out to check this project's work.

    python -m bench.datasets.law_qa --out bench/data/law_qa                  # 300 test, 300 dev, up to 3,000 train
    python -m bench.datasets.law_qa --out bench/data/law_qa_small --train 0 --dev 150 --test 150 --distractors 500
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from bench.common import DATA, corpus_root
from bench.datasets.fss_qa import parse_opinion

__all__ = ["HELD_OUT", "build", "interpretations"]

#: never read: the held-out check of this project's work
HELD_OUT = "fsc/opinions"
SOURCE = "fsc/law_interpretations"


def interpretations(source: str = SOURCE) -> list[tuple[str, str, str]]:
    """``(id, question, passage)`` of every usable interpretation under ``source``, in file order."""
    if source.rstrip("/") == HELD_OUT:
        raise SystemExit(f"{HELD_OUT} is held out: never train, tune or select anything on it")
    rows = []
    for path in sorted((corpus_root() / source).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        parsed = parse_opinion(str(record.get("text") or ""))
        if not isinstance(parsed, str):
            rows.append((path.stem, *parsed))
    return rows


def build(out: Path, *, test: int, dev: int, train: int, distractors: int, seed: int = 13) -> dict[str, Any]:
    """Write the BEIR folder; returns its counts."""
    rows = interpretations()
    random.Random(seed).shuffle(rows)
    parts = {"test": rows[:test], "dev": rows[test : test + dev], "train": rows[test + dev : test + dev + train]}
    used = test + dev + train
    extra = rows[used : used + distractors]
    corpus = [{"_id": f"li-{i}-a", "title": "", "text": p} for i, _, p in (*rows[:used], *extra)]
    queries = [{"_id": f"li-{i}", "text": q} for i, q, _ in rows[:used]]
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "corpus.jsonl", corpus)
    _write_jsonl(out / "queries.jsonl", queries)
    for split, members in parts.items():
        lines = ["query-id\tcorpus-id\tscore", *(f"li-{i}\tli-{i}-a\t1" for i, _, _ in members)]
        (out / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"corpus": len(corpus), **{split: len(members) for split, members in parts.items()}}


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DATA / "law_qa")
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--dev", type=int, default=300)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--distractors", type=int, default=0, help="passages of unused interpretations")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    counts = build(
        args.out, test=args.test, dev=args.dev, train=args.train, distractors=args.distractors, seed=args.seed
    )
    print(json.dumps({"out": str(args.out), **counts}))


if __name__ == "__main__":
    main()
