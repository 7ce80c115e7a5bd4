"""``legalrag eval``: evaluate one or several search configurations over one dataset.

``--tune`` picks fusion settings on the dev split (:mod:`legalrag.eval.tune`), stores them with the
collection and adds a ``tuned`` row (and a ``best fusion`` row when a single mode won, to show what
fusion would have given); ``--rerank MODEL`` adds a ``<row>+rerank`` row per configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from legalrag.output import Output, fail_cleanly

if TYPE_CHECKING:
    from legalrag.eval.datasets import EvalDataset
    from legalrag.eval.tune import TuneResult
    from legalrag.plugin.dense_adapters import DenseModel
    from legalrag.plugin.search import Searcher
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store.base import Store

__all__ = ["eval_command"]


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
    metrics_compat: Annotated[str, typer.Option(help="st (sentence-transformers) or trec (trec_eval/ranx).")] = "st",
    dataset_format: Annotated[str, typer.Option("--format", help="auto, beir, pairs, zalo, autorag, mteb.")] = "auto",
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
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N.")] = None,
    qdrant_url: Annotated[str | None, typer.Option("--qdrant-url")] = None,
    qdrant_api_key: Annotated[str | None, typer.Option("--qdrant-api-key")] = None,
    qdrant_path: Annotated[Path | None, typer.Option("--qdrant-path")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Ingest the dataset's corpus if the collection is empty, run its queries, print the metrics."""
    out = Output(as_json)
    with fail_cleanly(out):
        from legalrag.cli import _settings, _store
        from legalrag.eval.datasets import load_dataset
        from legalrag.eval.harness import run_queries, score_run
        from legalrag.eval.metrics import DEFAULT_METRICS, parse_metric
        from legalrag.eval.progress import QueryProgress
        from legalrag.plugin.components import open_searcher
        from legalrag.plugin.errors import InputError

        if metrics_compat not in ("st", "trec"):
            raise InputError("--metrics-compat must be st or trec")
        parse_metric(objective)
        settings = _settings(
            collection=collection,
            model=model,
            device=device,
            qdrant_url=qdrant_url,
            qdrant_api_key=qdrant_api_key,
            qdrant_path=qdrant_path,
        )
        data = load_dataset(dataset, format=dataset_format, split=split)
        dev, dev_split = _dev_set(dataset, dataset_format, tune_split, data) if tune else (None, None)
        modes = mode or (["dense", "sparse", "hybrid"] if tune else [settings.search.mode])
        store = _store(settings)
        try:
            encoder, ingest_stats = _prepare(settings, store, data, out, need_dense=tune or modes != ["sparse"])
            rows: dict[str, Searcher] = {}
            variants = [(m, e) for m in modes for e in (False, True)] if compare_exact else [(m, exact) for m in modes]
            for chosen_mode, is_exact in variants:
                name = chosen_mode + (" exact" if is_exact and compare_exact else "")
                searcher = open_searcher(settings, store, dense=encoder, mode=chosen_mode, exact=is_exact)
                rows[name] = searcher.with_config(**_untuned(settings)) if tune else searcher
            tuned: TuneResult | None = None
            if dev is not None:
                tuned = _tune(settings, store, encoder, dev, objective, metrics_compat, exact=exact, out=out)
                rows["tuned"] = open_searcher(
                    settings, store, dense=encoder, mode=tuned.chosen.config.mode, exact=exact
                )
                if not tuned.fusion_wins and tuned.best_fusion is not None:  # what fusion would have given
                    fusion = tuned.best_fusion.config
                    hybrid = open_searcher(settings, store, dense=encoder, mode="hybrid", exact=exact)
                    rows["best fusion"] = hybrid.with_config(
                        fusion=fusion.fusion, rrf_k=fusion.rrf_k, weights=fusion.weights
                    )
            if rerank is not None:
                rows.update(_rerank_rows(rows, rerank, rerank_top_n, settings.device))
            results = {}
            with QueryProgress(out.console, enabled=out.interactive) as progress:
                ticks = {name: progress.row(name, total=len(data.queries)) for name in rows}
                for name, searcher in rows.items():
                    run = run_queries(
                        searcher,
                        data.queries,
                        name=name,
                        depth=_depth(),
                        mode=searcher.config.mode,
                        on_query=ticks[name],
                    )
                    results[name] = score_run(run, data.qrels, DEFAULT_METRICS, metrics_compat)
        finally:
            store.close()
        summaries = {name: r.summary() for name, r in results.items()}
        tuning = None
        if tuned is not None and dev is not None:
            tuning = {
                **tuned.as_dict(),
                "split": dev_split,
                "queries": len(dev.queries),
                "stored": True,
                "eval": _compare_on_eval(summaries, objective),
            }
        warnings: list[str] = []
        if output is not None:
            warnings = _write_outputs(output, data, results, summaries)
            for warning in warnings:
                out.console.print(f"[yellow]TREC run not written[/] ({warning})", highlight=False)
        payload: dict[str, Any] = {
            "warnings": warnings,
            "dataset": data.name,
            "collection": settings.collection,
            "queries": len(data.queries),
            "metrics_compat": metrics_compat,
            "exact": exact,
            "ingest": ingest_stats,
            "metrics": next(iter(results.values())).metrics,
            "results": summaries,
            "tune": tuning,
        }
        out.emit(payload, lambda c: _print(c, summaries, tuning))


def _depth() -> int:
    from legalrag.eval.harness import required_depth
    from legalrag.eval.metrics import DEFAULT_METRICS

    return required_depth(DEFAULT_METRICS)


def _dev_set(dataset: Path, fmt: str, tune_split: str | None, data: EvalDataset) -> tuple[EvalDataset, str | None]:
    """The tuning split: ``--tune-split``, else ``dev`` when the dataset has one, else the evaluated set
    (split ``None``: the report then says the tuned numbers are optimistic)."""
    from legalrag.eval.datasets import load_dataset
    from legalrag.plugin.errors import InputError

    if tune_split is not None:
        return load_dataset(dataset, format=fmt, split=tune_split), tune_split
    try:
        return load_dataset(dataset, format=fmt, split="dev"), "dev"
    except InputError:  # no dev split (or a format without splits)
        return data, None


def _prepare(
    settings: Settings, store: Store, data: EvalDataset, out: Output, *, need_dense: bool
) -> tuple[DenseModel | None, dict[str, Any] | None]:
    """Ingest the corpus into an empty collection; load the dense model when a row needs it."""
    from legalrag.eval.harness import corpus_documents
    from legalrag.ingest.progress import IngestProgress
    from legalrag.ingest.service import make_ingestor
    from legalrag.plugin.components import load_dense, model_for

    info = store.get_collection(settings.collection)
    if info is None or info.points == 0:
        encoder = load_dense(settings)
        ingestor = make_ingestor(settings, store, encoder)
        with IngestProgress(out.console, enabled=out.interactive, total=len(data.corpus)) as progress:
            stats = ingestor.run(corpus_documents(data), on_progress=progress.update).as_dict()
        store.optimize(settings.collection)
        return encoder, stats
    if need_dense:
        return load_dense(settings, model_for(settings, dict(info.metadata))), None
    return None, None


def _untuned(settings: Settings) -> dict[str, Any]:
    """Fusion fields as the settings give them, ignoring what the collection stores (a fair baseline)."""
    return {"fusion": settings.search.fusion, "rrf_k": settings.search.rrf_k, "weights": None}


def _tune(
    settings: Settings,
    store: Store,
    encoder: DenseModel | None,
    dev: EvalDataset,
    objective: str,
    compat: str,
    *,
    exact: bool,
    out: Output,
) -> TuneResult:
    """Run the grid on ``dev`` (a progress bar on a terminal) and store the choice with the collection."""
    from legalrag.eval.metrics import DEFAULT_METRICS
    from legalrag.eval.progress import QueryProgress
    from legalrag.eval.tune import SINGLE_MODES, fusion_grid, searcher_evaluator, store_tuned, tune
    from legalrag.plugin.components import open_searcher

    metrics = list(dict.fromkeys([*DEFAULT_METRICS, objective]))
    base = open_searcher(settings, store, dense=encoder, mode="hybrid", exact=exact)
    grid = fusion_grid()
    settings_tried = len(SINGLE_MODES) + len(grid)
    with QueryProgress(out.console, enabled=out.interactive) as progress:
        tick = progress.row(f"tuning, {settings_tried} settings", total=settings_tried * len(dev.queries))
        evaluate = searcher_evaluator(base, dev, metrics=metrics, depth=_depth(), compat=compat, on_query=tick)
        result = tune(evaluate, objective=objective, grid=grid, singles=SINGLE_MODES)
    store_tuned(store, settings.collection, result.chosen.config)
    return result


def _rerank_rows(rows: dict[str, Searcher], model: str, top_n: int, device: str) -> dict[str, Searcher]:
    from legalrag.plugin.rerank import Reranker

    reranker = Reranker.load(model, device, top_n=top_n)
    extra = {}
    for name, searcher in rows.items():
        clone = searcher.with_config()
        clone.reranker = reranker
        extra[f"{name}+rerank"] = clone
    return extra


def _compare_on_eval(summaries: dict[str, dict[str, float]], objective: str) -> dict[str, Any] | None:
    """How the tuned configuration fares on the evaluated split against the best single mode there."""
    singles = {m: summaries[m][objective] for m in ("dense", "sparse") if objective in summaries.get(m, {})}
    tuned = summaries["tuned"].get(objective)
    if not singles or tuned is None:
        return None
    best = max(singles, key=lambda m: (singles[m], m == "dense"))
    return {
        "best_single": best,
        "best_single_score": singles[best],
        "tuned_score": tuned,
        "tuned_ge_best_single": tuned >= singles[best],
    }


def _print(console: Any, summaries: dict[str, dict[str, float]], tuning: dict[str, Any] | None) -> None:
    from legalrag.eval.report import render_table

    render_table(summaries, console)
    if tuning is None:
        return
    objective, single, chosen = tuning["objective"], tuning["best_single"], tuning["chosen"]
    where = f"split {tuning['split']!r}" if tuning["split"] else "the evaluated split (no dev split: optimistic)"
    console.print(f"tuned on {where}, {tuning['queries']} queries, objective {objective}")
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


def _write_outputs(folder: Path, data: Any, results: dict[str, Any], summaries: dict[str, Any]) -> list[str]:
    """Write results.json, per-query JSONL and TREC runs and the chart; returns why TREC runs were skipped."""
    from legalrag.eval.report import plot_accuracy_curves, write_json, write_run_jsonl, write_trec_run
    from legalrag.plugin.errors import InputError

    skipped_trec: list[str] = []

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "results.json", summaries)
    for name, result in results.items():
        slug = name.replace(" ", "-").replace("+", "-")
        rows = [
            {
                "query_id": qid,
                "query": data.queries[qid],
                "ranking": [{"doc_id": d, "score": s} for d, s in ranked],
                "relevant": sorted(d for d, r in data.qrels.get(qid, {}).items() if r > 0),
                "metrics": result.per_query.get(qid, {}),
                "latency_ms": result.latencies_ms[qid],
            }
            for qid, ranked in result.run.items()
        ]
        write_run_jsonl(folder / f"run-{slug}.jsonl", rows)
        try:
            write_trec_run(folder / f"run-{slug}.trec", result.run, slug)
        except InputError as exc:  # ids with spaces: the JSONL run above still has everything
            skipped_trec.append(f"{slug}: {exc}")
    plot_accuracy_curves(folder / "accuracy.png", summaries, [1, 3, 5, 10])
    return skipped_trec
