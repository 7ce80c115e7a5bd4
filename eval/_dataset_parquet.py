"""Loaders for the parquet dataset layouts (AutoRAG, MTEB retrieval), which need the ``eval`` extra."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from legalrag.eval._dataset_core import (
    QUERY_ID_KEYS,
    EvalDataset,
    column_of,
    finish,
    judge,
    read_corpus,
    read_queries,
    require_file,
    text_of,
)
from legalrag.plugin.errors import DatasetError, MissingExtraError

__all__ = ["load_autorag", "load_mteb"]

_QRELS_QUERY = ("query-id", "query_id", "qid")
_QRELS_DOC = ("corpus-id", "corpus_id", "doc_id", "docid")
_SCORE = ("score", "relevance", "label")


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
    corpus = read_corpus(_parquet_rows([require_file(root / "corpus.parquet", "AutoRAG corpus")]))
    qa_rows = list(_parquet_rows([require_file(root / "qa.parquet", "AutoRAG QA")]))
    queries = read_queries(iter(qa_rows))
    qrels: dict[str, dict[str, int]] = {}
    for where, row in qa_rows:
        query_id = text_of(row, column_of(row, QUERY_ID_KEYS, where), where)
        groups = row.get("retrieval_gt")
        if not isinstance(groups, list):
            raise DatasetError(f"{where}: 'retrieval_gt' should be a list of lists of doc ids")
        for doc_id in (d for group in groups for d in (group if isinstance(group, list) else [group])):
            judge(qrels, query_id, str(doc_id), 1, where, (queries, corpus))
    return finish(name or root.name, corpus, queries, qrels)


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
    corpus = read_corpus(_parquet_rows(corpus_files))
    queries = read_queries(_parquet_rows(query_files))
    qrels: dict[str, dict[str, int]] = {}
    for where, row in _parquet_rows(qrels_files):
        query_id = text_of(row, column_of(row, _QRELS_QUERY, where), where)
        doc_id = text_of(row, column_of(row, _QRELS_DOC, where), where)
        raw = next((row[c] for c in _SCORE if c in row), 1)
        try:
            score = int(raw)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: score {raw!r} is not a number") from None
        judge(qrels, query_id, doc_id, score, where, (queries, corpus))
    return finish(name or root.name, corpus, queries, qrels)
