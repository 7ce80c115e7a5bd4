"""Evaluation datasets: one in-memory shape and loaders for the layouts retrieval data comes in.

Every loader validates as it reads and raises :class:`DatasetError` naming the file, the line (or row,
or JSON position) and the key at fault. Ids are always strings; numeric ids in the source are converted.

Layouts: BEIR (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``), question/passage pairs
(JSONL or CSV, as in sentence-transformers training data), Zalo Legal 2021 (``legal_corpus.json`` +
``<split>_question_answer.json``), AutoRAG (``corpus.parquet`` + ``qa.parquet``) and MTEB retrieval
parquet (``corpus``/``queries``/``qrels`` parquet files). :func:`load_dataset` detects which.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legalrag.plugin.errors import DatasetError, InputError, MissingExtraError
from legalrag.plugin.schema import content_hash

__all__ = [
    "FORMATS",
    "PAIR_COLUMNS",
    "CorpusDoc",
    "EvalDataset",
    "detect_format",
    "load_autorag",
    "load_beir",
    "load_dataset",
    "load_mteb",
    "load_pairs",
    "load_zalo",
]

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("beir", "pairs", "zalo", "autorag", "mteb")
#: (question column, passage column) pairs tried in order when ``columns`` is not given
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("anchor", "positive"),
    ("query", "passage"),
    ("question", "answer"),
    ("query", "positive"),
    ("question", "positive"),
    ("question", "context"),
)


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

    def __post_init__(self) -> None:
        for query_id, judgments in self.qrels.items():
            if query_id not in self.queries:
                raise DatasetError(f"dataset {self.name!r}: qrels query {query_id!r} has no query text")
            for doc_id in judgments:
                if doc_id not in self.corpus:
                    raise DatasetError(
                        f"dataset {self.name!r}: query {query_id!r} is judged against unknown doc {doc_id!r}"
                    )


# ------------------------------------------------------------------------------------------ helpers
def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found ({what})")
    return path


def _text(row: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None:
        if required:
            raise DatasetError(f"{where}: missing key {key!r} (found {sorted(row)})")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DatasetError(f"{where}: key {key!r} should be a string, got {type(value).__name__}")
    return str(value)


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
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


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc


_DOC_ID = ("_id", "id", "doc_id", "corpus-id", "corpus_id", "docid")
_QUERY_ID = ("_id", "id", "qid", "query-id", "query_id", "question_id")
_QRELS_QUERY = ("query-id", "query_id", "qid")
_QRELS_DOC = ("corpus-id", "corpus_id", "doc_id", "docid")
_TEXT = ("text", "contents", "content", "passage")
_QUERY_TEXT = ("text", "query", "question")
_SCORE = ("score", "relevance", "label")


def _column(row: Mapping[str, Any], names: tuple[str, ...], where: str) -> str:
    for column in names:
        if column in row:
            return column
    raise DatasetError(f"{where}: none of the keys {list(names)} (found {sorted(row)})")


def _read_corpus(rows: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, CorpusDoc]:
    corpus: dict[str, CorpusDoc] = {}
    for where, row in rows:
        doc_id = _text(row, _column(row, _DOC_ID, where), where)
        if doc_id in corpus:
            raise DatasetError(f"{where}: duplicate doc id {doc_id!r}")
        title = _text(row, "title", where, required=False)
        metadata = row.get("metadata")  # AutoRAG keeps the title there, if anywhere
        if not title and isinstance(metadata, dict) and isinstance(metadata.get("title"), str):
            title = metadata["title"]
        corpus[doc_id] = CorpusDoc(title, _text(row, _column(row, _TEXT, where), where))
    return corpus


def _read_queries(rows: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    queries: dict[str, str] = {}
    for where, row in rows:
        query_id = _text(row, _column(row, _QUERY_ID, where), where)
        if query_id in queries:
            raise DatasetError(f"{where}: duplicate query id {query_id!r}")
        queries[query_id] = _text(row, _column(row, _QUERY_TEXT, where), where)
    return queries


def _judge(
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


def _finish(
    name: str, corpus: dict[str, CorpusDoc], queries: dict[str, str], qrels: dict[str, dict[str, int]]
) -> EvalDataset:
    """Drop queries without qrels (counted and logged) and build the dataset."""
    kept = {qid: text for qid, text in queries.items() if qrels.get(qid)}
    dropped = len(queries) - len(kept)
    if dropped:
        logger.warning("dataset %s: dropped %d queries without qrels", name, dropped)
    if not kept:
        raise DatasetError(f"dataset {name!r}: no query has qrels; check the split or the qrels file")
    qrels = {qid: judgments for qid, judgments in qrels.items() if judgments}
    return EvalDataset(name, corpus, kept, qrels, dropped_queries=dropped)


def _stable_id(prefix: str, text: str) -> str:
    return f"{prefix}{content_hash(text)[:16]}"


# --------------------------------------------------------------------------------------------- BEIR
def load_beir(path: str | Path, split: str = "test", *, name: str | None = None) -> EvalDataset:
    """Load a BEIR folder: ``corpus.jsonl`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``)
    and ``qrels/<split>.tsv`` with the header ``query-id corpus-id score``.

    Raises:
        DatasetError: a missing file, a malformed line, a bad header, or qrels naming unknown ids.
    """
    root = Path(path)
    corpus = _read_corpus(_read_jsonl(_require(root / "corpus.jsonl", "BEIR corpus")))
    queries = _read_queries(_read_jsonl(_require(root / "queries.jsonl", "BEIR queries")))
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise DatasetError(f"{qrels_path}: file not found; available splits: {found or 'none'}")
    qrels = _read_qrels_tsv(qrels_path, corpus, queries)
    return _finish(name or root.name, corpus, queries, qrels)


def _read_qrels_tsv(
    path: Path, corpus: Mapping[str, CorpusDoc], queries: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
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
            _judge(qrels, query_id, doc_id, value, where, (queries, corpus))
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
    file = _require(Path(path), "question/passage pairs")
    rows = _read_jsonl(file) if file.suffix == ".jsonl" else _read_csv(file)
    corpus: dict[str, CorpusDoc] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    chosen = columns
    for where, row in rows:
        if chosen is None:
            chosen = _pair_columns(row, where)
        question = _text(row, chosen[0], where).strip()
        passages = row.get(chosen[1])
        passages = passages if isinstance(passages, list) else [_text(row, chosen[1], where)]
        if not question or not passages or not all(isinstance(p, str) and p.strip() for p in passages):
            raise DatasetError(f"{where}: empty {chosen[0]!r} or {chosen[1]!r}")
        query_id = _stable_id("q-", question)
        queries[query_id] = question
        for passage in passages:
            doc_id = _stable_id("p-", passage.strip())
            corpus.setdefault(doc_id, CorpusDoc("", passage.strip()))
            qrels.setdefault(query_id, {})[doc_id] = 1
    if not queries:
        raise DatasetError(f"{file}: no rows")
    return _finish(name or file.stem, corpus, queries, qrels)


def _read_csv(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
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
def load_zalo(path: str | Path, split: str = "train", *, name: str | None = None) -> EvalDataset:
    """Load the Zalo AI Legal Text Retrieval 2021 layout.

    ``legal_corpus.json`` is a list of ``{law_id, articles: [{article_id, title, text}]}``; questions come
    from ``<split>_question_answer.json`` = ``{"items": [{question_id, question, relevant_articles:
    [{law_id, article_id}]}]}``. Corpus ids are ``law_id#article_id``.

    Raises:
        DatasetError: a missing file, invalid JSON (with its line) or a malformed entry (with its index).
    """
    root = Path(path)
    corpus_path = _require(root / "legal_corpus.json", "Zalo legal corpus")
    corpus = _read_zalo_corpus(corpus_path)
    questions_path = _require(root / f"{split}_question_answer.json", f"Zalo questions, split {split!r}")
    data = _read_json(questions_path)
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DatasetError(f"{questions_path}: expected {{'items': [...]}} or a list of questions")
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, item in enumerate(items):
        where = f"{questions_path}: items[{i}]"
        if not isinstance(item, dict):
            raise DatasetError(f"{where}: expected an object")
        query_id = _text(item, "question_id", where)
        if query_id in queries:
            raise DatasetError(f"{where}: duplicate question_id {query_id!r}")
        queries[query_id] = _text(item, "question", where)
        for j, ref in enumerate(item.get("relevant_articles") or []):
            at = f"{where}.relevant_articles[{j}]"
            if not isinstance(ref, dict):
                raise DatasetError(f"{at}: expected {{'law_id', 'article_id'}}")
            doc_id = f"{_text(ref, 'law_id', at)}#{_text(ref, 'article_id', at)}"
            _judge(qrels, query_id, doc_id, 1, at, (queries, corpus))
    return _finish(name or root.name, corpus, queries, qrels)


def _read_zalo_corpus(path: Path) -> dict[str, CorpusDoc]:
    laws = _read_json(path)
    if not isinstance(laws, list):
        raise DatasetError(f"{path}: expected a JSON list of laws, got {type(laws).__name__}")
    corpus: dict[str, CorpusDoc] = {}
    for i, law in enumerate(laws):
        where = f"{path}: law [{i}]"
        if not isinstance(law, dict) or not isinstance(law.get("articles"), list):
            raise DatasetError(f"{where}: expected an object with 'law_id' and an 'articles' list")
        law_id = _text(law, "law_id", where)
        for j, article in enumerate(law["articles"]):
            at = f"{where} ({law_id}) article [{j}]"
            if not isinstance(article, dict):
                raise DatasetError(f"{at}: expected an object")
            doc_id = f"{law_id}#{_text(article, 'article_id', at)}"
            if doc_id in corpus:
                raise DatasetError(f"{at}: duplicate article {doc_id!r}")
            title = _text(article, "title", at, required=False)
            corpus[doc_id] = CorpusDoc(title, _text(article, "text", at))
    return corpus


# ------------------------------------------------------------------------------------------ parquet
def _parquet_rows(files: list[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtraError("pyarrow", "eval", "Reading parquet datasets") from exc
    for file in files:
        offset = 0
        try:
            batches = pq.ParquetFile(file).iter_batches()
            for batch in batches:
                for i, row in enumerate(batch.to_pylist()):
                    yield f"{file}: row {offset + i}", row
                offset += batch.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(f"{file}: unreadable parquet ({exc})") from exc


def load_autorag(path: str | Path, *, name: str | None = None) -> EvalDataset:
    """Load AutoRAG's ``corpus.parquet`` (``doc_id, contents[, metadata]``) and ``qa.parquet``
    (``qid, query, retrieval_gt``: a list of lists of doc ids, all taken as relevant).

    Raises:
        MissingExtraError: pyarrow is not installed.
        DatasetError: a missing file or column, or ``retrieval_gt`` naming an unknown doc.
    """
    root = Path(path)
    corpus = _read_corpus(_parquet_rows([_require(root / "corpus.parquet", "AutoRAG corpus")]))
    qa_rows = list(_parquet_rows([_require(root / "qa.parquet", "AutoRAG QA")]))
    queries = _read_queries(iter(qa_rows))
    qrels: dict[str, dict[str, int]] = {}
    for where, row in qa_rows:
        query_id = _text(row, _column(row, _QUERY_ID, where), where)
        groups = row.get("retrieval_gt")
        if not isinstance(groups, list):
            raise DatasetError(f"{where}: 'retrieval_gt' should be a list of lists of doc ids")
        for doc_id in (d for group in groups for d in (group if isinstance(group, list) else [group])):
            _judge(qrels, query_id, str(doc_id), 1, where, (queries, corpus))
    return _finish(name or root.name, corpus, queries, qrels)


def _parquet_part(root: Path, part: str, split: str | None) -> list[Path]:
    """Files of one MTEB part: ``<part>.parquet`` or ``<part>/**/*.parquet``, narrowed to ``split``."""
    if (root / f"{part}.parquet").is_file():
        return [root / f"{part}.parquet"]
    files = sorted((root / part).rglob("*.parquet")) if (root / part).is_dir() else []
    if split is None:
        return files
    return [
        f
        for f in files
        if split in f.relative_to(root / part).parts[:-1] or f.stem == split or f.stem.startswith(f"{split}-")
    ]


def load_mteb(path: str | Path, split: str = "test", *, name: str | None = None) -> EvalDataset:
    """Load an MTEB retrieval folder of parquet files.

    ``corpus`` (``_id, title, text``), ``queries`` (``_id, text``) and qrels (``query-id, corpus-id,
    score``) each as ``<part>.parquet`` or files under ``<part>/``; qrels are looked up under ``qrels/``,
    ``default/`` or ``data/`` and narrowed to ``split`` (``test.parquet``, ``test-00000-of-00001.parquet``
    or ``<part>/test/…``). Common column aliases are accepted (``id``, ``doc_id``, ``contents``…).

    Raises:
        MissingExtraError: pyarrow is not installed.
        DatasetError: missing parts or columns, or qrels naming unknown ids.
    """
    root = Path(path)
    corpus_files = _parquet_part(root, "corpus", None)
    query_files = _parquet_part(root, "queries", split) or _parquet_part(root, "queries", None)
    qrels_files = next((f for part in ("qrels", "default", "data") if (f := _parquet_part(root, part, split))), [])
    for files, what in (
        (corpus_files, "corpus"),
        (query_files, "queries"),
        (qrels_files, f"qrels ({split})"),
    ):
        if not files:
            raise DatasetError(f"{root}: no {what} parquet files found")
    corpus = _read_corpus(_parquet_rows(corpus_files))
    queries = _read_queries(_parquet_rows(query_files))
    qrels: dict[str, dict[str, int]] = {}
    for where, row in _parquet_rows(qrels_files):
        query_id = _text(row, _column(row, _QRELS_QUERY, where), where)
        doc_id = _text(row, _column(row, _QRELS_DOC, where), where)
        raw = next((row[c] for c in _SCORE if c in row), 1)
        try:
            score = int(raw)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: score {raw!r} is not a number") from None
        _judge(qrels, query_id, doc_id, score, where, (queries, corpus))
    return _finish(name or root.name, corpus, queries, qrels)


# ------------------------------------------------------------------------------------------- detect
def detect_format(path: str | Path) -> str:
    """Guess the layout of ``path`` (one of :data:`FORMATS`).

    Raises:
        DatasetError: the path does not exist or matches no known layout.
    """
    root = Path(path)
    if root.is_file():
        if root.suffix in (".jsonl", ".csv", ".tsv"):
            return "pairs"
        raise DatasetError(f"{root}: a single file must be .jsonl, .csv or .tsv question/passage pairs")
    if not root.is_dir():
        raise DatasetError(f"{root}: no such file or folder")
    if (root / "corpus.jsonl").is_file():
        return "beir"
    if (root / "legal_corpus.json").is_file():
        return "zalo"
    if (root / "qa.parquet").is_file():
        return "autorag"
    if (root / "corpus.parquet").is_file() or (root / "corpus").is_dir():
        return "mteb"
    raise DatasetError(
        f"{root}: unknown layout; expected corpus.jsonl (BEIR), legal_corpus.json (Zalo), "
        "qa.parquet (AutoRAG) or corpus/*.parquet (MTEB), or pass format="
    )


def load_dataset(
    path: str | Path,
    format: str = "auto",
    *,
    split: str | None = None,
    columns: tuple[str, str] | None = None,
    name: str | None = None,
) -> EvalDataset:
    """Load an evaluation dataset, detecting its layout unless ``format`` names one.

    Args:
        path: a dataset folder, or a pairs file.
        format: ``"auto"`` or one of :data:`FORMATS`.
        split: qrels split for ``beir``/``mteb`` (default ``"test"``) and ``zalo`` (default ``"train"``).
        columns: (question, passage) columns for ``pairs``.
        name: dataset label; defaults to the folder or file name.

    Raises:
        InputError: an unknown format, or an option the format does not take.
        DatasetError: the data is missing or malformed.

    Example:
        >>> load_dataset("tests/fixtures/zalo_tiny").name  # doctest: +SKIP
        'zalo_tiny'
    """
    kind = detect_format(path) if format == "auto" else format
    if kind not in FORMATS:
        raise InputError(f"unknown dataset format {format!r}: use 'auto' or one of {', '.join(FORMATS)}")
    if split is not None and kind in ("pairs", "autorag"):
        raise InputError(f"format {kind!r} has no splits: drop split={split!r}")
    if columns is not None and kind != "pairs":
        raise InputError(f"columns= applies to the 'pairs' format only, not {kind!r}")
    if kind == "beir":
        return load_beir(path, split or "test", name=name)
    if kind == "zalo":
        return load_zalo(path, split or "train", name=name)
    if kind == "mteb":
        return load_mteb(path, split or "test", name=name)
    if kind == "autorag":
        return load_autorag(path, name=name)
    return load_pairs(path, columns, name=name)
