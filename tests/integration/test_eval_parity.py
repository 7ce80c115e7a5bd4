"""`legalrag eval --exact` equals sentence-transformers' InformationRetrievalEvaluator (to 1e-6)
on a BEIR dataset where every document is a single chunk, with the same model and corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from tests.conftest import MINILM

DOCS = {
    "d1": "A credit card holder must report a lost or stolen card to the issuer without delay.",
    "d2": "The card issuer is liable for unauthorised use after it receives the loss report.",
    "d3": "Personal data may be collected only with the consent of the data subject.",
    "d4": "The controller shall tell the data subject the purpose of the collection.",
    "d5": "Consumers have the right to compensation for damage caused by defective goods.",
    "d6": "A seller must disclose the origin and price of goods before the sale.",
    "d7": "Interest above the statutory maximum rate is void.",
    "d8": "A lender must explain the interest rate and fees before the loan is made.",
}
QUERIES = {
    "q1": "who pays for fraudulent card use after I report my card lost",
    "q2": "when can a company collect my personal data",
    "q3": "compensation for a defective product",
    "q4": "maximum interest rate on loans",
    "q5": "what must a seller tell me before buying",
}
# some judgments deliberately point below the obvious top hit, so the rankings are imperfect and
# every metric (not just the easy 1.0s) is compared
QRELS = {"q1": {"d2"}, "q2": {"d4", "d6"}, "q3": {"d5", "d1"}, "q4": {"d8"}, "q5": {"d6", "d3"}}


def _write_beir(folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": k, "title": "", "text": v}) for k, v in DOCS.items()), encoding="utf-8"
    )
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps({"_id": k, "text": v}) for k, v in QUERIES.items()), encoding="utf-8"
    )
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, ds in QRELS.items() for d in sorted(ds)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_eval_exact_equals_information_retrieval_evaluator(tmp_path: Path, minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    try:
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.evaluation import InformationRetrievalEvaluator

    from legalrag.eval.datasets import load_dataset
    from legalrag.eval.harness import corpus_documents
    from legalrag.ingest.service import make_chunker, tokenizer_info
    from legalrag.plugin.settings import Settings

    _write_beir(tmp_path / "beir")
    args = [
        "eval",
        str(tmp_path / "beir"),
        "--collection",
        "parity",
        "--model",
        MINILM,
        "--device",
        "cpu",
        "--qdrant-path",
        str(tmp_path / "store"),
        "--mode",
        "dense",
        "--exact",
        "--json",
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    ours = json.loads(result.stdout)["metrics"]

    # the evaluator sees exactly the text legalrag embedded: one chunk per document, header included
    chunker = make_chunker(tokenizer_info(minilm_encoder), Settings())
    corpus = {}
    for doc in corpus_documents(load_dataset(tmp_path / "beir")):
        (chunk,) = chunker.chunk(doc)
        corpus[doc.doc_id] = chunk.embed_text
    evaluator = InformationRetrievalEvaluator(QUERIES, corpus, QRELS, write_csv=False, name="p")
    theirs = evaluator(minilm_encoder.model)
    prefix = "p_cosine_"
    compared = 0
    for key, value in ours.items():
        name, k = key.split("@")
        their_key = f"{prefix}{name}@{k}"
        assert their_key in theirs, f"{their_key} missing from {sorted(theirs)}"
        assert value == pytest.approx(theirs[their_key], abs=1e-6), key
        compared += 1
    assert compared == 15
    assert 0 < ours["mrr@10"] < 1 or 0 < ours["map@100"] < 1, "a perfect ranking would make parity trivial"
