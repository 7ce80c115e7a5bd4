"""Evaluation datasets: one in-memory shape and loaders for the layouts retrieval data comes in.

Every loader validates as it reads and raises :class:`DatasetError` naming the file, the line (or row,
or JSON position) and the key at fault. Ids are always strings; numeric ids in the source are converted.

Layouts: BEIR (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``), question/passage pairs
(JSONL or CSV, as in sentence-transformers training data), Zalo Legal 2021 (``legal_corpus.json`` +
``<split>_question_answer.json``), AutoRAG (``corpus.parquet`` + ``qa.parquet``) and MTEB retrieval
parquet (``corpus``/``queries``/``qrels`` parquet files). :func:`load_dataset` detects which.
"""

from __future__ import annotations

import os
from pathlib import Path

from legalrag.eval.datasets.core import CorpusDoc, EvalDataset
from legalrag.eval.datasets.parquet import find_autorag_files, is_autorag_folder, load_autorag, load_mteb
from legalrag.eval.datasets.text import PAIR_COLUMNS, ZALO_CORPUS_FILES, load_beir, load_pairs, load_zalo
from legalrag.plugin.errors import DatasetError, InputError

__all__ = [
    "FORMATS",
    "PAIR_COLUMNS",
    "CorpusDoc",
    "EvalDataset",
    "detect_format",
    "find_autorag_files",
    "load_autorag",
    "load_beir",
    "load_dataset",
    "load_mteb",
    "load_pairs",
    "load_zalo",
]

FORMATS: tuple[str, ...] = ("beir", "pairs", "zalo", "autorag", "mteb")


def detect_format(path: str | os.PathLike[str]) -> str:
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
    if any((root / name).is_file() for name in ZALO_CORPUS_FILES):
        return "zalo"
    if (root / "qa.parquet").is_file() or is_autorag_folder(root):
        return "autorag"
    if (root / "corpus.parquet").is_file() or (root / "corpus").is_dir():
        return "mteb"
    raise DatasetError(
        f"{root}: unknown layout; expected corpus.jsonl (BEIR), legal_corpus.json or law.json (Zalo, ALQAC), "
        "qa.parquet (AutoRAG) or corpus/*.parquet (MTEB), or pass format="
    )


def load_dataset(
    path: str | Path,
    format: str = "auto",
    *,
    split: str | None = None,
    columns: tuple[str, str] | None = None,
    name: str | None = None,
    corpus_file: str | os.PathLike[str] | None = None,
    queries_file: str | os.PathLike[str] | None = None,
) -> EvalDataset:
    """Load an evaluation dataset, detecting its layout unless ``format`` names one.

    Args:
        path: a dataset folder, or a pairs file.
        format: ``"auto"`` or one of :data:`FORMATS`.
        split: qrels split for ``beir``/``mteb`` (default ``"test"``) and ``zalo`` (default ``"train"``).
        columns: (question, passage) columns for ``pairs``.
        name: dataset label; defaults to the folder or file name.
        corpus_file: the corpus file, when the layout cannot find it by itself (``autorag``).
        queries_file: the queries (QA) file, likewise.

    Raises:
        InputError: an unknown format, or an option the format does not take.
        DatasetError: the data is missing or malformed.

    Example:
        >>> load_dataset("tests/fixtures/zalo_tiny").name  # doctest: +SKIP
        'zalo_tiny'
    """
    if (corpus_file is not None or queries_file is not None) and format == "auto":
        format = "autorag"  # the one layout whose files can be named one by one
    kind = detect_format(path) if format == "auto" else format
    if kind not in FORMATS:
        raise InputError(f"unknown dataset format {format!r}: use 'auto' or one of {', '.join(FORMATS)}")
    if split is not None and kind in ("pairs", "autorag"):
        raise InputError(f"format {kind!r} has no splits: drop split={split!r}")
    if columns is not None and kind != "pairs":
        raise InputError(f"columns= applies to the 'pairs' format only, not {kind!r}")
    if (corpus_file is not None or queries_file is not None) and kind != "autorag":
        raise InputError(f"corpus and queries files apply to the 'autorag' format, not {kind!r}")
    try:
        if kind == "beir":
            return load_beir(path, split or "test", name=name)
        if kind == "zalo":
            return load_zalo(path, split or "train", name=name)
        if kind == "mteb":
            return load_mteb(path, split or "test", name=name)
        if kind == "autorag":
            return load_autorag(path, name=name, corpus_file=corpus_file, qa_file=queries_file)
        return load_pairs(path, columns, name=name)
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: a file is not UTF-8 text ({exc.reason} at byte {exc.start}): re-save it as UTF-8"
        ) from None
    except RecursionError:
        raise DatasetError(f"{path}: a JSON file is nested too deeply to be a dataset") from None
