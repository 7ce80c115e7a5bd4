"""``legalrag eval``: one call of :func:`legalrag.eval.evaluate_collection`, with progress bars and a table."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from legalrag.cli._options import Connection, connected
from legalrag.output import Output, fail_cleanly, safe

if TYPE_CHECKING:
    from rich.console import Console

    from legalrag.ingest.pipeline import IngestStats

__all__ = ["TerminalEvalProgress", "eval_command"]


@connected()
def eval_command(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder: BEIR, Zalo, AutoRAG/MTEB parquet, or pairs file.")],
    collection: Annotated[
        str | None,
        typer.Option("--collection", "-c", help="Collection (ingested from the corpus when empty)."),
    ] = None,
    mode: Annotated[
        list[str] | None, typer.Option("--mode", help="dense, sparse or hybrid; repeat to compare.")
    ] = None,
    exact: Annotated[
        bool, typer.Option(help="Exact (brute-force) search, comparable to a brute-force evaluator.")
    ] = False,
    compare_exact: Annotated[
        bool, typer.Option(help="Report each mode with the index and exactly, side by side.")
    ] = False,
    metrics_compat: Annotated[
        str, typer.Option(help="st (sentence-transformers), trec (trec_eval/ranx) or autorag (AutoRAG's metrics).")
    ] = "st",
    top_k: Annotated[
        list[int] | None, typer.Option("--top-k", help="AutoRAG top-k cutoffs, repeatable (default 1 3 5 10).")
    ] = None,
    dataset_format: Annotated[str, typer.Option("--format", help="auto, beir, pairs, zalo, autorag, mteb.")] = "auto",
    corpus_file: Annotated[
        Path | None, typer.Option("--corpus", help="AutoRAG corpus parquet, when the folder holds several.")
    ] = None,
    queries_file: Annotated[
        Path | None, typer.Option("--queries", help="AutoRAG QA parquet, when the folder holds several.")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="qrels split (default: test for BEIR/MTEB, train for Zalo).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for results.json, per-query runs and the chart.")] = None,
    tune: Annotated[
        bool,
        typer.Option("--tune", help="Pick fusion settings on the dev split and store them with the collection."),
    ] = False,
    tune_split: Annotated[
        str | None, typer.Option(help="qrels split to tune on (default: dev, else the evaluated split).")
    ] = None,
    objective: Annotated[str, typer.Option(help="Metric --tune maximises.")] = "mrr@10",
    rerank: Annotated[
        str | None, typer.Option(help="Cross-encoder (hub name, folder): adds a '<row>+rerank' row per row.")
    ] = None,
    rerank_top_n: Annotated[int, typer.Option(min=1, help="Candidates the reranker re-scores.")] = 50,
    model: Annotated[
        str | None, typer.Option(help="Embedding model: hub name, folder, pkg:<module> or use:multilingual.")
    ] = None,
    *,
    conn: Connection,
) -> None:
    """Ingest the dataset's corpus if the collection is empty, run its queries, print the metrics."""
    out = Output(conn.as_json)
    with fail_cleanly(out):
        from legalrag.eval.autorag_metrics import DEFAULT_TOP_K
        from legalrag.eval.evaluation import evaluate_collection
        from legalrag.eval.options import EvalOptions

        settings = conn.settings(collection=collection, model=model)
        # flags arrive as plain strings: the options type validates them (exit 2 with the field's name)
        options = EvalOptions.model_validate(
            {
                "modes": tuple(mode or ()),
                "exact": exact,
                "compare_exact": compare_exact,
                "metrics_compat": metrics_compat,
                "top_k": tuple(top_k) if top_k else DEFAULT_TOP_K,
                "dataset_format": dataset_format,
                "split": split,
                "corpus_file": corpus_file,
                "queries_file": queries_file,
                "tune": tune,
                "tune_split": tune_split,
                "objective": objective,
                "rerank": rerank,
                "rerank_top_n": rerank_top_n,
            }
        )
        progress = TerminalEvalProgress(out.console, enabled=out.interactive)
        report = evaluate_collection(dataset, options, settings=settings, progress=progress)
        for part, file in (report.dataset.sources or {}).items():
            out.console.print(f"{part}: {safe(file)}", highlight=False)
        if output is not None:
            for warning in report.write(output):
                out.console.print(f"[yellow]TREC run not written[/] ({safe(warning)})", highlight=False)
        out.emit(report.as_dict(), lambda c: _print(c, report.summaries, report.tune))


class TerminalEvalProgress:
    """:class:`~legalrag.eval.evaluation.EvalProgress` as rich bars on a terminal; silent when not ``enabled``."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled

    @contextlib.contextmanager
    def ingest(self, total: int) -> Iterator[Callable[[IngestStats], None]]:
        from legalrag.ingest.progress import IngestProgress

        with IngestProgress(self.console, enabled=self.enabled, total=total) as progress:
            yield progress.update

    @contextlib.contextmanager
    def queries(self) -> Iterator[Callable[[str, int], Callable[[], None]]]:
        from legalrag.eval.progress import QueryProgress

        with QueryProgress(self.console, enabled=self.enabled) as progress:
            yield progress.row


def _print(console: Any, summaries: dict[str, dict[str, float]], tuning: dict[str, Any] | None) -> None:
    from legalrag.eval.report import render_table

    render_table(summaries, console)
    if tuning is None:
        return
    objective, single, chosen = tuning["objective"], tuning["best_single"], tuning["chosen"]
    where = f"split {tuning['split']!r}" if tuning["split"] else "the evaluated split (no dev split: optimistic)"
    console.print(f"tuned on {safe(where)}, {tuning['queries']} queries, objective {safe(objective)}")
    fusion = tuning["best_fusion"]
    if fusion is not None:
        console.print(f"  best fusion: {fusion['label']} {fusion['score']:.4f}")
    console.print(f"  best single mode: {single['label']} {single['score']:.4f}")
    verdict = "fusion beats it" if tuning["fusion_wins"] else "no fusion beats it: the single mode is stored"
    console.print(
        f"  stored: {chosen['label']} {chosen['score']:.4f} ({verdict}); tuned >= best single: "
        f"{'yes' if tuning['chosen_ge_best_single'] else 'NO'}"
    )
    ev = tuning.get("eval")
    if ev:
        holds = "yes" if ev["tuned_ge_best_single"] else "NO"
        console.print(
            f"  on the evaluated split: tuned {ev['tuned_score']:.4f} vs {ev['best_single']} "
            f"{ev['best_single_score']:.4f}: tuned >= best single: {holds}"
        )
