"""``legalrag train``: one call of :func:`legalrag.train.train_model`, with progress bars and a summary."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from legalrag.cli._options import CollectionOpt, Connection, connected
from legalrag.output import Output, fail_cleanly, safe

__all__ = ["train"]


@connected()
def train(
    dataset: Annotated[Path, typer.Argument(help="Dataset legalrag eval reads (BEIR with a train split, pairs, ...).")],
    model: Annotated[str, typer.Option(help="Base sentence-transformers model: hub name, folder or pkg:<module>.")],
    output: Annotated[Path, typer.Option(help="Folder for the trained model (and reranker/ inside it).")],
    collection: CollectionOpt = None,
    dataset_format: Annotated[str, typer.Option("--format", help="auto, beir, pairs, zalo, autorag, mteb.")] = "auto",
    split: Annotated[str | None, typer.Option(help="Training split (default: train, else a seeded 80/10/10).")] = None,
    eval_split: Annotated[str | None, typer.Option(help="Held-out split reported (default: test, else dev).")] = None,
    epochs: Annotated[float, typer.Option(min=0.01, help="Training epochs.")] = 1.0,
    batch_size: Annotated[int, typer.Option(min=2, help="Effective batch: in-batch negatives per step.")] = 64,
    mini_batch_size: Annotated[int, typer.Option(min=1, help="Texts per forward pass (CachedMNRL).")] = 16,
    negatives: Annotated[int, typer.Option(min=0, help="Hard negatives mined per pair.")] = 1,
    relative_margin: Annotated[
        float,
        typer.Option(
            help="Skip a candidate whose base-model cosine is within this share of the positive's"
            " (a likely unlabelled positive); 0 keeps the hardest."
        ),
    ] = 0.05,
    loss: Annotated[str, typer.Option(help="cached_mnrl, mnrl, matryoshka, gist or cached_gist.")] = "cached_mnrl",
    loss_scale: Annotated[
        float, typer.Option(help="Similarity scale of the ranking loss, 1/temperature (E5 was pre-trained at 100).")
    ] = 20.0,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-5,
    max_seq_length: Annotated[
        int,
        typer.Option(
            min=16,
            help="Tokens per text while training: a cost cap (the embedding model keeps its own limit;"
            " a reranker pair, query and passage, gets twice this, at most 512).",
        ),
    ] = 256,
    max_pairs: Annotated[int | None, typer.Option(min=1, help="Train on at most this many pairs.")] = None,
    reranker: Annotated[bool, typer.Option("--reranker", help="Also train a cross-encoder reranker.")] = False,
    reranker_base: Annotated[
        str | None,
        typer.Option(help="Start the reranker from this model (a cross-encoder such as BAAI/bge-reranker-v2-m3)."),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of splits, shuffles and training.")] = 13,
    gradient_checkpointing: Annotated[bool, typer.Option(help="Less memory, more compute.")] = False,
    precision: Annotated[
        str, typer.Option(help="auto (bf16 on CUDA and on CPUs with native bf16, else fp32), fp32, bf16, fp16.")
    ] = "auto",
    save_steps: Annotated[int, typer.Option(min=1, help="A checkpoint every this many steps.")] = 200,
    *,
    conn: Connection,
) -> None:
    """Fine-tune an embedding model (and a reranker) on your Q&A; report the held-out split before and after."""
    out = Output(conn.as_json)
    with fail_cleanly(out):
        from legalrag.train.options import TrainOptions
        from legalrag.train.service import train_model

        settings = conn.settings()
        # flags arrive as plain strings: the options type validates them (exit 2 with the field's name)
        options = TrainOptions.model_validate(
            {
                "model": model,
                "output": output,
                "collection": collection,
                "dataset_format": dataset_format,
                "split": split,
                "eval_split": eval_split,
                "epochs": epochs,
                "batch_size": batch_size,
                "mini_batch_size": mini_batch_size,
                "negatives": negatives,
                "relative_margin": relative_margin,
                "loss": loss,
                "loss_scale": loss_scale,
                "learning_rate": learning_rate,
                "max_seq_length": max_seq_length,
                "max_pairs": max_pairs,
                "reranker": reranker,
                "reranker_base": reranker_base,
                "resume": resume,
                "seed": seed,
                "gradient_checkpointing": gradient_checkpointing,
                "precision": precision,
                "save_steps": save_steps,
            }
        )
        report = train_model(
            dataset,
            options,
            settings=settings,
            progress=_bars(out) if out.interactive else None,
            show_progress=out.interactive,
        )
        out.emit(report.as_dict(), lambda c: _print(c, report.as_dict()))


def _bars(out: Output) -> Callable[[str, int], contextlib.AbstractContextManager[Callable[[], None]]]:
    @contextlib.contextmanager
    def bar(label: str, total: int) -> Iterator[Callable[[], None]]:
        from legalrag.eval.progress import QueryProgress

        with QueryProgress(out.console, enabled=True) as progress:
            yield progress.row(label, total)

    return bar


def _print(console: Any, report: dict[str, Any]) -> None:
    from legalrag.eval.report import render_table

    rows = {f"{name} ({when})": metrics for when in ("before", "after") for name, metrics in report[when].items()}
    keys = ("accuracy@1", "accuracy@10", "mrr@10", "ndcg@10", "map@100")
    render_table({name: {k: m[k] for k in keys if k in m} for name, m in rows.items()}, console)
    console.print(
        f"trained {safe(report['model'])} from {safe(report['base'])} on {report['train_pairs']} pairs "
        f"({report['sizes']['leaks_removed']} leaked queries removed); "
        f"loss {report['loss_first']} → {report['loss_last']}",
        highlight=False,
    )
    for warning in report.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {safe(warning)}", highlight=False)
