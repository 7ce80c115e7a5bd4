"""``report.html``: one self-contained page a person can read after ``legalrag eval --output DIR``.

What the evaluation ran (dataset, split, query count, model, collection), the metrics of every
configuration, the accuracy@k chart (inline SVG) and, per configuration, the misses: each question
whose relevant document did not come first, with that document's text and what ranked above it, so
a reader sees *why* retrieval failed. No script, no stylesheet or font from the network.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from legalrag.eval.datasets import EvalDataset
from legalrag.eval.harness import RunResult


class EvalReport(Protocol):
    """What the page reads of :class:`legalrag.eval.evaluation.EvalReport` (which imports this module)."""

    dataset: EvalDataset
    metrics_compat: str
    results: dict[str, RunResult]

    @property
    def summaries(self) -> dict[str, dict[str, Any]]: ...

    def context(self) -> dict[str, Any]: ...


__all__ = ["render_report"]

#: misses shown per configuration (the worst first); the JSONL runs hold every query
MAX_MISSES = 50
_SNIPPET = 400
_KS = (1, 3, 5, 10)
_COLUMNS = ("accuracy@1", "accuracy@3", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10", "recall@10", "map@100")
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans KR','Noto Sans CJK SC',sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d0d0;padding:.3rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}td.best{font-weight:700}
dl.context{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{color:#666}dd{margin:0}details{border:1px solid #ddd;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
summary{cursor:pointer;font-weight:600}.gold{background:#eef7ee;border-left:4px solid #2ca02c;padding:.3rem .6rem}
.above{background:#fbf0f0;border-left:4px solid #d62728;padding:.3rem .6rem;margin:.2rem 0}.muted{color:#666}
.q{font-size:1.05rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _snippet(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat[:_SNIPPET] + ("…" if len(flat) > _SNIPPET else "")


def _metrics_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    columns = [c for c in _COLUMNS if any(c in row for row in summaries.values())]
    best = {c: max((row[c] for row in summaries.values() if c in row), default=None) for c in columns}
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    rows = []
    for name, row in summaries.items():
        cells = "".join(
            f'<td class="best">{row[c]:.4f}</td>'
            if c in row and row[c] == best[c] and len(summaries) > 1
            else (f"<td>{row[c]:.4f}</td>" if c in row else "<td>–</td>")
            for c in columns
        )
        rows.append(f"<tr><td>{_e(name)}</td>{cells}</tr>")
    return f"<table><thead><tr><th>configuration</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _chart(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """accuracy@k per configuration as an inline SVG line chart (x: k, y: 0–1)."""
    curves = {
        n: [float(row[f"accuracy@{k}"]) for k in _KS]
        for n, row in summaries.items()
        if all(isinstance(row.get(f"accuracy@{k}"), (int, float)) for k in _KS)
    }
    if not curves:
        return '<p class="muted">no accuracy@k to chart</p>'
    width, height, left, bottom, top, right = 560, 300, 50, 40, 15, 170
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + plot_w * i / (len(_KS) - 1)

    def y(v: float) -> float:
        return top + plot_h * (1.0 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="accuracy at k">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick:.2f}</text>')
    for i, k in enumerate(_KS):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle">{k}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="12" text-anchor="middle">k</text>')
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="12" transform="rotate(-90 12 '
        f'{top + plot_h / 2:.1f})" text-anchor="middle">accuracy@k</text>'
    )
    for n, (name, values) in enumerate(curves.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        ly = top + 14 + 18 * n
        parts.append(f'<rect x="{left + plot_w + 14}" y="{ly - 9}" width="12" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 30}" y="{ly - 4}" font-size="12">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _misses(report: EvalReport, name: str, ranked_run: Mapping[str, Sequence[tuple[str, float]]]) -> str:
    data = report.dataset
    found = []
    for qid, ranked in ranked_run.items():
        relevant = {d for d, r in data.qrels.get(qid, {}).items() if r > 0}
        order = [doc for doc, _ in ranked]
        first = next((i for i, doc in enumerate(order) if doc in relevant), None)
        if first != 0:
            found.append((first if first is not None else 10**9, qid, ranked, relevant, first))
    found.sort(key=lambda m: (-m[0], m[1]))
    shown = found[:MAX_MISSES]
    blocks = [
        f"<p>{len(found)} of {len(ranked_run)} questions did not get a relevant document first"
        + (f"; the {len(shown)} worst are shown" if len(found) > len(shown) else "")
        + ".</p>"
    ]
    for _, qid, ranked, relevant, first in shown:
        where = (
            f"relevant at rank {first + 1}" if first is not None else f"no relevant document in the top {len(ranked)}"
        )
        gold = []
        for doc_id in sorted(relevant):
            doc = data.corpus.get(doc_id)
            title = (doc.title if doc else "") or doc_id
            gold.append(
                f'<div class="gold"><b>{_e(title)}</b> <span class="muted">({_e(doc_id)})</span><br>'
                f"{_e(_snippet(doc.text if doc else ''))}</div>"
            )
        above = []
        for rank, (doc_id, score) in enumerate(ranked[: first if first is not None else 5], 1):
            doc = data.corpus.get(doc_id)
            title = (doc.title if doc else "") or doc_id
            above.append(
                f'<div class="above">{rank}. <b>{_e(title)}</b> <span class="muted">({_e(doc_id)}, score '
                f"{score:.4g})</span><br>{_e(_snippet(doc.text if doc else ''))}</div>"
            )
        blocks.append(
            f"<details><summary>{_e(qid)}: {_e(_snippet(data.queries.get(qid, ''))[:120])} "
            f'<span class="muted">— {where}</span></summary>'
            f'<p class="q">{_e(data.queries.get(qid, ""))}</p><h4>relevant</h4>{"".join(gold)}'
            f"<h4>ranked above it</h4>{''.join(above) or '<p class=muted>nothing</p>'}</details>"
        )
    return f"<h3>{_e(name)}</h3>" + "".join(blocks)


def render_report(report: EvalReport) -> str:
    """The whole page for ``report`` (UTF-8 HTML, nothing fetched)."""
    from legalrag.eval.metrics import rank_documents

    context = report.context()
    facts = "".join(
        f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in context.items() if value not in (None, "")
    )
    summaries = report.summaries
    misses = "".join(
        _misses(report, name, {qid: rank_documents(hits) for qid, hits in result.run.items()})
        for name, result in report.results.items()
    )
    title = f"legalrag evaluation: {context.get('dataset')}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head><body>'
        f'<h1>{_e(title)}</h1><dl class="context">{facts}</dl>'
        f"<h2>Metrics</h2>{_metrics_table(summaries)}"
        f'<p class="muted">Definitions: {_e(report.metrics_compat)} (accuracy@k: a relevant document in the '
        f"top k; MRR@10: 1/rank of the first relevant one).</p>"
        f"<h2>accuracy@k</h2>{_chart(summaries)}"
        f"<h2>Misses</h2>{misses}</body></html>"
    )
