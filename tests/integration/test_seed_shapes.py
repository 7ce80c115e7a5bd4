"""Tiny random-weight models shaped like each seed model, run through the CLI: ingest → search → eval.

* Vietnamese_Embedding_v2: BGE-M3 with CLS pooling, 1024-d, ``similarity_fn_name="dot"``, 2,048 tokens:
  a Dot collection and ``dot_`` card keys;
* the paraphrase-xlm-r fine-tune: mean pooling, 768-d, no Normalize, 128 tokens: no chunk over 128;
* BGE-m3-ko: cosine, 8,192 tokens: chunks follow statute structure (an article is never merged with
  another), not the huge limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES
from tests.helpers.tiny_models import build_tiny_bge_m3

CORPUS = EXAMPLES / "corpus"


def _run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _common(model: Path, store: Path, collection: str) -> list[str]:
    return ["--model", str(model), "--device", "cpu", "--qdrant-path", str(store), "-c", collection]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("seeds")
    return {
        "vi-dot": build_tiny_bge_m3(root / "vi", similarity="dot", max_seq_length=2048),
        "xlmr-128": build_tiny_bge_m3(root / "xlmr", hidden=768, pooling="mean", normalize=False, max_seq_length=128),
        "ko-8192": build_tiny_bge_m3(root / "ko", hidden=64, max_seq_length=8192),
    }


def test_dot_model_gets_a_dot_collection_and_dot_card_keys(seeds: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "q"
    common = _common(seeds["vi-dot"], store, "vi")
    assert _run("ingest", str(CORPUS / "vi"), *common)["added"] == 1
    with EdgeStore(store) as edge:
        info = edge.get_collection("vi")
        assert info is not None and info.vectors["dense"].distance == "Dot" and info.vectors["dense"].size == 1024
    hits = _run("search", "bồi thường thiệt hại", "--mode", "dense", *common)["hits"]
    assert hits and all(h["metadata"]["language"] == "vi" for h in hits)
    evaluated = _run("eval", str(EXAMPLES / "eval"), "--mode", "dense", "--output", str(tmp_path / "out"),
                     *_common(seeds["vi-dot"], store, "vi-eval"))  # fmt: skip
    assert evaluated["protocol"] == "st" and "mrr@10" in evaluated["results"]["dense"]
    table = (tmp_path / "out" / "table.md").read_text(encoding="utf-8")
    assert "dot_accuracy@1" in table and "dot_map@100" in table and "cosine_" not in table


def test_a_128_token_model_never_gets_a_chunk_over_128_tokens(seeds: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from legalrag.ingest import chunk_paths
    from legalrag.plugin.settings import Settings

    store = tmp_path / "q"
    common = _common(seeds["xlmr-128"], store, "xlmr")
    report = _run("ingest", str(CORPUS), *common)
    assert report["added"] == 3 and report["chunks"] > 3
    chunks, _ = chunk_paths(CORPUS, settings=Settings(model=str(seeds["xlmr-128"])))
    assert len(chunks) == report["chunks"]
    # what the model sees, counted by its own tokenizer with its special tokens: never truncated
    tokenizer = AutoTokenizer.from_pretrained(str(seeds["xlmr-128"]))
    lengths = [len(tokenizer(c.embed_text)["input_ids"]) for c in chunks]
    assert max(lengths) <= 128, max(lengths)
    assert sorted(_run("chunk", str(CORPUS), "--model", str(seeds["xlmr-128"]))["chunks"][i]["text"]
                  for i in range(len(chunks))) == sorted(c.text for c in chunks)  # fmt: skip
    with EdgeStore(store) as edge:
        info = edge.get_collection("xlmr")
        assert info is not None and info.vectors["dense"].size == 768 and info.points == len(chunks)
    assert _run("search", "개인정보", "--mode", "hybrid", *common)["hits"]


def test_an_8192_token_model_chunks_by_statute_structure(seeds: dict[str, Path], tmp_path: Path) -> None:
    chunks = _run("chunk", str(CORPUS / "ko"), "--model", str(seeds["ko-8192"]))["chunks"]
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk["metadata"]["doc_id"], []).append(chunk)
    for doc_chunks in by_doc.values():
        articles = [c["metadata"].get("article") for c in doc_chunks]
        # a whole law would fit in 8,192 tokens, but each article is its own chunk
        assert len(doc_chunks) > 1 and len(articles) == len(set(articles)), articles
        assert all(a is not None for a in articles[1:])
    store = tmp_path / "q"
    common = _common(seeds["ko-8192"], store, "ko")
    assert _run("ingest", str(CORPUS / "ko"), *common)["chunks"] == len(chunks)
    evaluated = _run("eval", str(EXAMPLES / "eval"), "--mode", "sparse", "--mode", "hybrid",
                     *_common(seeds["ko-8192"], store, "ko-eval"))  # fmt: skip
    assert set(evaluated["results"]) == {"sparse", "hybrid"}
