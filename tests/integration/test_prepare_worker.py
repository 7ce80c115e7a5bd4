"""Chunking and BM25 analysis in a second process while the model loads (legalrag.ingest.prepare)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from legalrag.ingest import ingest_documents, ingest_paths
from legalrag.ingest.loaders import iter_documents
from legalrag.ingest.pipeline import DocumentFailure
from legalrag.ingest.prepare import PrepareProcess, chunking_of
from legalrag.ingest.service import make_chunker
from legalrag.plugin.components import load_tokenizer
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.settings import ChunkingSettings, Settings
from legalrag.plugin.store import EdgeStore
from legalrag.plugin.store.base import SearchRequest
from legalrag.plugin.text.bm25 import BM25Encoder
from tests.conftest import EXAMPLES, FIXTURES, MINILM

CORPUS = EXAMPLES / "corpus"


def _settings(store: Path, collection: str, *, worker: bool = True, **chunking: Any) -> Settings:
    return Settings(
        model=MINILM, device="cpu", qdrant_path=store, collection=collection,
        chunking=ChunkingSettings(worker=worker, **chunking),
    )  # fmt: skip


def _documents() -> list[SourceDocument]:
    paths = [CORPUS, FIXTURES / "ko", FIXTURES / "vi", FIXTURES / "zh"]
    return [d for d in iter_documents(paths) if isinstance(d, SourceDocument)]


def _tokenizer_and_chunker(settings: Settings) -> tuple[Any, Any]:
    info = load_tokenizer(settings.model, settings)
    return info, make_chunker(info, settings)


def test_the_worker_cuts_and_analyses_exactly_as_the_pipeline(tmp_path: Path, minilm_encoder: Any) -> None:
    settings = _settings(tmp_path, "c", max_tokens=64)  # small chunks: many cuts, overlaps, headers
    info, chunker = _tokenizer_and_chunker(settings)
    encoder = minilm_encoder
    bm25 = BM25Encoder()
    documents = _documents()
    assert len(documents) >= 5
    with PrepareProcess(bm25.config(), documents) as ahead:
        ahead.start_chunking(chunking_of(chunker), info.tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        assert ahead.accept(chunking_of(chunker), bm25.config(), info.max_seq_length)
        seen = 0
        for document in ahead.items():
            ready = ahead.take(document)
            assert ready is not None, document.doc_id
            chunks, sparse, lengths = ready
            local = chunker.chunk(document)
            assert [(c.text, c.embed_text, dict(c.metadata)) for c in chunks] == [
                (c.text, c.embed_text, dict(c.metadata)) for c in local
            ]
            languages = [c.metadata.get("language") for c in local]
            assert sparse == bm25.encode_documents([c.embed_text for c in local], languages)
            assert lengths == encoder._token_lengths([c.embed_text for c in local]).tolist(), "as the encoder counts"
            seen += 1
        assert seen == len(documents)
        queries = ahead.queries(bm25)
        for text in ("개인정보의 수집 동의", "Điều 5 phạm vi", "个人信息 保护"):
            assert queries.encode_query(text) == bm25.encode_query(text)
        assert queries.config() == bm25.config(), "everything else is the local encoder's"


def test_a_worker_set_up_differently_is_not_used(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "c", max_tokens=64)
    info, chunker = _tokenizer_and_chunker(settings)
    documents = _documents()[:2]
    with PrepareProcess(BM25Encoder().config(), documents) as ahead:
        other = {**chunking_of(chunker), "overlap_tokens": 0}
        ahead.start_chunking(other, info.tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        assert not ahead.accept(chunking_of(chunker), BM25Encoder().config(), info.max_seq_length)
        assert [ahead.take(d) for d in ahead.items()] == [None, None], "every document is chunked in process"
    with PrepareProcess(BM25Encoder(k1=2.0).config(), documents) as ahead:
        ahead.start_chunking(chunking_of(chunker), info.tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        assert not ahead.accept(chunking_of(chunker), BM25Encoder().config(), info.max_seq_length), "another BM25"
    with PrepareProcess(None, documents) as ahead:
        ahead.start_chunking(chunking_of(chunker), info.tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        assert not ahead.accept(chunking_of(chunker), None, info.max_seq_length + 1), "counts up to another limit"


def test_items_keep_order_failures_and_loader_errors(tmp_path: Path) -> None:
    documents = _documents()[:2]
    failure = DocumentFailure("broken.pdf", "cannot read")

    def loader() -> Any:
        yield documents[0]
        yield failure
        yield documents[1]
        raise OSError("disk gone")

    with PrepareProcess(None, loader()) as ahead:
        got = []
        with pytest.raises(OSError, match="disk gone"):
            for item in ahead.items():
                got.append(item)
        assert got == [documents[0], failure, documents[1]]


def _points(store_path: Path, collection: str) -> dict[str, tuple[Any, ...]]:
    with EdgeStore(store_path) as store:
        return {h.id: (h.payload["text"], h.payload["version"]) for h in store.scroll(collection)}


def test_an_ingest_with_the_worker_stores_what_one_without_it_stores(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered: list[bool] = []
    original = PrepareProcess.take

    def counting(self: PrepareProcess, document: SourceDocument) -> Any:
        result = original(self, document)
        delivered.append(result is not None)
        return result

    from legalrag.plugin.models.encoder import DenseEncoder

    counted: list[bool] = []
    encode = DenseEncoder.encode_documents

    def recording(self: DenseEncoder, texts: Any, *, token_lengths: Any = None) -> Any:
        counted.append(token_lengths is not None)
        return encode(self, texts, token_lengths=token_lengths)

    monkeypatch.setattr(PrepareProcess, "take", counting)
    monkeypatch.setattr(DenseEncoder, "encode_documents", recording)
    with_worker = ingest_paths([CORPUS, FIXTURES / "ko"], settings=_settings(store_path, "worker"))
    assert delivered and all(delivered), "every document came from the worker"
    assert counted and all(counted), "with their token lengths: the encoder does not count them again"
    counted.clear()
    alone = ingest_paths([CORPUS, FIXTURES / "ko"], settings=_settings(store_path, "alone", worker=False))
    assert with_worker.chunks == alone.chunks > 0 and with_worker.failed == alone.failed
    assert _points(store_path, "worker") == _points(store_path, "alone")
    bm25 = BM25Encoder()
    with EdgeStore(store_path) as store:  # equal BM25 vectors: equal sparse hits and scores
        for text in ("개인정보의 수집 동의", "근로계약 기간", "이자의 최고한도"):
            request = SearchRequest(limit=20, sparse=bm25.encode_query(text))
            worker, alone = store.query("worker", request), store.query("alone", request)
            assert worker and [h.id for h in worker] == [h.id for h in alone]
            # equal within float32 summation: rounding both to 5 places can still split 27.475035 apart
            assert [h.score for h in worker] == pytest.approx([h.score for h in alone], rel=1e-6)


def test_a_worker_that_dies_changes_nothing_but_the_speed(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import legalrag.ingest.service as service

    original = service._start_chunking

    def then_die(ahead: PrepareProcess, settings: Settings) -> None:
        original(ahead, settings)
        ahead._process.kill()  # mid-run: whatever it had not delivered is chunked in process

    monkeypatch.setattr(service, "_start_chunking", then_die)
    texts = [f"제{i}조(목적) 이 법은 개인정보를 보호한다. " * 20 for i in range(1, 6)]
    docs = [SourceDocument(doc_id=f"d{i}", source=f"mine:{i}", text=t) for i, t in enumerate(texts)]
    report = ingest_documents(docs, settings=_settings(store_path, "died"))
    monkeypatch.setattr(service, "_start_chunking", original)
    reference = ingest_documents(docs, settings=_settings(store_path, "ref", worker=False))
    assert (report.added, report.failed, report.chunks) == (5, [], reference.chunks)
    assert _points(store_path, "died") == _points(store_path, "ref")


def test_no_worker_when_switched_off_or_already_embedded(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import legalrag.ingest.service as service

    started: list[Any] = []
    original = service.PrepareProcess

    def recording(*args: Any, **kwargs: Any) -> Any:
        started.append(original(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(service, "PrepareProcess", recording)
    ingest_paths([CORPUS], settings=_settings(store_path, "off", worker=False))
    assert started == []
    ingest_paths([CORPUS], settings=_settings(store_path, "on"))
    assert len(started) == 1, "a first ingest loads the model: the worker chunks meanwhile"
    assert started[0]._process.poll() is not None, "and it is gone when the run ends"
    ingest_paths([CORPUS], settings=_settings(store_path, "on"))
    assert len(started) == 1, "an incremental run loads no weights up front: nothing to overlap"


def test_a_document_that_cannot_be_pickled_is_chunked_in_process(store_path: Path) -> None:
    class Tag(str):  # a local class: pickle refuses it, JSON payloads take it as a string
        pass

    odd = SourceDocument(
        doc_id="odd", source="mine:odd", text="제1조(목적) 이 법은 보호한다.", metadata={"tag": Tag("x")}
    )
    plain = SourceDocument(doc_id="plain", source="mine:plain", text="제2조(정의) 정보주체란 주체를 말한다.")
    with PrepareProcess(None, [odd, plain]) as ahead:
        settings = _settings(store_path, "c")
        info, chunker = _tokenizer_and_chunker(settings)
        ahead.start_chunking(chunking_of(chunker), info.tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        assert ahead.accept(chunking_of(chunker), None, info.max_seq_length)
        taken = {d.doc_id: ahead.take(d) for d in ahead.items()}
    assert taken["odd"] is None and taken["plain"] is not None, "one refusal does not break the stream"
    report = ingest_documents([odd, plain], settings=_settings(store_path, "odd"))
    assert (report.added, report.failed) == (2, [])


def test_results_the_pipeline_skipped_do_not_hold_the_buffer(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "c")
    info, chunker = _tokenizer_and_chunker(settings)
    documents = _documents()[:3]
    with PrepareProcess(None, documents, max_ahead_chunks=1) as ahead:
        ahead.start_chunking(chunking_of(chunker), info.tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        assert ahead.accept(chunking_of(chunker), None, info.max_seq_length)
        items = list(ahead.items())
        ahead._seqs.pop(id(items[0]))  # as if the pipeline never asked for the first document
        assert ahead.take(items[1]) is not None and ahead.take(items[2]) is not None
        assert ahead._ready == {} and ahead._held == 0


def test_code_in_the_folder_being_ingested_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from legalrag.ingest import IngestOptions

    hostile = tmp_path / "hostile"
    hostile.mkdir()
    marker = tmp_path / "ran"
    for name in ("queue", "tokenizers", "selectors", "kiwipiepy"):  # modules the worker imports
        (hostile / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}\\n')\n", encoding="utf-8")
    (hostile / "doc.md").write_text("제1조(목적) 이 법은 개인정보의 처리를 정한다.\n", encoding="utf-8")
    monkeypatch.chdir(hostile)
    report = ingest_paths([hostile], IngestOptions(include=("*.md",)), settings=_settings(tmp_path / "q", "h"))
    assert report.added == 1 and report.chunks >= 1
    assert not marker.exists(), marker.read_text(encoding="utf-8")


def test_the_worker_starts_isolated_without_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from legalrag.ingest.prepare import worker_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", str(tmp_path), *sys.path])
    command = worker_command()
    assert command[:3] == [sys.executable, "-I", "-c"]
    assert repr(str(tmp_path)) not in command[3] and "'', " not in command[3]
