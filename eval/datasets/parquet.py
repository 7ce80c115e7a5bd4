"""Loaders for the parquet dataset layouts (AutoRAG, MTEB retrieval), which need the ``eval`` extra."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from legalrag.eval.datasets.core import (
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

__all__ = ["find_autorag_files", "is_autorag_folder", "load_autorag", "load_mteb", "parquet_columns"]

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


#: the columns that tell an AutoRAG corpus file and an AutoRAG QA file apart
_AUTORAG_ROLES: dict[str, tuple[str, ...]] = {"corpus": ("doc_id", "contents"), "qa": ("qid", "query", "retrieval_gt")}
#: the names AutoRAG's own tools write, preferred when several files fit a role
_AUTORAG_NAMES = {"corpus": "corpus.parquet", "qa": "qa.parquet"}


def parquet_columns(path: Path) -> set[str]:
    """The column names of a parquet file (its schema only: no rows are read)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtraError("pyarrow", "eval", "Reading parquet datasets") from exc
    try:
        return set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{path}: unreadable parquet ({exc})") from exc


def find_autorag_files(root: Path, roles: tuple[str, ...] = ("corpus", "qa")) -> dict[str, Path]:
    """Which parquet file under ``root`` is the corpus and which the QA, by their columns, not their names.

    AutoRAG projects name their files freely (``qa_v4.parquet``, ``ocr_corpus_v3.parquet``); a corpus
    has ``doc_id`` and ``contents``, a QA file ``qid``, ``query`` and ``retrieval_gt``. When several
    files fit a role, ``corpus.parquet`` / ``qa.parquet`` win; otherwise the choice is refused.

    Raises:
        DatasetError: a role no file fits, or several files fit it and none has the standard name.
    """
    found: dict[str, list[Path]] = {role: [] for role in roles}
    for path in sorted(root.glob("*.parquet")):
        columns = parquet_columns(path)
        for role in roles:
            if set(_AUTORAG_ROLES[role]) <= columns:
                found[role].append(path)
    chosen: dict[str, Path] = {}
    for role, candidates in found.items():
        standard = [p for p in candidates if p.name == _AUTORAG_NAMES[role]]
        if len(candidates) == 1 or standard:
            chosen[role] = standard[0] if standard else candidates[0]
            continue
        flag = "corpus_file=" if role == "corpus" else "queries_file="
        needed = ", ".join(_AUTORAG_ROLES[role])
        if not candidates:
            raise DatasetError(f"{root}: no parquet file with the AutoRAG {role} columns ({needed}): pass {flag}")
        names = ", ".join(p.name for p in candidates)
        raise DatasetError(f"{root}: several parquet files look like the AutoRAG {role} ({names}): pass {flag}")
    return chosen


def is_autorag_folder(root: Path) -> bool:
    """Whether some parquet file directly under ``root`` has AutoRAG's QA columns."""
    return any(set(_AUTORAG_ROLES["qa"]) <= parquet_columns(p) for p in sorted(root.glob("*.parquet")))


def load_autorag(
    path: str | Path | None = None,
    *,
    name: str | None = None,
    corpus_file: str | os.PathLike[str] | None = None,
    qa_file: str | os.PathLike[str] | None = None,
) -> EvalDataset:
    """Load an AutoRAG corpus (``doc_id, contents[, metadata]``) and QA (``qid, query, retrieval_gt``).

    The files are found by their columns in ``path`` (:func:`find_autorag_files`), or given as
    ``corpus_file`` / ``qa_file``. ``retrieval_gt`` (AND-groups of OR-alternatives) is kept as the
    dataset's ``ground_truth`` for AutoRAG's metrics; every id in it is relevant for the others.
    ``sources`` records which file was read for which part.

    Raises:
        MissingExtraError: pyarrow is not installed.
        DatasetError: a missing file or column, or ``retrieval_gt`` naming an unknown doc.
    """
    root = Path(path) if path is not None else None
    missing = tuple(role for role, given in (("corpus", corpus_file), ("qa", qa_file)) if given is None)
    if missing and root is None:
        raise DatasetError("an AutoRAG dataset needs its folder, or both corpus_file and qa_file")
    found = find_autorag_files(root, missing) if missing and root is not None else {}
    corpus_path = Path(corpus_file) if corpus_file is not None else found["corpus"]
    qa_path = Path(qa_file) if qa_file is not None else found["qa"]
    corpus = read_corpus(_parquet_rows([require_file(corpus_path, "AutoRAG corpus")]))
    qa_rows = list(_parquet_rows([require_file(qa_path, "AutoRAG QA")]))
    queries = read_queries(iter(qa_rows))
    qrels: dict[str, dict[str, int]] = {}
    ground_truth: dict[str, list[list[str]]] = {}
    for where, row in qa_rows:
        query_id = text_of(row, column_of(row, QUERY_ID_KEYS, where), where)
        groups = row.get("retrieval_gt")
        if not isinstance(groups, list):
            raise DatasetError(f"{where}: 'retrieval_gt' should be a list of lists of doc ids")
        ground_truth[query_id] = [
            [str(d) for d in group] if isinstance(group, list) else [str(group)] for group in groups
        ]
        for doc_id in (d for group in ground_truth[query_id] for d in group if d):
            judge(qrels, query_id, doc_id, 1, where, (queries, corpus))
    label = name or (root.name if root is not None else qa_path.stem)
    sources = {"corpus": str(corpus_path), "queries": str(qa_path)}
    return finish(label, corpus, queries, qrels, ground_truth=ground_truth, sources=sources)


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
