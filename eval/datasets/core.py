"""The evaluation dataset records and the validating readers that every dataset layout shares."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legalrag.plugin.errors import DatasetError
from legalrag.plugin.schema import content_hash

__all__ = [
    "QUERY_ID_KEYS",
    "CorpusDoc",
    "EvalDataset",
    "column_of",
    "finish",
    "judge",
    "read_corpus",
    "read_json",
    "read_jsonl",
    "read_queries",
    "require_file",
    "stable_id",
    "text_of",
]

# the public module's name, so logging set up for legalrag.eval.datasets still sees these warnings
logger = logging.getLogger("legalrag.eval.datasets")


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    """One retrievable document.

    Example:
        >>> CorpusDoc(title="Điều 1", text="Phạm vi điều chỉnh").title
        'Điều 1'
    """

    title: str
    text: str


@dataclass(frozen=True)
class EvalDataset:
    """A retrieval test collection; every qrels id is checked to exist in ``queries`` and ``corpus``.

    Attributes:
        name: a label for reports (the folder or file name by default).
        corpus: doc id → document.
        queries: query id → query text; only queries that have qrels.
        qrels: query id → doc id → relevance (> 0 relevant).
        dropped_queries: source queries left out because they had no qrels.
        ground_truth: query id → AND-groups of OR-alternatives, for datasets that have them
            (AutoRAG's ``retrieval_gt``); ``None`` elsewhere (each relevant document is then its own group).
        sources: which file each part was read from (``corpus``, ``queries``, ...), for reports.

    Example:
        >>> ds = EvalDataset("toy", {"d1": CorpusDoc("", "text")}, {"q1": "question"}, {"q1": {"d1": 1}})
        >>> len(ds.corpus), len(ds.queries)
        (1, 1)
    """

    name: str
    corpus: dict[str, CorpusDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    dropped_queries: int = 0
    ground_truth: dict[str, list[list[str]]] | None = None
    sources: dict[str, str] | None = None

    def __post_init__(self) -> None:
        for query_id, judgments in self.qrels.items():
            if query_id not in self.queries:
                raise DatasetError(f"dataset {self.name!r}: qrels query {query_id!r} has no query text")
            for doc_id in judgments:
                if doc_id not in self.corpus:
                    raise DatasetError(
                        f"dataset {self.name!r}: query {query_id!r} is judged against unknown doc {doc_id!r}"
                    )


def require_file(path: Path, what: str) -> Path:
    """``path`` itself, once it is known to be a file.

    Raises:
        DatasetError: the file does not exist; ``what`` says which file the layout expected.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: file not found ({what})")
    return path


def text_of(row: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """The string (or integer, as a string) at ``row[key]``; ``""`` for an absent optional key.

    Raises:
        DatasetError: the key is missing while required, or holds something else.
    """
    value = row.get(key)
    if value is None:
        if required:
            raise DatasetError(f"{where}: missing key {key!r} (found {sorted(row)})")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DatasetError(f"{where}: key {key!r} should be a string, got {type(value).__name__}")
    return str(value)


def read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``file:line``, object) for each non-blank line of a JSONL file.

    Raises:
        DatasetError: a line is not JSON, or not a JSON object.
    """
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
            if not isinstance(row, dict):
                raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


def read_json(path: Path) -> Any:
    """The parsed content of a JSON file.

    Raises:
        DatasetError: invalid JSON, naming its line and column.
    """
    try:
        with path.open(encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc


_DOC_ID = ("_id", "id", "doc_id", "corpus-id", "corpus_id", "docid")
QUERY_ID_KEYS: tuple[str, ...] = ("_id", "id", "qid", "query-id", "query_id", "question_id")
_TEXT = ("text", "contents", "content", "passage")
_QUERY_TEXT = ("text", "query", "question")


def column_of(row: Mapping[str, Any], names: tuple[str, ...], where: str) -> str:
    """The first of ``names`` that ``row`` has.

    Raises:
        DatasetError: ``row`` has none of them.
    """
    for column in names:
        if column in row:
            return column
    raise DatasetError(f"{where}: none of the keys {list(names)} (found {sorted(row)})")


def read_corpus(rows: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, CorpusDoc]:
    """Doc id → document from rows with an id, an optional title and a text, under common key aliases.

    Raises:
        DatasetError: a missing key or a duplicate doc id.
    """
    corpus: dict[str, CorpusDoc] = {}
    for where, row in rows:
        doc_id = text_of(row, column_of(row, _DOC_ID, where), where)
        if doc_id in corpus:
            raise DatasetError(f"{where}: duplicate doc id {doc_id!r}")
        title = text_of(row, "title", where, required=False)
        metadata = row.get("metadata")  # AutoRAG keeps the title there, if anywhere
        if not title and isinstance(metadata, dict) and isinstance(metadata.get("title"), str):
            title = metadata["title"]
        corpus[doc_id] = CorpusDoc(title, text_of(row, column_of(row, _TEXT, where), where))
    return corpus


def read_queries(rows: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """Query id → query text from rows with an id and a text, under common key aliases.

    Raises:
        DatasetError: a missing key or a duplicate query id.
    """
    queries: dict[str, str] = {}
    for where, row in rows:
        query_id = text_of(row, column_of(row, QUERY_ID_KEYS, where), where)
        if query_id in queries:
            raise DatasetError(f"{where}: duplicate query id {query_id!r}")
        queries[query_id] = text_of(row, column_of(row, _QUERY_TEXT, where), where)
    return queries


def judge(
    qrels: dict[str, dict[str, int]],
    query_id: str,
    doc_id: str,
    score: int,
    where: str,
    known: tuple[Mapping[str, str], Mapping[str, CorpusDoc]],
) -> None:
    """Record one judgment after checking that ``known`` (queries, corpus) holds both ids."""
    queries, corpus = known
    if query_id not in queries:
        raise DatasetError(f"{where}: query id {query_id!r} is not among the queries")
    if doc_id not in corpus:
        raise DatasetError(f"{where}: doc id {doc_id!r} is not in the corpus")
    qrels.setdefault(query_id, {})[doc_id] = score


def finish(
    name: str,
    corpus: dict[str, CorpusDoc],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    ground_truth: dict[str, list[list[str]]] | None = None,
    sources: dict[str, str] | None = None,
) -> EvalDataset:
    """Drop queries without qrels (counted and logged) and build the dataset."""
    kept = {qid: text for qid, text in queries.items() if qrels.get(qid)}
    dropped = len(queries) - len(kept)
    if dropped:
        logger.warning("dataset %s: dropped %d queries without qrels", name, dropped)
    if not kept:
        raise DatasetError(f"dataset {name!r}: no query has qrels; check the split or the qrels file")
    qrels = {qid: judgments for qid, judgments in qrels.items() if judgments}
    if ground_truth is not None:
        ground_truth = {qid: groups for qid, groups in ground_truth.items() if qid in kept}
    return EvalDataset(name, corpus, kept, qrels, dropped_queries=dropped, ground_truth=ground_truth, sources=sources)


def stable_id(prefix: str, text: str) -> str:
    """``prefix`` + 16 hex digits of the SHA-256 of ``text``: the same id on every run."""
    return f"{prefix}{content_hash(text)[:16]}"
