"""Sparse BM25 finds a provision by an exact, rare legal term that the dense model misses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from legalrag.cli import app
from tests.conftest import EXAMPLES
from tests.helpers.cli_args import cli_args

# cited once in the whole example corpus, inside 여신전문금융업법 제14조
RARE_TERM = "전자문서 및 전자거래 기본법"


def _search(store: Path, mode: str) -> list[dict]:
    args = cli_args("search", RARE_TERM, "--mode", mode, "-k", "3", store=store)
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)["hits"]


def test_sparse_finds_the_rare_statute_name_dense_misses(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus", corpus)
    store = tmp_path / "store"
    ingest = cli_args("ingest", str(corpus), store=store)
    assert CliRunner().invoke(app, ingest, catch_exceptions=False).exit_code == 0
    holders = {h["id"] for h in _search(store, "sparse") if RARE_TERM in h["text"]}
    sparse_top = _search(store, "sparse")[0]
    assert RARE_TERM in sparse_top["text"]
    assert sparse_top["metadata"]["article"] == "제14조"
    dense_top3 = _search(store, "dense")
    assert not any(h["id"] in holders for h in dense_top3), "the English MiniLM model should miss the Korean term"
