"""``legalrag collections``: list, inspect and drop collections; create, list and restore snapshots.

Connection flags and ``--json`` go before the subcommand (``legalrag collections --json inspect
laws``) or after it (``legalrag collections inspect laws --json``); after wins.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated, Any

import typer

from legalrag.cli._options import Connection, connected
from legalrag.output import Output, fail_cleanly, safe

__all__ = ["collections_app"]

collections_app = typer.Typer(help="List, inspect or drop collections.", invoke_without_command=True)
snapshot_app = typer.Typer(help="Create, list or restore snapshots of a collection.", no_args_is_help=True)
collections_app.add_typer(snapshot_app, name="snapshot")

NameArg = Annotated[str, typer.Argument(help="Collection name.")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]


def _opened(conn: Connection) -> AbstractContextManager[Any]:
    """The store the connection flags name, closed when the ``with`` block ends."""
    from legalrag.plugin.store import store_from

    return store_from(conn.settings())


def _options(ctx: typer.Context, conn: Connection) -> tuple[Output, Connection]:
    """The group's connection flags and ``--json``, overridden by the subcommand's own."""
    group = ctx.obj if isinstance(ctx.obj, Connection) else Connection()  # set by the group's callback
    merged = Connection(
        qdrant_url=conn.qdrant_url or group.qdrant_url,
        qdrant_api_key=conn.qdrant_api_key or group.qdrant_api_key,
        qdrant_path=conn.qdrant_path or group.qdrant_path,
        as_json=conn.as_json or group.as_json,
    )
    return Output(merged.as_json), merged


@collections_app.callback()
@connected(device=False)
def collections_list(
    ctx: typer.Context,
    *,
    conn: Connection,
) -> None:
    """List collections with their point counts and vectors."""
    ctx.obj = conn
    if ctx.invoked_subcommand is not None:
        return
    out, opts = _options(ctx, conn)
    with fail_cleanly(out):
        with _opened(opts) as store:
            rows = [_describe(store, name) for name in sorted(store.list_collections())]
        out.emit({"collections": rows}, lambda c: _print_collections(c, rows))


def _describe(store: Any, name: str) -> dict[str, Any]:
    from legalrag.plugin.collection import require_collection

    info = require_collection(store, name)
    return {
        "name": info.name,
        "points": info.points,
        "vectors": {k: {"size": v.size, "distance": v.distance} for k, v in info.vectors.items()},
        "sparse_vectors": list(info.sparse_vectors),
        "model": info.metadata.get("model"),
    }


def _print_collections(console: Any, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="collections")
    for column in ("name", "points", "vectors", "model"):
        table.add_column(column)
    for row in rows:
        vectors = ", ".join(f"{k} {v['size']}/{v['distance']}" for k, v in row["vectors"].items())
        vectors += "".join(f", {s} (sparse)" for s in row["sparse_vectors"])
        table.add_row(safe(row["name"]), str(row["points"]), safe(vectors), safe(row["model"]))
    console.print(table)


@collections_app.command("inspect")
@connected(device=False)
def collections_inspect(
    ctx: typer.Context,
    name: NameArg,
    *,
    conn: Connection,
) -> None:
    """Show one collection: points, vectors and stored settings."""
    out, opts = _options(ctx, conn)
    with fail_cleanly(out):
        from legalrag.plugin.collection import require_collection

        with _opened(opts) as store:
            info = require_collection(store, name)
            row = {**_describe(store, name), "storage": dict(info.storage), "metadata": dict(info.metadata)}
        out.emit(row)


@collections_app.command("drop")
@connected(device=False)
def collections_drop(
    ctx: typer.Context,
    name: NameArg,
    yes: YesOpt = False,
    *,
    conn: Connection,
) -> None:
    """Delete a collection and all its points."""
    out, opts = _options(ctx, conn)
    with fail_cleanly(out):
        from legalrag.plugin.collection import require_collection

        with _opened(opts) as store:
            require_collection(store, name)
            if not _confirmed(f"drop collection {name!r}?", yes):
                raise typer.Exit(1)
            store.drop_collection(name)
        out.emit({"dropped": name}, lambda c: c.print(f"dropped {safe(name)}"))


def _confirmed(question: str, yes: bool) -> bool:
    """``--yes``, or the user's answer on a terminal; without a terminal there is nobody to ask (exit 2)."""
    import sys

    from legalrag.plugin.errors import InputError

    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(f"{question} needs confirmation and there is no terminal to ask: pass --yes")
    return bool(typer.confirm(question, err=True))


def _snapshot_store(store: Any) -> Any:
    from legalrag.plugin.errors import InputError
    from legalrag.plugin.store import SnapshotStore

    if not isinstance(store, SnapshotStore):
        raise InputError(f"{type(store).__name__} cannot take snapshots: use a Qdrant server or the embedded store")
    return store


def _snapshot_row(snapshot: Any) -> dict[str, Any]:
    return {"name": snapshot.name, "size": snapshot.size, "created": snapshot.created}


@snapshot_app.command("create")
@connected(device=False)
def snapshot_create(
    ctx: typer.Context,
    name: NameArg,
    *,
    conn: Connection,
) -> None:
    """Snapshot a collection (on the server, or under <qdrant-path>/.snapshots/NAME/ when embedded)."""
    out, opts = _options(ctx, conn)
    with fail_cleanly(out):
        with _opened(opts) as store:
            row = _snapshot_row(_snapshot_store(store).create_snapshot(name))
        out.emit(
            {"collection": name, "snapshot": row},
            lambda c: c.print(f"snapshot {safe(row['name'])} of {safe(name)} ({row['size']} bytes)"),
        )


@snapshot_app.command("list")
@connected(device=False)
def snapshot_list(
    ctx: typer.Context,
    name: NameArg,
    *,
    conn: Connection,
) -> None:
    """List a collection's snapshots, oldest first."""
    out, opts = _options(ctx, conn)
    with fail_cleanly(out):
        with _opened(opts) as store:
            rows = [_snapshot_row(s) for s in _snapshot_store(store).list_snapshots(name)]
        out.emit({"collection": name, "snapshots": rows}, lambda c: _print_snapshots(c, name, rows))


def _print_snapshots(console: Any, name: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(f"no snapshots of {safe(name)}")
    for row in rows:
        console.print(f"{safe(row['name'])}  {row['size']} bytes  {safe(row['created'] or '')}", highlight=False)


@snapshot_app.command("restore")
@connected(device=False)
def snapshot_restore(
    ctx: typer.Context,
    name: NameArg,
    snapshot: Annotated[str, typer.Argument(help="A name from `snapshot list`, or a snapshot location.")],
    yes: YesOpt = False,
    *,
    conn: Connection,
) -> None:
    """Replace a collection's points with a snapshot's (recreating the collection if it was dropped)."""
    out, opts = _options(ctx, conn)
    with fail_cleanly(out):
        with _opened(opts) as store:
            snapshots = _snapshot_store(store)
            if not _confirmed(f"replace collection {name!r} with snapshot {snapshot!r}?", yes):
                raise typer.Exit(1)
            snapshots.restore_snapshot(name, snapshot)
            points = store.count(name)
        out.emit(
            {"collection": name, "restored": snapshot, "points": points},
            lambda c: c.print(f"restored {safe(name)} from {safe(snapshot)} ({points} points)"),
        )
