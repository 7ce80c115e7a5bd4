"""The ``legalrag`` command line: ingest, search, chunk, eval, collections.

Every command takes ``--json`` and then prints one JSON document on stdout and nothing else
there. Exit codes: 0 success, 2 bad usage or bad input (nothing written), 1 runtime failure.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer

from legalrag.output import Output, fail_cleanly
from legalrag.plugin.settings import Settings

__all__ = ["app"]

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    name="legalrag",
    help="Statute-aware ingestion, hybrid search and evaluation over Qdrant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name [env LEGALRAG_COLLECTION].")
]
ModelOpt = Annotated[
    str | None, typer.Option(help="Model: hub name, local folder, or pkg:<module> [env LEGALRAG_MODEL].")
]
DeviceOpt = Annotated[
    str | None,
    typer.Option(help="auto, cpu, cuda, cuda:N, or cuda:0,cuda:1 to spread batches over GPUs [env LEGALRAG_DEVICE]."),
]
UrlOpt = Annotated[str | None, typer.Option("--qdrant-url", help="Qdrant server URL [env LEGALRAG_QDRANT_URL].")]
KeyOpt = Annotated[str | None, typer.Option("--qdrant-api-key", help="Qdrant API key [env LEGALRAG_QDRANT_API_KEY].")]
PathOpt = Annotated[
    Path | None, typer.Option("--qdrant-path", help="Embedded store folder [env LEGALRAG_QDRANT_PATH].")
]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="dense, sparse or hybrid (default: hybrid).")]


def _settings(**flags: Any) -> Settings:
    """Settings from the environment, with the flags the user actually passed on top.

    Nested sections (``embedding={...}``) merge key by key with the environment's.
    """
    given = {k: v for k, v in flags.items() if v is not None}
    nested = {k: v for k, v in given.pop("embedding", {}).items() if v is not None}
    if nested:
        given["embedding"] = nested
    return Settings(**given)


def _require_paths(paths: list[Path]) -> None:
    """Refuse missing inputs before anything loads or is written (exit 2)."""
    from legalrag.plugin.errors import InputError

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"path(s) not found: {', '.join(missing)}")


def _store(settings: Settings) -> Any:
    from legalrag.plugin.store import open_store

    return open_store(settings)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.", exists=False)],
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    qdrant_url: UrlOpt = None,
    qdrant_api_key: KeyOpt = None,
    qdrant_path: PathOpt = None,
    include: Annotated[list[str] | None, typer.Option(help="Glob of files to include (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to exclude (repeatable).")] = None,
    sparse: Annotated[bool, typer.Option("--sparse/--no-sparse", help="Store BM25 sparse vectors too.")] = True,
    recreate: Annotated[bool, typer.Option(help="Drop and recreate the collection first.")] = False,
    sync: Annotated[bool, typer.Option(help="Delete stored documents whose files are gone.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any file failed.")] = False,
    tenant: Annotated[str | None, typer.Option(help="Write this tenant on every point.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Chunks per embed/upsert batch.")] = 256,
    backend: Annotated[
        str | None,
        typer.Option(help="torch, onnx or openvino (the last two on the CPU) [env LEGALRAG_EMBEDDING__BACKEND]."),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="auto, fp32, bf16 or fp16 [env LEGALRAG_EMBEDDING__PRECISION]."),
    ] = None,
    quantize: Annotated[
        str | None, typer.Option(help="none or int8 (onnx backend) [env LEGALRAG_EMBEDDING__QUANTIZE].")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load, chunk, embed and upsert documents; re-runs are incremental and idempotent."""
    out = Output(as_json)
    with fail_cleanly(out):
        from legalrag.ingest.loaders import iter_documents
        from legalrag.ingest.pipeline import tracked
        from legalrag.ingest.progress import IngestProgress
        from legalrag.ingest.service import make_ingestor
        from legalrag.plugin.components import load_dense

        settings = _settings(
            collection=collection,
            model=model,
            device=device,
            qdrant_url=qdrant_url,
            qdrant_api_key=qdrant_api_key,
            qdrant_path=qdrant_path,
            embedding={"backend": backend, "precision": precision, "quantize": quantize},
        )
        _require_paths(paths)
        encoder = load_dense(settings)
        with closing(_store(settings)) as store:
            ingestor = make_ingestor(
                settings, store, encoder, sparse=sparse, recreate=recreate, tenant=tenant, batch_size=batch_size
            )
            seen: set[str] = set()
            items = tracked(iter_documents(paths, include=include or (), exclude=exclude or ()), seen)
            stop = threading.Event()
            previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
            try:
                with IngestProgress(out.console, enabled=out.interactive) as progress:
                    stats = ingestor.run(items, on_progress=progress.update, stop=stop)
            finally:
                signal.signal(signal.SIGINT, previous)
            if sync and not stats.interrupted:
                stats.deleted = ingestor.sync(seen, paths, {f.source for f in stats.failed})
            store.optimize(ingestor.collection)
        summary = {"collection": ingestor.collection, **stats.as_dict()}
        out.emit(summary, lambda c: _print_ingest(c, summary))
        if stats.interrupted:
            raise typer.Exit(130)
        if strict and stats.failed:
            raise typer.Exit(1)


def _print_ingest(console: Any, summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"ingest → {summary['collection']}", show_header=False)
    for key in (
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
    ):
        table.add_row(key, str(summary[key]))
    table.add_row("failed", str(len(summary["failed"])))
    console.print(table)
    for failure in summary["failed"]:
        console.print(f"[red]failed[/] {failure['source']}: {failure['reason']}")
    if summary["interrupted"]:
        console.print("[yellow]interrupted: re-run the same command to finish[/]")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question or terms to search for.")],
    collection: CollectionOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Number of hits.")] = 10,
    mode: ModeOpt = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help='JSON filter, e.g. \'{"title": "개인정보 보호법"}\'.')
    ] = None,
    score_threshold: Annotated[float | None, typer.Option(help="Drop hits scoring below this.")] = None,
    group_by: Annotated[str | None, typer.Option(help="Best chunk per article or doc_id.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's documents.")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    qdrant_url: UrlOpt = None,
    qdrant_api_key: KeyOpt = None,
    qdrant_path: PathOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search a collection; prints hits with id, score, text and metadata."""
    out = Output(as_json)
    with fail_cleanly(out):
        from legalrag.plugin.components import open_searcher
        from legalrag.plugin.schema import TEXT_KEY

        settings = _settings(
            collection=collection,
            model=model,
            device=device,
            qdrant_url=qdrant_url,
            qdrant_api_key=qdrant_api_key,
            qdrant_path=qdrant_path,
        )
        parsed = _parse_filter(filter)
        with closing(_store(settings)) as store:
            searcher = open_searcher(settings, store, tenant=tenant, mode=mode)
            hits = searcher.search(query, k, filter=parsed, score_threshold=score_threshold, group_by=group_by)
        rows = [
            {
                "id": h.id,
                "score": h.score,
                "text": h.payload.get(TEXT_KEY, ""),
                "metadata": {key: v for key, v in h.payload.items() if key != TEXT_KEY},
            }
            for h in hits
        ]
        out.emit(
            {"collection": searcher.collection, "query": query, "mode": searcher._mode(mode), "hits": rows},
            lambda c: _print_hits(c, rows),
        )


def _parse_filter(text: str | None) -> Any:
    import json

    from legalrag.plugin.errors import InputError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--filter is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InputError('--filter must be a JSON object like {"title": "..."}')
    return value


def _print_hits(console: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no hits")
    for rank, row in enumerate(rows, 1):
        meta = row["metadata"]
        cite = meta.get("citation") or meta.get("title") or meta.get("source", "")
        console.print(f"[bold]{rank}.[/] [cyan]{row['score']:.4f}[/] {cite}")
        text = " ".join(str(row["text"]).split())
        console.print(f"   {text[:300]}{'…' if len(text) > 300 else ''}", highlight=False)


@app.command()
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
        from legalrag.ingest.loaders import iter_documents
        from legalrag.ingest.service import make_chunker
        from legalrag.plugin.components import load_tokenizer
        from legalrag.plugin.schema import SourceDocument

        chunking: dict[str, Any] = {"contextual_header": header}
        if max_tokens is not None:
            chunking["max_tokens"] = max_tokens
        if overlap_tokens is not None:
            chunking["overlap_tokens"] = overlap_tokens
        settings = _settings(model=model, chunking=chunking)
        _require_paths(paths)
        chunker = make_chunker(load_tokenizer(settings.model, settings), settings)
        chunks: list[dict[str, Any]] = []
        failed: list[dict[str, str]] = []
        for item in iter_documents(paths, include=include or (), exclude=exclude or ()):
            if not isinstance(item, SourceDocument):
                failed.append({"source": item.source, "reason": item.reason})
                continue
            chunks.extend({"text": c.text, "metadata": dict(c.metadata)} for c in chunker.chunk(item))
        out.emit({"chunks": chunks, "failed": failed}, lambda c: _print_chunks(c, chunks, failed))


def _print_chunks(console: Any, chunks: list[dict[str, Any]], failed: list[dict[str, str]]) -> None:
    for item in chunks:
        meta = item["metadata"]
        console.print(
            f"[bold]#{meta['chunk_index']}[/] {meta.get('citation') or meta.get('doc_id')} "
            f"[dim]({meta.get('token_count')} tokens)[/]"
        )
        console.print(item["text"], highlight=False)
    for failure in failed:
        console.print(f"[red]failed[/] {failure['source']}: {failure['reason']}")


from legalrag.cli_collections import collections_app  # noqa: E402 - registers `legalrag collections`
from legalrag.eval.cli import eval_command  # noqa: E402 - registers `legalrag eval`

app.command("eval")(eval_command)
app.add_typer(collections_app, name="collections")
