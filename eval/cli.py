"""``legalrag eval``: evaluate one or several search configurations over one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from legalrag.output import Output, fail_cleanly

__all__ = ["eval_command"]


def eval_command(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder: BEIR, Zalo, AutoRAG/MTEB parquet, or pairs file.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection (ingested from the corpus when empty).")] = None,
    mode: Annotated[list[str] | None, typer.Option("--mode", help="dense, sparse or hybrid; repeat to compare.")] = None,
    exact: Annotated[bool, typer.Option(help="Exact (brute-force) search, comparable to a brute-force evaluator.")] = False,
    compare_exact: Annotated[bool, typer.Option(help="Report each mode with the index and exactly, side by side.")] = False,
    metrics_compat: Annotated[str, typer.Option(help="st (sentence-transformers) or trec (trec_eval/ranx).")] = "st",
    dataset_format: Annotated[str, typer.Option("--format", help="auto, beir, pairs, zalo, autorag, mteb.")] = "auto",
    split: Annotated[str | None, typer.Option(help="qrels split (default: test for BEIR/MTEB, train for Zalo).")] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for results.json, per-query runs and the chart.")] = None,
    model: Annotated[str | None, typer.Option(help="Embedding model.")] = None,
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
        from legalrag.eval.harness import corpus_documents, required_depth, run_queries, score_run
        from legalrag.eval.metrics import DEFAULT_METRICS
        from legalrag.ingest.service import make_ingestor
        from legalrag.plugin.components import load_dense, model_for, open_searcher
        from legalrag.plugin.errors import InputError

        if metrics_compat not in ("st", "trec"):
            raise InputError("--metrics-compat must be st or trec")
        settings = _settings(collection=collection, model=model, device=device, qdrant_url=qdrant_url,
                             qdrant_api_key=qdrant_api_key, qdrant_path=qdrant_path)
        data = load_dataset(dataset, format=dataset_format, split=split)
        modes = mode or [settings.search.mode]
        store = _store(settings)
        try:
            info = store.get_collection(settings.collection)
            encoder = None
            ingest_stats = None
            if info is None or info.points == 0:
                encoder = load_dense(settings)
                ingestor = make_ingestor(settings, store, encoder)
                ingest_stats = ingestor.run(corpus_documents(data)).as_dict()
                store.optimize(settings.collection)
                info = store.get_collection(settings.collection)
            elif "dense" in modes or "hybrid" in modes:
                encoder = load_dense(settings, model_for(settings, dict(info.metadata)))
            depth = required_depth(DEFAULT_METRICS)
            variants = [(m, exact) for m in modes]
            if compare_exact:
                variants = [(m, e) for m in modes for e in (False, True)]
            results = {}
            for chosen_mode, is_exact in variants:
                name = chosen_mode + (" exact" if is_exact and compare_exact else "")
                searcher = open_searcher(settings, store, dense=encoder, mode=chosen_mode, exact=is_exact)
                result = run_queries(searcher, data.queries, name=name, depth=depth, mode=chosen_mode)
                results[name] = score_run(result, data.qrels, DEFAULT_METRICS, metrics_compat)
        finally:
            store.close()
        summaries = {name: r.summary() for name, r in results.items()}
        if output is not None:
            _write_outputs(output, data, results, summaries)
        first = next(iter(results.values()))
        payload: dict[str, Any] = {
            "dataset": data.name,
            "collection": settings.collection,
            "queries": len(data.queries),
            "metrics_compat": metrics_compat,
            "exact": exact,
            "ingest": ingest_stats,
            "metrics": first.metrics,
            "results": summaries,
        }
        out.emit(payload, lambda c: _print(c, summaries))


def _print(console: Any, summaries: dict[str, dict[str, float]]) -> None:
    from legalrag.eval.report import render_table

    render_table(summaries, console)


def _write_outputs(folder: Path, data: Any, results: dict[str, Any], summaries: dict[str, Any]) -> None:
    from legalrag.eval.report import plot_accuracy_curves, write_json, write_run_jsonl, write_trec_run

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
        write_trec_run(folder / f"run-{slug}.trec", result.run, slug)
    plot_accuracy_curves(folder / "accuracy.png", summaries, [1, 3, 5, 10])
