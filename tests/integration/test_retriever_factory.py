"""``LegalRetriever.from_collection``: one line, LangChain's ``search_kwargs``, loaded before the first query."""

from __future__ import annotations

from typing import Any

import pytest

from legalrag.ingest import ingest_paths
from legalrag.plugin import LegalRetriever, Settings
from legalrag.plugin.errors import InputError
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES, MINILM


@pytest.fixture(scope="module")
def laws(tmp_path_factory: pytest.TempPathFactory, minilm_encoder: Any) -> Settings:
    settings = Settings(model=MINILM, device="cpu", qdrant_path=tmp_path_factory.mktemp("q"), collection="laws")
    ingest_paths([EXAMPLES / "corpus"], settings=settings, dense=minilm_encoder)
    return settings


def test_from_collection_in_one_line_with_search_kwargs(laws: Settings) -> None:
    retriever = LegalRetriever.from_collection(settings=laws, search_kwargs={"k": 2, "mode": "sparse"})
    docs = retriever.invoke("신용카드 분실 책임")
    assert len(docs) == 2 and all(d.metadata["language"] == "ko" for d in docs)
    assert len(retriever.invoke("신용카드 분실 책임", k=3)) == 3  # the call wins over search_kwargs
    filtered = retriever.invoke("bồi thường", filter={"language": "vi"})
    assert filtered and {d.metadata["language"] for d in filtered} == {"vi"}
    with pytest.raises(TypeError, match="search_kwargs"):
        LegalRetriever.from_collection(settings=laws, search_kwargs={"top_k": 3}, warmup=False)
    retriever.searcher.store.close()


def test_warmup_loads_what_the_first_query_would(laws: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from legalrag.plugin.text import analyzers as tokenizers

    monkeypatch.setattr(tokenizers, "_kiwi_state", {})  # as in a fresh process: the Korean analyser not loaded
    cold = LegalRetriever.from_collection(settings=laws, warmup=False, store=EdgeStore(laws.qdrant_path))
    assert "kiwi" not in tokenizers._kiwi_state
    cold.searcher.store.close()
    warm = LegalRetriever.from_collection(settings=laws, store=EdgeStore(laws.qdrant_path))
    assert "kiwi" in tokenizers._kiwi_state  # loaded by warmup, not by the first query
    assert warm.invoke("개인정보 수집 동의")
    warm.searcher.store.close()


def test_a_sparse_default_searcher_loads_the_model_when_a_query_asks_for_dense(laws: Settings) -> None:
    from legalrag.plugin import open_searcher

    with EdgeStore(laws.qdrant_path) as store:
        searcher = open_searcher(laws, store, mode="sparse")
        assert searcher.dense is None  # nothing loaded for sparse serving
        hits = searcher.search("personal data breach", 3, mode="dense")
        assert len(hits) == 3 and searcher.dense is not None
        assert searcher.search("personal data breach", 3, mode="hybrid")


def test_from_collection_loads_the_model_for_the_mode_in_search_kwargs(laws: Settings) -> None:
    sparse_only = laws.model_copy(update={"search": laws.search.with_changes(mode="sparse")})
    retriever = LegalRetriever.from_collection(settings=sparse_only, search_kwargs={"k": 2, "mode": "dense"})
    assert retriever.searcher.dense is not None  # loaded (and warmed) before the first query
    assert len(retriever.invoke("personal data")) == 2
    retriever.searcher.store.close()


def test_open_searcher_passes_strict_filters_on(laws: Settings) -> None:
    from legalrag.plugin import InputError, open_searcher

    with EdgeStore(laws.qdrant_path) as store:
        searcher = open_searcher(laws, store, mode="sparse", strict_filters=True)
        with pytest.raises(InputError, match="no_such_field"):
            searcher.search("개인정보", 3, filter={"no_such_field": "x"})


def test_warmup_loads_only_what_the_mode_needs(laws: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from legalrag.plugin.text import analyzers as tokenizers

    monkeypatch.setattr(tokenizers, "_kiwi_state", {})
    dense = LegalRetriever.from_collection(
        settings=laws, search_kwargs={"mode": "dense"}, store=EdgeStore(laws.qdrant_path)
    )
    assert "kiwi" not in tokenizers._kiwi_state  # a dense app never pays for the Korean analyser
    assert dense.invoke("개인정보 수집 동의")
    dense.searcher.store.close()


def test_close_and_with_release_the_store_the_retriever_opened(laws: Settings) -> None:
    readers = laws.qdrant_path / "laws" / "readers"
    with LegalRetriever.from_collection(settings=laws, search_kwargs={"mode": "sparse"}) as retriever:
        assert retriever.invoke("신용카드 분실 책임")
        assert any(readers.iterdir())  # this process's reader copy, while open
    assert not list(readers.iterdir())  # removed on the way out
    retriever.close()  # twice is harmless
    given = EdgeStore(laws.qdrant_path)
    borrowed = LegalRetriever.from_collection(settings=laws, store=given, warmup=False)
    borrowed.close()
    assert given.count("laws") > 0  # a store passed in stays open: it is the caller's
    given.close()


def test_repr_names_collection_mode_fusion_and_model(laws: Settings) -> None:
    with LegalRetriever.from_collection(settings=laws, search_kwargs={"mode": "hybrid"}) as retriever:
        shown = repr(retriever)
    assert "collection='laws'" in shown and "mode='hybrid'" in shown and "fusion=" in shown and MINILM in shown


def test_mmr_trades_relevance_for_diversity_as_langchain_spells_it(laws: Settings) -> None:
    query = "신용카드 분실 도난 책임"
    with LegalRetriever.from_collection(settings=laws, search_kwargs={"mode": "dense", "k": 4}) as plain:
        top = plain.invoke(query)
        diverse = LegalRetriever(
            searcher=plain.searcher,
            search_type="mmr",
            search_kwargs={"mode": "dense", "k": 4, "fetch_k": 20, "lambda_mult": 0.0},
        ).invoke(query)
        relevant = LegalRetriever(
            searcher=plain.searcher,
            search_type="mmr",
            search_kwargs={"mode": "dense", "k": 4, "fetch_k": 20, "lambda_mult": 1.0},
        ).invoke(query)
        with pytest.raises(InputError, match="needs a score_threshold"):
            LegalRetriever(searcher=plain.searcher, search_type="similarity_score_threshold").invoke(query)
    assert len(diverse) == 4 and [d.id for d in relevant] == [d.id for d in top]  # lambda 1: pure relevance
    assert [d.id for d in diverse] != [d.id for d in top]  # lambda 0: pure diversity picks otherwise
    assert len({d.metadata["doc_id"] for d in diverse}) >= len({d.metadata["doc_id"] for d in top})
