"""Reports: a rich comparison table, JSON summaries, per-query JSONL, TREC runs and accuracy@k plots.

The writers create missing parent folders and write UTF-8 (``ensure_ascii=False``, so Vietnamese or
Korean queries stay readable). Rankings are ordered with :func:`legalrag.eval.metrics.rank_documents`,
the same score-then-doc-id order the metrics use, so a rank shown in a report is the rank that was scored.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from legalrag.eval.metrics import rank_documents
from legalrag.plugin.errors import InputError, MissingExtraError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "BEST_MARK",
    "COST_HINTS",
    "QueryRecord",
    "plot_accuracy_curves",
    "render_table",
    "write_json",
    "write_run_jsonl",
    "write_trec_run",
]

#: appended to the best value of each metric column
BEST_MARK = "★"

ScoredRun = Mapping[str, Sequence[tuple[str, float]] | Mapping[str, float]]


#: column-name fragments that mark a cost (lower is better) rather than a score
COST_HINTS: tuple[str, ...] = ("latency", "seconds", "time", "_ms", "memory", "bytes")


def _metric_columns(results: Mapping[str, Mapping[str, float]]) -> list[str]:
    return list(dict.fromkeys(metric for row in results.values() for metric in row))


def _best_values(
    results: Mapping[str, Mapping[str, float]], metrics: Sequence[str], lower_is_better: Collection[str]
) -> dict[str, float]:
    best: dict[str, float] = {}
    for metric in metrics:
        values = [row[metric] for row in results.values() if metric in row and not math.isnan(row[metric])]
        if len(values) >= 2:
            best[metric] = min(values) if metric in lower_is_better else max(values)
    return best


def render_table(
    results: Mapping[str, Mapping[str, float]],
    console: Console,
    *,
    title: str | None = None,
    lower_is_better: Collection[str] | None = None,
) -> None:
    """Print one table: configurations as rows, metrics as columns, the best of each metric in bold + ★.

    On a console too narrow for every metric column the table is turned (metrics as rows).

    Retrieval metrics are higher-is-better; columns in ``lower_is_better`` (by default those whose name
    contains one of :data:`COST_HINTS`, e.g. ``latency_ms_p50``) are lower-is-better. Ties for best are
    all marked; a column with fewer than two values marks nothing (there is nothing to compare).

    Example:
        >>> from rich.console import Console
        >>> results = {"dense": {"ndcg@10": 0.61}, "hybrid": {"ndcg@10": 0.67}}
        >>> render_table(results, Console())  # doctest: +SKIP
    """
    metrics = _metric_columns(results)
    if lower_is_better is None:
        lower_is_better = {m for m in metrics if any(hint in m.lower() for hint in COST_HINTS)}
    best = _best_values(results, metrics, lower_is_better)

    def cell(metric: str, value: float | None) -> Text:
        if value is None or math.isnan(value):
            return Text("–", style="dim")
        if metric in best and math.isclose(value, best[metric], rel_tol=0.0, abs_tol=1e-12):
            return Text(f"{value:.4f} {BEST_MARK}", style="bold")
        return Text(f"{value:.4f}")

    table = Table(title=title)
    # ~11 characters a column: when the metrics do not fit across, show them down the side instead
    if (len(metrics) + 1) * 11 <= console.width:
        table.add_column("configuration", style="cyan", no_wrap=True)
        for metric in metrics:
            table.add_column(metric, justify="right")
        for config, row in results.items():
            table.add_row(Text(config), *(cell(metric, row.get(metric)) for metric in metrics))
    else:
        table.add_column("metric", style="cyan", no_wrap=True)
        for config in results:
            table.add_column(config, justify="right", no_wrap=True)
        for metric in metrics:
            table.add_row(Text(metric), *(cell(metric, row.get(metric)) for row in results.values()))
    console.print(table)


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _prepare(path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented UTF-8 JSON (dataclasses, sets, paths and numpy scalars allowed)."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=_json_default)
    _prepare(path).write_text(text + "\n", encoding="utf-8")


@dataclass(frozen=True)
class QueryRecord:
    """What one query retrieved and how it scored: a line of the per-query JSONL for error analysis.

    Attributes:
        query_id: the query's id.
        query: the query text.
        hits: retrieved ``(doc_id, score)`` pairs, in any order (ranked when written).
        relevant: ids of the relevant documents.
        metrics: this query's metric values.

    Example:
        >>> hits = [("d2", 0.4), ("d1", 0.9)]
        >>> record = QueryRecord("q1", "tuổi thành niên?", hits, {"d1"}, {"mrr@10": 1.0})
        >>> record.to_dict()["first_relevant_rank"]
        1
    """

    query_id: str
    query: str
    hits: Sequence[tuple[str, float]]
    relevant: Collection[str]
    metrics: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ids, text, ranked results flagged relevant or not, first relevant rank."""
        ranked = rank_documents(self.hits)
        results = [
            {"rank": rank, "doc_id": doc_id, "score": score, "relevant": doc_id in self.relevant}
            for rank, (doc_id, score) in enumerate(ranked, start=1)
        ]
        first = next((r["rank"] for r in results if r["relevant"]), None)
        return {
            "query_id": self.query_id,
            "query": self.query,
            "relevant_ids": sorted(self.relevant),
            "first_relevant_rank": first,
            "metrics": dict(self.metrics),
            "results": results,
        }


def write_run_jsonl(path: str | Path, per_query_rows: Iterable[QueryRecord | Mapping[str, Any]]) -> None:
    """Write one JSON object per query (a :class:`QueryRecord`, or a ready mapping written as is)."""
    with _prepare(path).open("w", encoding="utf-8") as out:
        for row in per_query_rows:
            data = row.to_dict() if isinstance(row, QueryRecord) else dict(row)
            out.write(json.dumps(data, ensure_ascii=False, default=_json_default) + "\n")


def _check_token(value: str, what: str) -> str:
    if not value or any(ch.isspace() for ch in value):
        raise InputError(f"{what} {value!r} is empty or contains whitespace, which TREC run files cannot hold")
    return value


def write_trec_run(path: str | Path, run: ScoredRun, tag: str) -> None:
    """Write ``run`` in TREC format, one line per hit: ``qid Q0 docid rank score tag``.

    Ranks start at 1 in the metrics' order; scores are written with full precision (``repr``), so no
    ties are invented. Note that trec_eval re-sorts by score and breaks ties by doc id *descending*.

    Raises:
        InputError: an id or the tag is empty or contains whitespace.
    """
    _check_token(tag, "run tag")
    # every line is checked before the file is opened: a bad id must not leave half a run behind
    lines = [
        f"{_check_token(query_id, 'query id')} Q0 {_check_token(doc_id, 'doc id')} {rank} {score!r} {tag}\n"
        for query_id, hits in run.items()
        for rank, (doc_id, score) in enumerate(rank_documents(hits), start=1)
    ]
    with _prepare(path).open("w", encoding="utf-8") as out:
        out.writelines(lines)


def plot_accuracy_curves(path: str | Path, results: Mapping[str, Mapping[str, float]], ks: Sequence[int]) -> None:
    """Save a PNG with one accuracy@k curve per configuration (x: k, y: accuracy@k).

    Raises:
        MissingExtraError: matplotlib is not installed.
        InputError: ``ks`` is empty, or a configuration lacks an ``accuracy@k`` value.
    """
    if not ks:
        raise InputError("ks is empty: pass the cutoffs to plot, e.g. [1, 3, 5, 10]")
    for config, row in results.items():
        missing = [f"accuracy@{k}" for k in ks if f"accuracy@{k}" not in row]
        if missing:
            raise InputError(f"configuration {config!r} has no {', '.join(missing)}: evaluate those metrics")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "eval", "Plotting accuracy curves") from exc
    figure = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(figure)  # Agg directly, never pyplot: no global state, no display needed
    axes = figure.add_subplot()
    for config, row in results.items():
        axes.plot(list(ks), [row[f"accuracy@{k}"] for k in ks], marker="o", label=config)
    axes.set_xlabel("k")
    axes.set_ylabel("accuracy@k")
    axes.set_xticks(list(ks))
    axes.set_ylim(0.0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(_prepare(path), format="png", dpi=120)
