"""``LegalRetriever.from_collection``: one line, LangChain's ``search_kwargs``, loaded before the first query."""

from __future__ import annotations

from typing import Any

import pytest

from legalrag.ingest import ingest_paths
from legalrag.plugin import LegalRetriever, Settings
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
    from legalrag.plugin import tokenizers

    monkeypatch.setattr(tokenizers, "_kiwi_state", {})  # as in a fresh process: the Korean analyser not loaded
    cold = LegalRetriever.from_collection(settings=laws, warmup=False, store=EdgeStore(laws.qdrant_path))
    assert "kiwi" not in tokenizers._kiwi_state
    cold.searcher.store.close()
    warm = LegalRetriever.from_collection(settings=laws, store=EdgeStore(laws.qdrant_path))
    assert "kiwi" in tokenizers._kiwi_state  # loaded by warmup, not by the first query
    assert warm.invoke("개인정보 수집 동의")
    warm.searcher.store.close()
