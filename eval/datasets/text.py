"""Loaders for the plain-text dataset layouts: BEIR, question/passage pairs and Zalo Legal 2021."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from legalrag.eval.datasets.core import (
    CorpusDoc,
    EvalDataset,
    finish,
    judge,
    read_corpus,
    read_json,
    read_jsonl,
    read_queries,
    require_file,
    stable_id,
    text_of,
)
from legalrag.plugin.errors import DatasetError

__all__ = ["PAIR_COLUMNS", "ZALO_CORPUS_FILES", "load_beir", "load_pairs", "load_zalo"]

#: (question column, passage column) pairs tried in order when ``columns`` is not given
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("anchor", "positive"),
    ("query", "passage"),
    ("question", "answer"),
    ("query", "positive"),
    ("question", "positive"),
    ("question", "context"),
)


# --------------------------------------------------------------------------------------------- BEIR
def load_beir(path: str | Path, split: str = "test", *, name: str | None = None) -> EvalDataset:
    """Load a BEIR folder: ``corpus.jsonl`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``)
    and ``qrels/<split>.tsv`` with the header ``query-id corpus-id score``.

    Raises:
        DatasetError: a missing file, a malformed line, a bad header, or qrels naming unknown ids.
    """
    root = Path(path)
    corpus = read_corpus(read_jsonl(require_file(root / "corpus.jsonl", "BEIR corpus")))
    queries = read_queries(read_jsonl(require_file(root / "queries.jsonl", "BEIR queries")))
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise DatasetError(f"{qrels_path}: file not found; available splits: {found or 'none'}")
    qrels = _read_qrels_tsv(qrels_path, corpus, queries)
    return finish(name or root.name, corpus, queries, qrels)


def _read_qrels_tsv(
    path: Path, corpus: Mapping[str, CorpusDoc], queries: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle, _csv_errors(path):
        for number, fields in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            where = f"{path}:{number}"
            if number == 1:
                if [f.strip().lower() for f in fields] != ["query-id", "corpus-id", "score"]:
                    raise DatasetError(f"{where}: expected header 'query-id<TAB>corpus-id<TAB>score', got {fields}")
                continue
            if not fields:
                continue
            if len(fields) != 3:
                raise DatasetError(f"{where}: expected 3 tab-separated fields, got {len(fields)}")
            query_id, doc_id, score = (f.strip() for f in fields)
            try:
                value = int(float(score))
            except ValueError:
                raise DatasetError(f"{where}: score {score!r} is not a number") from None
            judge(qrels, query_id, doc_id, value, where, (queries, corpus))
    return qrels


# -------------------------------------------------------------------------------------------- pairs
def load_pairs(path: str | Path, columns: tuple[str, str] | None = None, *, name: str | None = None) -> EvalDataset:
    """Load (question, positive passage) pairs from ``.jsonl`` or ``.csv``/``.tsv``.

    The corpus is the set of unique passages, with ids ``p-`` + 16 hex digits of their SHA-256 (stable
    across runs); a repeated question (same text) is one query whose qrels are all its passages. In
    JSONL the passage may also be a list of passages.

    Args:
        path: the file.
        columns: (question column, passage column); by default the first of :data:`PAIR_COLUMNS` present.
        name: dataset label; defaults to the file stem.

    Raises:
        DatasetError: unreadable rows, or no known column pair (pass ``columns=``).
    """
    file = require_file(Path(path), "question/passage pairs")
    rows = read_jsonl(file) if file.suffix == ".jsonl" else _read_csv(file)
    corpus: dict[str, CorpusDoc] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    chosen = columns
    for where, row in rows:
        if chosen is None:
            chosen = _pair_columns(row, where)
        question = text_of(row, chosen[0], where).strip()
        passages = row.get(chosen[1])
        passages = passages if isinstance(passages, list) else [text_of(row, chosen[1], where)]
        if not question or not passages or not all(isinstance(p, str) and p.strip() for p in passages):
            raise DatasetError(f"{where}: empty {chosen[0]!r} or {chosen[1]!r}")
        query_id = stable_id("q-", question)
        queries[query_id] = question
        for passage in passages:
            doc_id = stable_id("p-", passage.strip())
            corpus.setdefault(doc_id, CorpusDoc("", passage.strip()))
            qrels.setdefault(query_id, {})[doc_id] = 1
    if not queries:
        raise DatasetError(f"{file}: no rows")
    return finish(name or file.stem, corpus, queries, qrels)


#: the longest field a CSV/TSV dataset may hold (csv's own default, 128 KiB, is shorter than some statutes)
MAX_FIELD_BYTES = 16 << 20


@contextlib.contextmanager
def _csv_errors(path: Path) -> Iterator[None]:
    """Malformed CSV (an unclosed quote, a field over :data:`MAX_FIELD_BYTES`) as a :class:`DatasetError`."""
    previous = csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        yield
    except csv.Error as exc:
        raise DatasetError(f"{path}: not readable as CSV/TSV ({exc})") from None
    finally:
        csv.field_size_limit(previous)


def _read_csv(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle, _csv_errors(path):
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        for row in reader:
            yield f"{path}:{reader.line_num}", row


def _pair_columns(row: Mapping[str, Any], where: str) -> tuple[str, str]:
    for pair in PAIR_COLUMNS:
        if pair[0] in row and pair[1] in row:
            return pair
    raise DatasetError(
        f"{where}: no question/passage columns among {sorted(row)}; expected one of "
        f"{[f'{q}/{p}' for q, p in PAIR_COLUMNS]} or pass columns=(question, passage)"
    )


# --------------------------------------------------------------------------------------------- Zalo
#: corpus files of the Zalo / ALQAC layout, in the order looked for
ZALO_CORPUS_FILES = ("legal_corpus.json", "law.json")


def _spelled(row: Mapping[str, Any], keys: tuple[str, ...], where: str) -> str:
    """The first of ``keys`` present in ``row`` (the releases spell the same field differently)."""
    for key in keys:
        if row.get(key) is not None:
            return text_of(row, key, where)
    raise DatasetError(f"{where}: missing {' or '.join(repr(k) for k in keys)} (found {sorted(row)})")


def zalo_questions_file(root: Path, split: str) -> Path:
    """``<split>_question_answer.json`` (Zalo 2021), else ``<split>.json`` (ALQAC)."""
    for name in (f"{split}_question_answer.json", f"{split}.json"):
        if (root / name).is_file():
            return root / name
    found = sorted(p.name for p in root.glob("*.json") if p.name not in ZALO_CORPUS_FILES)
    raise DatasetError(
        f"{root}: no questions for split {split!r} ({split}_question_answer.json or {split}.json); "
        f"question files here: {found or 'none'}"
    )


def load_zalo(path: str | Path, split: str = "train", *, name: str | None = None) -> EvalDataset:
    """Load the Zalo AI Legal Text Retrieval 2021 layout, and ALQAC's spelling of it.

    The corpus, ``legal_corpus.json`` (Zalo) or ``law.json`` (ALQAC), is a list of laws ``{law_id | id,
    articles: [{article_id | id, title?, text}]}``; questions come from ``<split>_question_answer.json``
    (Zalo: ``{"items": [...]}``) or ``<split>.json`` (ALQAC: a list), each ``{question_id, question |
    text, relevant_articles: [{law_id, article_id}]}``. Corpus ids are ``law_id#article_id``.

    Raises:
        DatasetError: a missing file, invalid JSON (with its line) or a malformed entry (with its index).
    """
    root = Path(path)
    corpus_path = next((root / f for f in ZALO_CORPUS_FILES if (root / f).is_file()), None)
    if corpus_path is None:
        raise DatasetError(f"{root}: no Zalo/ALQAC corpus ({' or '.join(ZALO_CORPUS_FILES)})")
    corpus = _read_zalo_corpus(corpus_path)
    questions_path = zalo_questions_file(root, split)
    data = read_json(questions_path)
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DatasetError(f"{questions_path}: expected {{'items': [...]}} or a list of questions")
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, item in enumerate(items):
        where = f"{questions_path}: items[{i}]"
        if not isinstance(item, dict):
            raise DatasetError(f"{where}: expected an object")
        query_id = text_of(item, "question_id", where)
        if query_id in queries:
            raise DatasetError(f"{where}: duplicate question_id {query_id!r}")
        queries[query_id] = _spelled(item, ("question", "text"), where)
        references = item.get("relevant_articles") or []
        if not isinstance(references, list):
            raise DatasetError(f"{where}: relevant_articles should be a list")
        for j, ref in enumerate(references):
            at = f"{where}.relevant_articles[{j}]"
            if not isinstance(ref, dict):
                raise DatasetError(f"{at}: expected {{'law_id', 'article_id'}}")
            doc_id = f"{text_of(ref, 'law_id', at)}#{text_of(ref, 'article_id', at)}"
            judge(qrels, query_id, doc_id, 1, at, (queries, corpus))
    return finish(name or root.name, corpus, queries, qrels)


def _read_zalo_corpus(path: Path) -> dict[str, CorpusDoc]:
    laws = read_json(path)
    if not isinstance(laws, list):
        raise DatasetError(f"{path}: expected a JSON list of laws, got {type(laws).__name__}")
    corpus: dict[str, CorpusDoc] = {}
    for i, law in enumerate(laws):
        where = f"{path}: law [{i}]"
        if not isinstance(law, dict) or not isinstance(law.get("articles"), list):
            raise DatasetError(f"{where}: expected an object with 'law_id' (or 'id') and an 'articles' list")
        law_id = _spelled(law, ("law_id", "id"), where)
        for j, article in enumerate(law["articles"]):
            at = f"{where} ({law_id}) article [{j}]"
            if not isinstance(article, dict):
                raise DatasetError(f"{at}: expected an object")
            doc_id = f"{law_id}#{_spelled(article, ('article_id', 'id'), at)}"
            if doc_id in corpus:
                raise DatasetError(f"{at}: duplicate article {doc_id!r}")
            title = text_of(article, "title", at, required=False)
            corpus[doc_id] = CorpusDoc(title, text_of(article, "text", at))
    return corpus
