"""Evaluation: metrics with sentence-transformers definitions, dataset loaders, harness, reports."""

from __future__ import annotations

from legalrag.eval.datasets import CorpusDoc, EvalDataset, detect_format, load_dataset
from legalrag.eval.metrics import DEFAULT_METRICS, EvalResult, evaluate, parse_metric
from legalrag.eval.report import (
    QueryRecord,
    plot_accuracy_curves,
    render_table,
    write_json,
    write_run_jsonl,
    write_trec_run,
)

__all__ = [
    "DEFAULT_METRICS",
    "CorpusDoc",
    "EvalDataset",
    "EvalResult",
    "QueryRecord",
    "detect_format",
    "evaluate",
    "load_dataset",
    "parse_metric",
    "plot_accuracy_curves",
    "render_table",
    "write_json",
    "write_run_jsonl",
    "write_trec_run",
]
