"""Rich progress for ingestion: documents, chunks and tokens/s on a terminal; silent otherwise."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["IngestProgress", "TerminalProgress"]

_P = TypeVar("_P", bound="TerminalProgress")


class TerminalProgress:
    """A rich ``Progress`` with these columns, drawn only when ``enabled`` (a terminal, no ``--json``).

    Subclasses add tasks to ``self._progress`` and may override :meth:`_before_stop` to draw a last
    frame.
    """

    def __init__(self, console: Console, *columns: ProgressColumn, enabled: bool) -> None:
        self.enabled = enabled
        self._progress = Progress(*columns, console=console, transient=False, disable=not enabled)

    def __enter__(self: _P) -> _P:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._before_stop()
            self._progress.stop()

    def _before_stop(self) -> None:
        return None


class IngestProgress(TerminalProgress):
    """Context manager whose ``update(stats)`` redraws at most ten times a second.

    ``total``: the number of documents when it is known up front (``legalrag eval`` ingesting a
    dataset's corpus); ``total_files``: the number of files (``legalrag ingest`` lists them first). With
    either the bar fills, shows done/total and the time left; without, it pulses. ``lines``: when not
    on a terminal, a plain line every :attr:`LINE_SECONDS` (with the same done/total and time left).

    Example:
        >>> from rich.console import Console
        >>> from legalrag.ingest.pipeline import IngestStats
        >>> with IngestProgress(Console(), enabled=False) as progress:
        ...     progress.update(IngestStats(documents=1))
    """

    #: seconds between two plain progress lines when the output is not a terminal (a log, a CI job)
    LINE_SECONDS = 10.0

    def __init__(
        self,
        console: Console,
        *,
        enabled: bool,
        total: int | None = None,
        lines: bool = False,
        total_files: int | None = None,
    ) -> None:
        self._lines = lines and not enabled
        self._total_files = total_files if total is None else None
        self._total = total if total is not None else total_files
        self._console = console
        self._last_line = time.perf_counter()
        super().__init__(
            console,
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            enabled=enabled,
        )
        self._started = time.perf_counter()
        self._last = 0.0
        self._latest: Any = None
        self._task = self._progress.add_task("ingest", total=self._total, detail="")

    def _before_stop(self) -> None:
        if self._latest is not None:  # the last update may have fallen inside the redraw throttle
            self._render(self._latest, time.perf_counter())

    def update(self, stats: Any) -> None:
        if self._lines:
            now = time.perf_counter()
            if now - self._last_line >= self.LINE_SECONDS:
                self._last_line = now
                elapsed = now - self._started
                left = self._left(stats, elapsed)
                tail = f" · about {left:,.0f} s left" if left is not None else ""
                self._console.print(f"ingest: {self._detail(stats, now)} · {elapsed:,.0f} s{tail}", highlight=False)
            return
        if not self.enabled:
            return
        self._latest = stats
        now = time.perf_counter()
        if now - self._last < 0.1:
            return
        self._last = now
        self._render(stats, now)

    def _done(self, stats: Any) -> int:
        return int(stats.files if self._total_files is not None else stats.documents)

    def _left(self, stats: Any, elapsed: float) -> float | None:
        """Seconds left at the rate so far (``None`` without a total or before anything is done)."""
        done = self._done(stats)
        if not self._total or done <= 0:
            return None
        return elapsed * max(self._total - done, 0) / done

    def _detail(self, stats: Any, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        files = f"{stats.files}/{self._total_files} files · " if self._total_files is not None else ""
        return files + (
            f"{stats.documents} docs · {stats.chunks} chunks · {stats.upserted} upserted · "
            f"{stats.unchanged} unchanged · {stats.tokens / elapsed:,.0f} tok/s · {len(stats.failed)} failed"
        )

    def _render(self, stats: Any, now: float) -> None:
        self._progress.update(self._task, completed=self._done(stats), detail=self._detail(stats, now))
