"""Progress bars: counts on a terminal, nothing at all when disabled (``--json`` or not a TTY)."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from legalrag.eval.harness import run_queries
from legalrag.eval.progress import QueryProgress
from legalrag.ingest.pipeline import IngestStats
from legalrag.ingest.progress import IngestProgress

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=200), buffer


def plain(buffer: io.StringIO) -> str:
    return _ANSI.sub("", buffer.getvalue())


class FakeSearcher:
    """Returns one hit per call, from document ``d<n>``; counts the searches."""

    def __init__(self) -> None:
        self.calls = 0

    def search(self, query: str, k: int, *, mode: str | None = None) -> list[Any]:
        self.calls += 1
        return [SimpleNamespace(payload={"doc_id": f"d{self.calls}"}, score=1.0)]


def test_ingest_progress_shows_documents_chunks_and_rate() -> None:
    console, buffer = terminal()
    with IngestProgress(console, enabled=True, total=4) as progress:
        progress.update(IngestStats(documents=1, chunks=2, tokens=100))
        # right after the first: inside the redraw throttle, so only the exit shows it
        progress.update(IngestStats(documents=3, chunks=7, upserted=5, tokens=900))
    text = plain(buffer)
    assert re.search(r"ingest .*3 docs · 7 chunks · 5 upserted · 0 unchanged · [\d,]+ tok/s · 0 failed", text), text


def test_ingest_progress_disabled_writes_nothing() -> None:
    console, buffer = terminal()
    with IngestProgress(console, enabled=False, total=4) as progress:
        progress.update(IngestStats(documents=3, chunks=7, tokens=900))
    assert buffer.getvalue() == ""


def test_query_progress_has_one_bar_per_row_advanced_per_query() -> None:
    console, buffer = terminal()
    queries = {"q1": "a", "q2": "b", "q3": "c"}
    dense: Any = FakeSearcher()
    with QueryProgress(console, enabled=True) as progress:
        ticks = {name: progress.row(name, total=len(queries)) for name in ("dense", "sparse [bm25]")}
        run_queries(dense, queries, name="dense", depth=1, on_query=ticks["dense"])
        ticks["sparse [bm25]"]()  # a row still running: 1 of 3
    text = plain(buffer)
    assert dense.calls == 3
    assert re.search(r"queries: dense .*3/3", text), text
    assert re.search(r"queries: sparse \[bm25\] .*1/3", text), text  # markup in a row name is shown as typed


def test_query_progress_disabled_writes_nothing() -> None:
    console, buffer = terminal()
    searcher: Any = FakeSearcher()
    with QueryProgress(console, enabled=False) as progress:
        run_queries(searcher, {"q1": "a"}, name="dense", depth=1, on_query=progress.row("dense", total=1))
    assert searcher.calls == 1
    assert buffer.getvalue() == ""


def test_ingest_progress_prints_plain_lines_when_not_on_a_terminal(monkeypatch: Any) -> None:
    quiet = io.StringIO()
    with IngestProgress(Console(file=quiet), enabled=False, lines=True) as progress:
        progress.update(IngestStats(documents=1))  # within the first interval: nothing yet
    assert quiet.getvalue() == ""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    monkeypatch.setattr(IngestProgress, "LINE_SECONDS", 0.0)  # every update, instead of every few seconds
    with IngestProgress(console, enabled=False, lines=True) as progress:
        progress.update(IngestStats(documents=1, chunks=2, tokens=100))
        progress.update(IngestStats(documents=3, chunks=7, tokens=900))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("ingest: 3 docs · 7 chunks") and "\x1b" not in buffer.getvalue()


def test_ingest_progress_shows_files_done_of_total_and_the_time_left(monkeypatch: Any) -> None:
    console, buffer = terminal()
    with IngestProgress(console, enabled=True, total_files=8) as progress:
        progress.update(IngestStats(files=2, documents=5, chunks=9))
    text = plain(buffer)
    assert re.search(r"2/8 files · 5 docs · 9 chunks", text), text
    # elapsed, then the time left (rich estimates it once it has seen the rate: "-:--:--" before that)
    assert re.search(r"\d+:\d\d:\d\d (-:--:--|\d+:\d\d:\d\d)$", text.strip()), text
    buffer = io.StringIO()
    monkeypatch.setattr(IngestProgress, "LINE_SECONDS", 0.0)
    with IngestProgress(Console(file=buffer), enabled=False, lines=True, total_files=8) as progress:
        progress._started -= 10  # ten seconds in, a quarter done: thirty left
        progress.update(IngestStats(files=2, documents=5))
    line = buffer.getvalue().strip()
    assert line.startswith("ingest: 2/8 files · 5 docs") and re.search(r"about (29|30|31) s left$", line), line
