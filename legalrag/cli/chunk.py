"""``legalrag chunk``: the chunks ingest would store, without embedding anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from legalrag.cli._options import JsonOpt, ModelOpt, settings_from
from legalrag.output import Output, fail_cleanly, safe

__all__ = ["chunk"]


def chunk(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to chunk.")],
    model: ModelOpt = None,
    max_tokens: Annotated[int | None, typer.Option(help="Token limit per chunk (default: the model's).")] = None,
    overlap_tokens: Annotated[int | None, typer.Option(help="Overlap of token-window splits.")] = None,
    header: Annotated[
        bool, typer.Option("--header/--no-header", help="Prepend law title and article heading to embedded text.")
    ] = True,
    include: Annotated[list[str] | None, typer.Option(help="Glob of files to include.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to exclude.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the chunks ingest would store, without embedding anything."""
    out = Output(as_json)
    with fail_cleanly(out):
        from legalrag.ingest.service import chunk_paths

        settings = settings_from(
            model=model,
            chunking={"contextual_header": header, "max_tokens": max_tokens, "overlap_tokens": overlap_tokens},
        )
        chunks, failed = chunk_paths(paths, settings=settings, include=include or (), exclude=exclude or ())
        rows = [{"text": c.text, "metadata": dict(c.metadata)} for c in chunks]
        failures = [{"source": f.source, "reason": f.reason} for f in failed]
        out.emit({"chunks": rows, "failed": failures}, lambda c: _print_chunks(c, rows, failures))


def _print_chunks(console: Any, chunks: list[dict[str, Any]], failed: list[dict[str, str]]) -> None:
    for item in chunks:
        meta = item["metadata"]
        console.print(
            f"[bold]#{meta['chunk_index']}[/] {safe(meta.get('citation') or meta.get('doc_id'))} "
            f"[dim]({meta.get('token_count')} tokens)[/]",
            highlight=False,
        )
        console.print(safe(item["text"]), highlight=False)
    for failure in failed:
        console.print(f"[red]failed[/] {safe(failure['source'])}: {safe(failure['reason'])}", highlight=False)
