"""``legalrag ingest``: one call of :func:`legalrag.ingest.ingest_paths`, with a progress bar and Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from legalrag.cli._options import CollectionOpt, Connection, ModelOpt, connected, first_use_note
from legalrag.output import Output, fail_cleanly, safe

__all__ = ["ingest"]

_SUMMARY_ROWS = (
    "files",
    "documents",
    "added",
    "updated",
    "unchanged",
    "deleted",
    "chunks",
    "upserted",
    "skipped",
    "tokens",
    "seconds",
)


@connected()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.", exists=False)],
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    include: Annotated[list[str] | None, typer.Option(help="Glob of files to include (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to exclude (repeatable).")] = None,
    doc_id_root: Annotated[
        Path | None, typer.Option(help="Document ids are paths under this folder (default: under each argument).")
    ] = None,
    max_file_mb: Annotated[float, typer.Option(min=0.001, help="Skip (and report) larger files.")] = 100.0,
    follow_symlinks: Annotated[
        bool, typer.Option(help="Read links that lead outside the folder being ingested.")
    ] = False,
    sparse: Annotated[bool, typer.Option("--sparse/--no-sparse", help="Store BM25 sparse vectors too.")] = True,
    recreate: Annotated[bool, typer.Option(help="Drop and recreate the collection first.")] = False,
    sync: Annotated[bool, typer.Option(help="Delete stored documents whose files are gone.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any file failed.")] = False,
    tenant: Annotated[str | None, typer.Option(help="Write this tenant on every point.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Chunks per embed/upsert batch.")] = 256,
    backend: Annotated[
        str | None,
        typer.Option(help="torch, onnx or openvino (the last two on the CPU) (env LEGALRAG_EMBEDDING__BACKEND)."),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="auto, fp32, bf16 or fp16 (env LEGALRAG_EMBEDDING__PRECISION)."),
    ] = None,
    quantize: Annotated[
        str | None, typer.Option(help="none or int8 (onnx backend) (env LEGALRAG_EMBEDDING__QUANTIZE).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (a Ray cluster's workers; pip install 'legalrag[ray]').")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="The Ray cluster to join (auto, ray://host:10001; default: a local one).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Ray embedding workers (default: one per GPU, or one).")
    ] = None,
    gpus_per_worker: Annotated[
        float | None, typer.Option(min=0, help="GPUs per Ray embedding worker (default: 1 where there are GPUs).")
    ] = None,
    *,
    conn: Connection,
) -> None:
    """Load, chunk, embed and upsert documents; re-runs are incremental and idempotent."""
    out = Output(conn.as_json)
    with fail_cleanly(out):
        from legalrag.ingest.loaders import existing_paths

        existing_paths(paths)  # a wrong path fails here, before the store and model code is imported
        from legalrag.ingest.options import IngestOptions
        from legalrag.ingest.progress import IngestProgress

        settings = conn.settings(
            collection=collection,
            model=model,
            embedding={"backend": backend, "precision": precision, "quantize": quantize},
        )
        # flags arrive as plain strings: the options type validates them (exit 2 with the field's name)
        options = IngestOptions.model_validate(
            {
                "include": tuple(include or ()),
                "exclude": tuple(exclude or ()),
                "doc_id_root": doc_id_root,
                "max_file_mb": max_file_mb,
                "follow_symlinks": follow_symlinks,
                "sparse": sparse,
                "recreate": recreate,
                "sync": sync,
                "tenant": tenant,
                "chunks_per_batch": batch_size,
                "engine": engine,
                "ray_address": ray_address,
                "workers": workers,
                "gpus_per_worker": gpus_per_worker,
            }
        )
        # unreadable input and a model that cannot load fail here, in milliseconds, before torch is imported
        files = _planned_files(paths, options)
        if model is not None:
            from legalrag.plugin.models.encoder import check_model_name

            check_model_name(
                settings.model,
                settings.embedding.cache_folder,
                trust_remote_code=settings.embedding.trust_remote_code,
            )
            first_use_note(out, settings.model)
        from legalrag.ingest.service import ingest_paths

        stop = threading.Event()

        def interrupt(*_: Any) -> None:
            if stop.is_set():  # a second Ctrl-C: now (the collection is resumable either way)
                raise KeyboardInterrupt
            stop.set()
            out.console.print("[yellow]stopping after the current batch; Ctrl-C again to stop now[/]")

        previous = signal.signal(signal.SIGINT, interrupt)
        try:
            # on a terminal a live bar; in a log (not --json) a plain line every few seconds
            with IngestProgress(
                out.console, enabled=out.interactive, lines=not out.as_json, total_files=files
            ) as progress:
                report = ingest_paths(paths, options, settings=settings,
                    on_progress=progress.update, stop=stop)  # fmt: skip
        finally:
            signal.signal(signal.SIGINT, previous)
        summary = report.as_dict()
        out.emit(summary, lambda c: _print_ingest(c, summary))
        if report.interrupted:
            raise typer.Exit(130)
        if strict and report.failed:
            raise typer.Exit(1)


def _planned_files(paths: Any, options: Any) -> int | None:
    """How many files the run will read (for done/total and the time left; ``None`` when the listing
    fails, which the run then reports).

    Raises:
        InputError: every file would fail before any is read (an unsupported type, a device): nothing
            would be written.
    """
    from legalrag.ingest.loaders import LoadFailure
    from legalrag.plugin.errors import InputError

    try:
        planned = options.plan(paths)
    except InputError:  # the run itself reports it, with the same message
        return None
    failures = [p for p in planned if isinstance(p, LoadFailure)]
    if failures and len(failures) == len(planned):
        first = failures[0]
        raise InputError(
            f"every file failed ({len(failures)}), nothing was written; first: {first.source}: {first.reason}"
        )
    return len(planned)


def _print_ingest(console: Any, summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"ingest → {safe(summary['collection'])}", show_header=False)
    for key in _SUMMARY_ROWS:
        table.add_row(key, str(summary[key]))
    table.add_row("failed", str(len(summary["failed"])))
    timings = summary.get("timings") or {}
    if timings:
        names = {"model_load": "model", "export": "export (once per model)", "pipeline": "pipeline",
                 "default_search": "default search", "optimize": "index"}  # fmt: skip
        table.add_row("time", " · ".join(f"{names[k]} {v:.1f} s" for k, v in timings.items() if k in names))
    console.print(table)
    for failure in summary["failed"]:
        console.print(f"[red]failed[/] {safe(failure['source'])}: {safe(failure['reason'])}", highlight=False)
    for warning in summary["warnings"]:
        console.print(f"[yellow]warning[/] {safe(warning['source'])}: {safe(warning['reason'])}", highlight=False)
    if summary["interrupted"]:
        console.print("[yellow]interrupted: re-run the same command to finish[/]")
