"""Rich progress for ingestion: documents, chunks and tokens/s on a terminal; silent otherwise."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["IngestProgress"]


class IngestProgress:
    """Context manager whose ``update(stats)`` redraws at most ten times a second."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.enabled = enabled
        self._started = time.perf_counter()
        self._last = 0.0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._task = self._progress.add_task("ingest", total=None, detail="")

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._progress.stop()

    def update(self, stats: Any) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.1:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        detail = (
            f"{stats.documents} docs · {stats.chunks} chunks · {stats.upserted} upserted · "
            f"{stats.unchanged} unchanged · {stats.tokens / elapsed:,.0f} tok/s · {len(stats.failed)} failed"
        )
        self._progress.update(self._task, detail=detail)
