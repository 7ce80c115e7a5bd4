"""Which Chinese analyser BM25 should use, measured on JuDGE (public): case facts → criminal-law articles.

JuDGE (``oneal2000/Judge-R1`` on GitHub) ships ``data/law_corpus.jsonl`` (the articles of the PRC
Criminal Law, ``text_id`` = article number) and ``data/test.json`` (case facts, ``la`` = the articles
applied). Queries are split in halves by a hash of their id: the analyser is chosen on ``dev`` and
reported on ``test``. Every analyser runs through the same BM25 as legalrag's sparse vectors
(``idf = ln((N - n + 0.5) / (n + 0.5) + 1)``, k1 1.2, b 0.75), so only the terms differ:

* ``jieba``: jieba in search mode (legalrag's Chinese analyser before this measurement, ``zh-jieba``);
* ``char-uni``, ``char-bi``, ``char-uni+bi``: characters, overlapping character pairs, both;
* ``jieba+char-bi``: both term sets;
* ``legalrag``: legalrag's default Chinese analyser today.

    git clone https://github.com/oneal2000/Judge-R1 /data/Judge-R1   # or any copy of its data/ folder
    python -m bench.quality.chinese_lexical --judge /data/Judge-R1
"""

from __future__ import annotations

import argparse
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\W_]+")


def _runs(text: str) -> list[str]:
    return _HAN.findall(text.casefold())


def char_unigrams(text: str) -> list[str]:
    return [c for run in _runs(text) for c in (run if not run.isascii() else [run])]


def char_bigrams(text: str) -> list[str]:
    out: list[str] = []
    for run in _runs(text):
        out += [run] if run.isascii() or len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    return out


def analysers() -> dict[str, Callable[[str], list[str]]]:
    from legalrag.plugin.text.analyzers import get_tokenizer

    jieba = get_tokenizer("zh", "zh-jieba").tokenize
    return {
        "jieba": jieba,
        "char-uni": char_unigrams,
        "char-bi": char_bigrams,
        "char-uni+bi": lambda t: char_unigrams(t) + char_bigrams(t),
        "jieba+char-bi": lambda t: jieba(t) + char_bigrams(t),
        "legalrag": get_tokenizer("zh").tokenize,
    }


def bm25(docs: dict[str, str], analyse: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """A search function: the ids of the ten best documents for a query."""
    ids = list(docs)
    terms = [analyse(docs[i]) for i in ids]
    avgdl = sum(map(len, terms)) / len(terms)
    df = Counter(t for d in terms for t in set(d))
    idf = {t: math.log((len(ids) - n + 0.5) / (n + 0.5) + 1) for t, n in df.items()}
    weights = []
    for d in terms:
        norm = 1.2 * (1 - 0.75 + 0.75 * len(d) / avgdl)
        weights.append({t: idf[t] * f * 2.2 / (f + norm) for t, f in Counter(d).items()})

    def search(query: str) -> list[str]:
        q = set(analyse(query))
        scores = [sum(w.get(t, 0.0) for t in q) for w in weights]
        return [ids[j] for j in sorted(range(len(ids)), key=lambda j: (-scores[j], j))[:10]]

    return search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", type=Path, required=True, help="a copy of the Judge-R1 repository")
    args = parser.parse_args()
    data = args.judge / "data"
    laws = [json.loads(line) for line in (data / "law_corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    docs = {str(d["text_id"]): d["text"] for d in laws}
    cases = [json.loads(line) for line in (data / "test.json").read_text(encoding="utf-8").splitlines()]
    splits: dict[str, list[tuple[str, set[str]]]] = {"dev": [], "test": []}
    for case in cases:
        split = "dev" if zlib.crc32(case["text_id"].encode()) % 2 else "test"
        splits[split].append((case["text"], {str(a) for a in case["la"]}))
    print(f"{len(docs)} articles; dev {len(splits['dev'])} / test {len(splits['test'])} queries")
    print("\n| analyser | dev MRR@10 | dev recall@10 | test MRR@10 | test recall@10 |\n|---|---:|---:|---:|---:|")
    for name, analyse in analysers().items():
        search = bm25(docs, analyse)
        cells = []
        for rows in splits.values():
            ranked = [(search(q), gold) for q, gold in rows]
            mrr = sum(next((1 / (i + 1) for i, d in enumerate(r) if d in g), 0.0) for r, g in ranked) / len(rows)
            recall = sum(len(g & set(r)) / len(g) for r, g in ranked) / len(rows)
            cells += [f"{mrr:.4f}", f"{recall:.4f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
