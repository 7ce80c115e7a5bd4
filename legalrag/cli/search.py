"""``legalrag search``: one query against a collection, hits with their citations."""

from __future__ import annotations

import warnings
from typing import Annotated, Any

import typer

from legalrag.cli._options import CollectionOpt, Connection, ModelOpt, ModeOpt, connected
from legalrag.output import Output, fail_cleanly, safe

__all__ = ["parse_filter", "search"]


@connected()
def search(
    query: Annotated[str, typer.Argument(help="The question or terms to search for.")],
    collection: CollectionOpt = None,
    k: Annotated[int | None, typer.Option("-k", "--k", help="Number of hits (env LEGALRAG_SEARCH__K, 10).")] = None,
    mode: ModeOpt = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help='JSON filter, e.g. \'{"title": "개인정보 보호법"}\'.')
    ] = None,
    score_threshold: Annotated[
        float | None,
        typer.Option(
            help="Drop hits whose 0-1 relevance is below this (raw scores: LEGALRAG_SEARCH__THRESHOLD_ON=score)."
        ),
    ] = None,
    group_by: Annotated[str | None, typer.Option(help="Best chunk per article or doc_id.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's documents.")] = None,
    strict_filters: Annotated[
        bool, typer.Option(help="A filter that cannot match what the collection holds is an error, not a warning.")
    ] = False,
    model: ModelOpt = None,
    *,
    conn: Connection,
) -> None:
    """Search a collection; prints hits with id, relevance (0-1), raw score, text and metadata."""
    out = Output(conn.as_json)
    with fail_cleanly(out):
        from legalrag.plugin.components import open_searcher
        from legalrag.plugin.schema import TEXT_KEY
        from legalrag.plugin.search.diagnose import FilterWarning
        from legalrag.plugin.store import store_from

        settings = conn.settings(collection=collection, model=model)
        parsed = parse_filter(filter)
        with store_from(settings) as store, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FilterWarning)
            searcher = open_searcher(settings, store, tenant=tenant, mode=mode)
            searcher.doctor.strict = strict_filters
            hits = searcher.search(
                query,
                k if k is not None else settings.search.k,
                filter=parsed,
                score_threshold=score_threshold,
                group_by=group_by,
            )
        notes = [str(w.message) for w in caught if issubclass(w.category, FilterWarning)]
        for note in notes:
            out.console.print(f"[yellow]warning:[/] {safe(note)}", highlight=False)
        rows = [
            {
                "id": h.id,
                "score": h.score,
                "relevance": h.relevance,
                "text": h.payload.get(TEXT_KEY, ""),
                "metadata": {key: v for key, v in h.payload.items() if key != TEXT_KEY},
            }
            for h in hits
        ]
        out.emit(
            {
                "collection": searcher.collection,
                "query": query,
                "mode": searcher.resolve_mode(mode),
                "hits": rows,
                "warnings": notes,
            },
            lambda c: _print_hits(c, rows),
        )


#: the longest ``--filter`` JSON read (parsing a huge one would take memory before any check)
MAX_FILTER_CHARS = 1 << 20


def parse_filter(text: str | None) -> Any:
    """The ``--filter`` JSON object, or ``None``; bad JSON is an :class:`InputError` (exit 2)."""
    import json

    from legalrag.plugin.errors import InputError

    if text is None:
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise InputError(f"--filter has {len(text):,} characters, over {MAX_FILTER_CHARS:,}: narrow it")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--filter is not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise InputError("--filter is nested too deeply") from None
    if not isinstance(value, dict):
        raise InputError('--filter must be a JSON object like {"title": "..."}')
    return value


def _print_hits(console: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no hits")
    for rank, row in enumerate(rows, 1):
        meta = row["metadata"]
        cite = meta.get("citation") or meta.get("title") or meta.get("source", "")
        relevance = f"{row['relevance']:.2f}" if row["relevance"] is not None else "-"
        line = f"[bold]{rank}.[/] [cyan]{relevance}[/] [dim]({row['score']:.4g})[/] {safe(cite)}"
        console.print(line, highlight=False)
        text = " ".join(str(row["text"]).split())
        console.print(f"   {safe(text[:300])}{'…' if len(text) > 300 else ''}", highlight=False)
