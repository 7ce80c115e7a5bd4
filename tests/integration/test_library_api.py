"""The library entry points a Python user calls: ``ingest_paths``, ``chunk_paths``, ``evaluate_collection``.

The CLI is one call of each; these tests check the calls themselves and that the CLI prints what
the library returns (no logic of its own).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.eval import EvalOptions, EvalReport, evaluate_collection
from legalrag.ingest import IngestOptions, IngestReport, chunk_paths, ingest_documents, ingest_paths
from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.settings import ChunkingSettings, Settings
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES, MINILM
from tests.helpers.cli_args import cli_args

CORPUS = EXAMPLES / "corpus"


def _settings(store: Path, collection: str = "laws") -> Settings:
    return Settings(model=MINILM, device="cpu", qdrant_path=store, collection=collection)


def test_ingest_paths_is_incremental_and_matches_the_cli(store_path: Path, minilm_encoder: Any) -> None:
    first = ingest_paths([CORPUS], settings=_settings(store_path), dense=minilm_encoder)
    assert isinstance(first, IngestReport)
    assert first.collection == "laws" and first.added == first.documents == 3 and first.upserted == first.chunks > 0
    again = ingest_paths(CORPUS, settings=_settings(store_path), dense=minilm_encoder)
    assert (again.unchanged, again.added, again.upserted) == (3, 0, 0)
    result = CliRunner().invoke(app, cli_args("ingest", str(CORPUS), store=store_path))
    printed = json.loads(result.stdout)
    assert result.exit_code == 0 and printed["unchanged"] == 3 and printed["collection"] == "laws"
    assert set(printed) == set(again.as_dict())


def test_ingest_documents_takes_your_own_records(store_path: Path, minilm_encoder: Any) -> None:
    docs = [
        SourceDocument(doc_id="a", source="mine:a", text="제1조(목적) 이 법은 개인정보를 보호한다."),
        SourceDocument(doc_id="b", source="mine:b", text="제2조(정의) 정보주체란 처리되는 정보의 주체를 말한다."),
    ]
    report = ingest_documents(docs, settings=_settings(store_path, "mine"), dense=minilm_encoder)
    assert (report.added, report.failed) == (2, [])
    with EdgeStore(store_path) as store:
        assert {h.payload["doc_id"] for h in store.scroll("mine")} == {"a", "b"}


def test_in_one_process_the_analyser_loads_beside_the_model_and_every_document_still_arrives(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import legalrag.ingest.service as service

    calls: list[tuple[str, str | None, str]] = []
    original = service._load_analyser

    def recording(sample: str, language: str | None) -> None:
        calls.append((sample, language, threading.current_thread().name))
        original(sample, language)

    monkeypatch.setattr(service, "_load_analyser", recording)
    texts = ["제1조(목적) 이 법은 개인정보를 보호한다.", "Điều 2. Phạm vi", "제3조(정의) 정보주체란 주체를 말한다."]
    one_pass = (SourceDocument(doc_id=f"d{i}", source=f"mine:{i}", text=t) for i, t in enumerate(texts))
    in_process = _settings(store_path, "warm").model_copy(update={"chunking": ChunkingSettings(worker=False)})
    report = ingest_documents(one_pass, settings=in_process)
    assert calls == [(texts[0], None, "legalrag-analyser")], "loaded once, from the first document, off the main thread"
    assert (report.added, report.failed) == (3, [])
    with EdgeStore(store_path) as store:
        assert {h.payload["doc_id"] for h in store.scroll("warm")} == {"d0", "d1", "d2"}
    calls.clear()
    ingest_documents(iter([]), settings=_settings(store_path, "warm"))
    dense_only = [SourceDocument(doc_id="e", source="mine:e", text=texts[0])]
    ingest_documents(dense_only, IngestOptions(sparse=False), settings=_settings(store_path, "dense"))
    assert calls == [], "nothing to read, or no BM25: nothing preloaded"


def test_an_incremental_run_loads_the_weights_only_when_something_needs_embedding(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import legalrag.ingest.service as service
    from legalrag.plugin.models.encoder import resolve_model_path

    # a model with a document prompt (E5's "passage: "): the deferred budget must leave room for it too
    model = tmp_path / "prompted"
    shutil.copytree(resolve_model_path(MINILM), model)
    config = model / "config_sentence_transformers.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    config.write_text(json.dumps({**data, "prompts": {"query": "query: ", "document": "passage: "}}), encoding="utf-8")
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(model=str(model), device="cpu", qdrant_path=store_path, collection="inc")
    loads: list[Any] = []
    original = service.load_dense

    def counting(*args: Any, **kwargs: Any) -> Any:
        loads.append(original(*args, **kwargs))
        return loads[-1]

    monkeypatch.setattr(service, "load_dense", counting)
    first = ingest_paths([corpus], settings=settings)
    assert first.added == 3 and len(loads) == 1
    with EdgeStore(store_path) as store:
        deferred = service.DeferredDense(settings, store.get_collection("inc"))  # type: ignore[arg-type]
    eager = service.tokenizer_info(loads[0])
    assert (deferred.max_seq_length, deferred.tokenizer_info.reserved) == (eager.max_seq_length, eager.reserved)
    assert eager.reserved > 2, "the prompt's tokens are reserved"
    loads.clear()

    again = ingest_paths([corpus], settings=settings)
    assert (again.unchanged, again.added, again.upserted) == (3, 0, 0)
    assert loads == [], "nothing to embed: the weights were never loaded"

    changed = next(p for p in sorted(corpus.rglob("*")) if p.is_file())
    added = "\n\n제99조(부칙) 이 법은 공포한 날부터 시행한다.\n"
    changed.write_text(changed.read_text(encoding="utf-8") + added, encoding="utf-8")
    third = ingest_paths([corpus], settings=settings)
    assert (third.unchanged, third.updated, third.failed) == (2, 1, [])
    assert len(loads) == 1 and third.timings["model_load"] >= loads[0].load_seconds
    with EdgeStore(store_path) as store:
        texts = [h.payload.get("text", "") for h in store.scroll("inc")]
    assert any("제99조" in t for t in texts)


def test_a_deferred_model_that_does_not_fit_the_collection_is_refused_before_writing(store_path: Path) -> None:
    from legalrag.ingest.service import DeferredDense
    from legalrag.plugin.errors import CollectionMismatchError
    from legalrag.plugin.store.base import CollectionInfo, VectorInfo

    made_by_another = CollectionInfo(
        name="x", points=3, vectors={"dense": VectorInfo(size=7, distance="Cosine")}, sparse_vectors=(), metadata={}
    )
    deferred = DeferredDense(_settings(store_path), made_by_another)
    assert deferred.dimension == 7 and deferred.loaded is None  # the collection's, until the weights load
    with pytest.raises(CollectionMismatchError, match="dim 7"):
        deferred.encode_documents(["제1조(목적)"])
    assert deferred.loaded is None


def test_ingest_paths_refuses_missing_paths_before_anything_loads(store_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        ingest_paths([CORPUS / "missing"], settings=_settings(store_path))
    with pytest.raises(InputError, match="no paths"):
        ingest_paths([], settings=_settings(store_path))
    assert not store_path.exists()


def test_a_stopped_ingest_says_so_and_a_rerun_finishes(store_path: Path, minilm_encoder: Any) -> None:
    stop = threading.Event()
    stop.set()
    stopped = ingest_paths([CORPUS], settings=_settings(store_path), dense=minilm_encoder, stop=stop)
    assert stopped.interrupted and stopped.added < 3
    finished = ingest_paths([CORPUS], settings=_settings(store_path), dense=minilm_encoder)
    assert not finished.interrupted and finished.added + finished.unchanged == 3


def test_chunk_paths_matches_the_cli() -> None:
    chunks, failed = chunk_paths(CORPUS / "ko", settings=Settings(model=MINILM))
    assert failed == [] and chunks and all(c.metadata["token_count"] <= 256 for c in chunks)
    result = CliRunner().invoke(app, ["chunk", str(CORPUS / "ko"), "--model", MINILM, "--json"])
    assert [c["text"] for c in json.loads(result.stdout)["chunks"]] == [c.text for c in chunks]


def test_evaluate_collection_reports_and_writes_its_outputs(
    store_path: Path, tmp_path: Path, minilm_encoder: Any
) -> None:
    report = evaluate_collection(
        EXAMPLES / "eval",
        EvalOptions(modes=("dense", "sparse")),
        settings=_settings(store_path, "ev"),
        dense=minilm_encoder,
    )
    assert isinstance(report, EvalReport)
    assert list(report.results) == ["dense", "sparse"] and report.ingest is not None
    summary = report.summaries["sparse"]
    assert 0.0 < summary["mrr@10"] <= 1.0 and "ndcg@10" in summary and "map@100" in summary
    assert report.write(tmp_path / "out") == []
    written = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert written["results"]["sparse"]["mrr@10"] == pytest.approx(summary["mrr@10"])
    assert written["queries"] == len(report.dataset.queries) and written["dataset"] == report.dataset.name
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Misses" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert (tmp_path / "out" / "run-dense.jsonl").is_file() and (tmp_path / "out" / "run-sparse.trec").is_file()
    # the CLI prints the same numbers (the collection is now ingested: no second ingest)
    result = CliRunner().invoke(
        app, cli_args("eval", str(EXAMPLES / "eval"), "--mode", "sparse", store=store_path, collection="ev")
    )
    printed = json.loads(result.stdout)
    assert printed["results"]["sparse"]["mrr@10"] == pytest.approx(summary["mrr@10"]) and printed["ingest"] is None


def test_eval_options_refuse_bad_arguments() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="metrics_compat"):
        EvalOptions(metrics_compat="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs a cutoff"):
        EvalOptions(objective="mrr@ten")
    with pytest.raises(ValidationError, match="at least 1"):
        EvalOptions(top_k=(0, 3))


def test_autorag_compat_scores_the_returned_lists_and_writes_its_tables(
    store_path: Path, tmp_path: Path, minilm_encoder: Any
) -> None:
    from legalrag.eval.autorag_metrics import autorag_means

    options = EvalOptions(modes=("sparse",), metrics_compat="autorag", top_k=(1, 3))
    report = evaluate_collection(EXAMPLES / "eval", options, settings=_settings(store_path, "ar"), dense=minilm_encoder)
    summary = report.summaries["sparse"]
    assert {"retrieval_f1@1", "retrieval_ndcg@3", "retrieval_map@3"} <= set(summary)
    report.write(tmp_path / "out")
    # recomputed from the written rankings: the table is over the first k of each returned list
    rows = [json.loads(line) for line in (tmp_path / "out" / "run-sparse.jsonl").read_text().splitlines()]
    truth = {r["query_id"]: [[d] for d in r["relevant"]] for r in rows}
    ranked = {r["query_id"]: [h["doc_id"] for h in r["ranking"]] for r in rows}
    means, _ = autorag_means(truth, ranked, (1, 3))
    assert summary["retrieval_mrr@3"] == pytest.approx(means["retrieval_mrr@3"])
    table = (tmp_path / "out" / "table.md").read_text(encoding="utf-8")
    assert "### Top-k 1" in table and "### Top-k 3" in table and f"{summary['retrieval_f1@3']:.4f}" in table
    assert not (tmp_path / "out" / "accuracy.png").exists()


def test_zalo_protocol_table_and_precision_is_fp32_by_default(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import FIXTURES

    monkeypatch.delenv("LEGALRAG_EMBEDDING__PRECISION", raising=False)
    result = CliRunner().invoke(
        app,
        cli_args("eval", str(FIXTURES / "zalo_tiny"), "--mode", "dense", "--output", str(tmp_path / "out"),
                 store=store_path, collection="zalo"),
    )  # fmt: skip
    printed = json.loads(result.stdout)
    assert result.exit_code == 0 and printed["protocol"] == "zalo"
    # ingest's "auto" would pick bf16 on a CPU that has it; evaluation reproduces fp32 model cards
    assert printed["embedding"]["precision"] == "fp32" and printed["embedding"]["runtime"] == "torch"
    table = (tmp_path / "out" / "table.md").read_text(encoding="utf-8")
    assert "| Model | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR@10 |" in table
    assert f"{printed['results']['dense']['mrr@10']:.4f}" in table


def test_an_explicit_precision_is_kept_and_reported(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a few documents: bf16 matrix products on a CPU without native bf16 take seconds each
    dataset = tmp_path / "eval"
    (dataset / "qrels").mkdir(parents=True)
    lines = (EXAMPLES / "eval" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (dataset / "corpus.jsonl").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    first = json.loads(lines[0])["_id"]
    (dataset / "queries.jsonl").write_text('{"_id": "q1", "text": "개인정보 보호법의 목적"}\n', encoding="utf-8")
    (dataset / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\nq1\t{first}\t1\n", encoding="utf-8")
    monkeypatch.setenv("LEGALRAG_EMBEDDING__PRECISION", "bf16")
    report = evaluate_collection(dataset, EvalOptions(modes=("dense",)), settings=_settings(store_path, "bf"))
    assert report.embedding is not None and report.embedding["precision"] == "bf16"


def test_ingest_chooses_the_default_search_without_labels_and_never_overrides_tuning(
    store_path: Path, minilm_encoder: Any, tmp_path: Path
) -> None:
    from legalrag.plugin.components import open_searcher
    from legalrag.plugin.store import EdgeStore

    corpus = tmp_path / "corpus"
    import shutil

    shutil.copytree(CORPUS / "ko", corpus)
    report = ingest_paths(corpus, settings=_settings(store_path), dense=minilm_encoder)
    # MiniLM (English WordPiece) cannot read Korean: searching its vectors finds far less than BM25 does
    chosen = report.default_search
    assert chosen is not None and chosen["mode"] == "sparse" and chosen["tuned_by"] == "ingest"
    assert chosen["label_free"]["dense_mrr"] < 0.5 * chosen["label_free"]["sparse_mrr"]
    with EdgeStore(store_path) as store:
        assert open_searcher(_settings(store_path), store).resolve_mode() == "sparse"
        store.set_metadata("laws", {"search": {"mode": "hybrid", "fusion": "rrf", "tuned_by": "eval --tune"}})
    (corpus / "new.md").write_text("제1조(목적) 이 규정은 새 내용을 정한다.\n", encoding="utf-8")
    again = ingest_paths(corpus, settings=_settings(store_path), dense=minilm_encoder)
    assert again.added == 1 and again.default_search is None  # a tuned choice stays
    with EdgeStore(store_path) as store:
        searcher = open_searcher(_settings(store_path), store, dense=minilm_encoder)
        assert (searcher.resolve_mode(), searcher.config.fusion) == ("hybrid", "rrf")


def test_a_stop_does_not_wait_for_a_document_still_loading(store_path: Path, minilm_encoder: Any) -> None:
    import time

    from legalrag.ingest import ingest_documents
    from legalrag.plugin.schema import SourceDocument

    stop = threading.Event()
    released = threading.Event()

    def documents() -> Any:
        yield SourceDocument(doc_id="a", source="a.md", text="제1조(목적) 이 법은 개인정보를 보호한다.")
        threading.Timer(3.0, stop.set).start()  # Ctrl-C while the next file loads, and loading it takes minutes
        released.wait(120)
        yield SourceDocument(doc_id="b", source="b.md", text="제2조(정의) 개인정보란 무엇인가.")

    started = time.monotonic()
    try:
        report = ingest_documents(documents(), settings=_settings(store_path), dense=minilm_encoder, stop=stop)
    finally:
        released.set()
    assert time.monotonic() - started < 60 and report.interrupted and report.added == 1
