"""Option declarations shared by every command, and settings built from the flags a user passed.

Each flag is declared once here; a command lists the ones it takes. Flags override the
``LEGALRAG_*`` environment, which overrides the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from legalrag.plugin.settings import Settings

__all__ = [
    "CollectionOpt",
    "DeviceOpt",
    "JsonOpt",
    "KeyOpt",
    "ModeOpt",
    "ModelOpt",
    "PathOpt",
    "UrlOpt",
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
