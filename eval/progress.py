"""Rich progress for ``legalrag eval``: one bar of queries per row on a terminal; silent otherwise."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from legalrag.ingest.progress import TerminalProgress

__all__ = ["QueryProgress"]


def _nothing() -> None:
    return None


class QueryProgress(TerminalProgress):
    """Context manager whose ``row(name, total)`` adds a bar and returns its per-query callback.

    Example:
        >>> from rich.console import Console
        >>> with QueryProgress(Console(), enabled=False) as progress:
        ...     tick = progress.row("hybrid", total=2)
        ...     tick()
    """

    def __init__(self, console: Console, *, enabled: bool) -> None:
        super().__init__(
            console,
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            enabled=enabled,
        )

    def row(self, name: str, total: int) -> Callable[[], None]:
        """Add the bar ``queries: <name>`` of ``total`` queries; call the result once per query run."""
        if not self.enabled:
            return _nothing
        task = self._progress.add_task(f"queries: {escape(name)}", total=total)

        def advance() -> None:
            self._progress.advance(task)

        return advance
