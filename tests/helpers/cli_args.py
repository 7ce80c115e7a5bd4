"""Command lines for ``legalrag`` on an embedded store with the small MiniLM model on the CPU."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MINILM

__all__ = ["cli_args"]


def cli_args(command: str, *arguments: str, store: Path, collection: str = "laws") -> list[str]:
    """``legalrag COMMAND ARGUMENTS`` on ``collection`` in the embedded store at ``store``, with ``--json``.

    Example:
        >>> cli_args("search", "consent", "-k", "3", store=Path("qdrant"))[:4]
        ['search', 'consent', '-k', '3']
    """
    return [
        command,
        *arguments,
        "--collection",
        collection,
        "--model",
        MINILM,
        "--device",
        "cpu",
        "--qdrant-path",
        str(store),
        "--json",
    ]
