"""Reports: the table marks the best value per column; every writer produces a parseable file."""

from __future__ import annotations

import io
import json
import math
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from legalrag.eval.report import (
    BEST_MARK,
    QueryRecord,
    plot_accuracy_curves,
    render_table,
    write_json,
    write_run_jsonl,
    write_trec_run,
)
from legalrag.plugin.errors import InputError, MissingExtraError

RESULTS = {
    "dense": {"accuracy@1": 0.50, "accuracy@3": 0.70, "accuracy@5": 0.80, "ndcg@10": 0.61},
    "hybrid": {"accuracy@1": 0.55, "accuracy@3": 0.75, "accuracy@5": 0.80, "ndcg@10": 0.67},
    "sparse": {"accuracy@1": 0.40, "accuracy@3": 0.60, "accuracy@5": 0.70, "ndcg@10": 0.52},
}
ANSI_BOLD = "\x1b[1m"


def _render(results, **kwargs) -> tuple[str, str]:
    """Render to a terminal-like buffer: (plain text, text with ANSI styles)."""
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=160)
    render_table(results, console, **kwargs)
    styled = console.file.getvalue()  # type: ignore[attr-defined]
    return re.sub(r"\x1b\[[0-9;]*m", "", styled), styled


def _row(plain: str, config: str) -> str:
    return next(line for line in plain.splitlines() if f" {config} " in line)


def test_table_has_rows_columns_and_marks_best() -> None:
    plain, styled = _render(RESULTS)
    header = next(line for line in plain.splitlines() if "configuration" in line)
    for metric in ("accuracy@1", "accuracy@3", "accuracy@5", "ndcg@10"):
        assert metric in header
    assert _row(plain, "hybrid").count(BEST_MARK) == 4  # best everywhere, incl. the accuracy@5 tie
    assert _row(plain, "dense").count(BEST_MARK) == 1  # ties hybrid on accuracy@5
    assert BEST_MARK not in _row(plain, "sparse")
    assert "0.6700 ★" in _row(plain, "hybrid")
    assert f"{ANSI_BOLD}0.6700 ★" in styled
    assert f"{ANSI_BOLD}0.5200" not in styled


def test_table_lower_is_better_for_costs_and_missing_values() -> None:
    results = {
        "a": {"ndcg@10": 0.5, "latency_ms_p50": 12.0},
        "b": {"ndcg@10": 0.6, "latency_ms_p50": 30.0},
        "c": {"ndcg@10": float("nan")},
    }
    plain, _ = _render(results)
    assert "12.0000 ★" in _row(plain, "a")
    assert "30.0000 ★" not in plain
    assert "–" in _row(plain, "c")
    plain, _ = _render(results, lower_is_better=())  # explicit: everything higher-is-better
    assert "30.0000 ★" in _row(plain, "b")


def test_single_row_marks_nothing() -> None:
    plain, _ = _render({"only": {"ndcg@10": 0.5}})
    assert BEST_MARK not in plain
    assert "0.5000" in plain


def test_write_json_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    write_json(path, {"dataset": "zalo_tiny", "metrics": RESULTS, "ids": {"b", "a"}, "where": tmp_path})
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["metrics"] == RESULTS
    assert data["ids"] == ["a", "b"]
    assert data["where"] == str(tmp_path)


def test_write_run_jsonl_records_and_mappings(tmp_path: Path) -> None:
    records = [
        QueryRecord("q1", "Tuổi thành niên?", [("d2", 0.5), ("d1", 0.9), ("d3", 0.5)], {"d3"}, {"mrr@10": 1 / 3}),
        QueryRecord("q2", "목적?", [], {"d9"}, {"mrr@10": 0.0}),
    ]
    path = tmp_path / "run.jsonl"
    write_run_jsonl(path, [*records, {"query_id": "q3", "note": "ready mapping"}])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3
    first = rows[0]
    assert first["query"] == "Tuổi thành niên?"  # not \\u-escaped in the file
    assert "Tuổi" in path.read_text(encoding="utf-8")
    # ranked by score, tie 0.5 broken by doc id: d1, d2, d3
    assert [r["doc_id"] for r in first["results"]] == ["d1", "d2", "d3"]
    assert [r["rank"] for r in first["results"]] == [1, 2, 3]
    assert first["first_relevant_rank"] == 3
    assert first["relevant_ids"] == ["d3"]
    assert math.isclose(first["metrics"]["mrr@10"], 1 / 3)
    assert rows[1]["first_relevant_rank"] is None
    assert rows[2] == {"query_id": "q3", "note": "ready mapping"}


def test_write_trec_run(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    run = {"q1": [("d2", 0.5), ("d1", 0.5), ("d3", 0.9)], "q2": {"x": 1.25}}
    write_trec_run(path, run, "dense")
    lines = [line.split() for line in path.read_text().splitlines()]
    assert all(len(fields) == 6 and fields[1] == "Q0" and fields[5] == "dense" for fields in lines)
    assert [(f[0], f[2], int(f[3])) for f in lines] == [
        ("q1", "d3", 1),
        ("q1", "d1", 2),
        ("q1", "d2", 3),
        ("q2", "x", 1),
    ]
    assert [float(f[4]) for f in lines] == [0.9, 0.5, 0.5, 1.25]
    with pytest.raises(InputError, match="whitespace"):
        write_trec_run(path, run, "my tag")
    with pytest.raises(InputError, match="doc id"):
        write_trec_run(path, {"q1": [("bad id", 1.0)]}, "t")


def test_plot_accuracy_curves_writes_valid_png(tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    path = tmp_path / "plots" / "accuracy.png"
    plot_accuracy_curves(path, RESULTS, [1, 3, 5])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_plot_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match=r"'dense' has no accuracy@10"):
        plot_accuracy_curves(tmp_path / "a.png", RESULTS, [1, 10])
    with pytest.raises(InputError, match="ks is empty"):
        plot_accuracy_curves(tmp_path / "a.png", RESULTS, [])
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"legalrag\[eval\]"):
        plot_accuracy_curves(tmp_path / "a.png", RESULTS, [1])


def test_narrow_console_turns_the_table() -> None:
    """Regression: 18 metric columns at 80 characters were squeezed to '…' (the demo's eval table)."""
    import io

    from rich.console import Console

    from legalrag.eval.metrics import DEFAULT_METRICS
    from legalrag.eval.report import render_table

    results = {"dense": dict.fromkeys(DEFAULT_METRICS, 0.5), "sparse": dict.fromkeys(DEFAULT_METRICS, 0.75)}
    buffer = io.StringIO()
    render_table(results, Console(file=buffer, width=80))
    text = buffer.getvalue()
    assert "…" not in text
    for metric in DEFAULT_METRICS:
        assert metric in text
    assert text.count("0.7500 ★") == len(DEFAULT_METRICS)
