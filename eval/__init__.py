"""Evaluation: metrics with sentence-transformers definitions, dataset loaders, harness, reports.

The entry point is :func:`evaluate_collection` (a dataset in, an :class:`EvalReport` out); the pure
:func:`evaluate` scores a run against qrels. ``evaluate_collection`` loads lazily (it needs the store
and model code; the metrics do not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from legalrag.eval.datasets import CorpusDoc, EvalDataset, detect_format, load_dataset
from legalrag.eval.metrics import DEFAULT_METRICS, EvalResult, evaluate, parse_metric
from legalrag.eval.options import EvalOptions
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
    "EvalOptions",
    "EvalReport",
    "EvalResult",
    "QueryRecord",
    "detect_format",
    "evaluate",
    "evaluate_collection",
    "load_dataset",
    "parse_metric",
    "plot_accuracy_curves",
    "render_table",
    "write_json",
    "write_run_jsonl",
    "write_trec_run",
]


def __getattr__(name: str) -> Any:
    if name in ("EvalReport", "evaluate_collection"):
        from legalrag.eval import evaluation

        value = getattr(evaluation, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'legalrag.eval' has no attribute {name!r}")


if TYPE_CHECKING:
    from legalrag.eval.evaluation import EvalReport, evaluate_collection
