"""The Ray engine (``IngestOptions(engine="ray")``) on a local Ray cluster of 2 CPUs."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from legalrag.ingest import ingest_documents, ingest_paths
from legalrag.ingest.options import IngestOptions
from legalrag.plugin.errors import InputError, MissingExtraError
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.settings import EmbeddingSettings, Settings
from legalrag.plugin.store import ClientStore, EdgeStore
from legalrag.plugin.store.base import Store
from tests.conftest import EXAMPLES, MINILM
from tests.helpers.ray_faults import DiesOnce

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]
#: one worker where the test is about what is stored (each worker loads the model: seconds on 2 cores)
RAY = IngestOptions(engine="ray", workers=1, chunks_per_batch=32)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local cluster for the module (the engine joins a running one and leaves it running)."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}},
    )
    yield
    ray.shutdown()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """Korean and Vietnamese statutes, a JSON file of two records and a corrupt PDF among them."""
    folder = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus", folder)
    (folder / "qa.jsonl").write_text(
        '{"id": "q1", "text": "제1조(목적) 이 법은 신용카드 분실 시 책임을 정한다."}\n'
        '{"id": "q2", "text": "Điều 1. Phạm vi điều chỉnh của luật này."}\n',
        encoding="utf-8",
    )
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    return folder


def _settings(store: Path, collection: str) -> Settings:
    # fp32 weights: the two engines' vectors then differ only by how batches are cut
    return Settings(
        model=MINILM, device="cpu", qdrant_path=store, collection=collection,
        embedding=EmbeddingSettings(precision="fp32"),
    )  # fmt: skip


def _points(store: Store, collection: str) -> dict[str, Any]:
    return {h.id: h for h in store.scroll(collection, with_vectors=True)}


def _same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert ours and ours.keys() == theirs.keys()
    for key, hit in ours.items():
        assert hit.payload == theirs[key].payload
        np.testing.assert_allclose(hit.dense, theirs[key].dense, atol=1e-5)


def _sparse(store: Store, collection: str) -> list[Any]:
    from legalrag.plugin.store.base import SearchRequest
    from legalrag.plugin.text.bm25 import BM25Encoder

    bm25 = BM25Encoder()
    found = []
    for text in ("이자의 최고한도", "bồi thường thiệt hại", "合同 效力", "신용카드 분실"):
        hits = store.query(collection, SearchRequest(limit=50, sparse=bm25.encode_query(text)))
        found.append(sorted((-round(h.score, 4), h.id) for h in hits))  # ties: in the order of the ids
    return found


class _Parallel:
    """The embedded store, with the Ray engine's driver allowed 3 upserts in flight (as to a server): each
    upsert waits a moment so they overlap, then writes (one at a time: the embedded store has one writer)."""

    parallel_writes = 3

    def __init__(self, inner: EdgeStore) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.flying = 0
        self.most = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert(self, name: str, points: Any) -> None:
        with self.lock:
            self.flying += 1
            self.most = max(self.most, self.flying)
        time.sleep(0.05)
        with self.lock:
            self.inner.upsert(name, points)
            self.flying -= 1


def test_the_ray_engine_stores_what_the_local_engine_stores(corpus: Path, store_path: Path) -> None:
    with EdgeStore(store_path) as edge:
        parallel = _Parallel(edge)
        two = RAY.model_copy(update={"workers": 2})
        ours = ingest_paths([corpus], two, settings=_settings(store_path, "ray"), store=parallel)  # type: ignore[arg-type]
        theirs = ingest_paths([corpus], settings=_settings(store_path, "local"), store=edge)
        assert parallel.most > 1, "upserts went out several at a time"
        assert (ours.added, ours.chunks, ours.upserted, ours.tokens) == (
            theirs.added,
            theirs.chunks,
            theirs.upserted,
            theirs.tokens,
        )
        assert ours.added >= 4 and ours.chunks > 20
        assert [f.source for f in ours.failed] == [f.source for f in theirs.failed] == [str(corpus / "broken.pdf")]
        assert ours.files == theirs.files
        _same(_points(edge, "ray"), _points(edge, "local"))
        assert _sparse(edge, "ray") == _sparse(edge, "local"), "the same BM25 vectors: the same sparse hits"
        stored = edge.get_collection("ray")
        assert stored is not None and stored.metadata["model"] == MINILM
        assert stored.metadata.get("search"), "the default search is chosen after a Ray ingest too"


def test_a_re_run_writes_nothing_and_a_sync_replaces_and_deletes_on_a_qdrant_client(
    corpus: Path, tmp_path: Path
) -> None:
    from qdrant_client import QdrantClient

    settings = _settings(tmp_path / "unused", "laws")
    store = ClientStore(QdrantClient(":memory:"))
    try:
        first = ingest_paths([corpus], RAY, settings=settings, store=store)
        assert store.count("laws") == first.upserted == first.chunks
        before = _points(store, "laws")
        again = ingest_paths([corpus], RAY, settings=settings, store=store)
        assert (again.added, again.updated, again.upserted, again.deleted) == (0, 0, 0, 0)
        assert again.unchanged == first.added and again.skipped == first.chunks
        assert _points(store, "laws").keys() == before.keys()
        law, gone = sorted((corpus / "ko").iterdir())
        law.write_text(law.read_text(encoding="utf-8") + "\n제99조(시행) 이 법은 공포한 날부터 시행한다.\n")
        gone.unlink()
        (corpus / "qa.jsonl").write_text(
            '{"id": "q1", "text": "제1조(목적) 이 법은 신용카드 분실 시 책임을 정한다."}\n'
        )
        synced = ingest_paths([corpus], RAY.model_copy(update={"sync": True}), settings=settings, store=store)
        assert (synced.updated, synced.added, synced.deleted) == (1, 0, 2), "the file gone and the JSON record removed"
        assert synced.unchanged == first.added - 3
        points = list(store.scroll("laws"))
        assert len(points) == synced.chunks, "the old version is gone, the new one whole"
        docs = Counter(str(h.payload["doc_id"]) for h in points)
        assert f"ko/{gone.name}" not in docs and "qa.jsonl#q2" not in docs and "qa.jsonl#q1" in docs
        versions = {str(h.payload["version"]) for h in points if h.payload["doc_id"] == f"ko/{law.name}"}
        assert len(versions) == 1
        assert any("제99조" in str(h.payload["text"]) for h in points)
    finally:
        store.close()


def test_a_killed_worker_loses_and_duplicates_nothing(corpus: Path, store_path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    settings = _settings(store_path, "killed")
    dying = DiesOnce(settings, marker, after=2)
    options = IngestOptions(engine="ray", workers=1, chunks_per_batch=8)
    report = ingest_paths([corpus], options, settings=settings, dense=dying)  # type: ignore[arg-type]
    assert marker.exists(), "a worker process was killed mid-job"
    assert int(marker.read_text()) > 0
    reference = ingest_paths([corpus], settings=_settings(store_path, "reference"))
    assert (report.added, report.upserted) == (reference.added, reference.upserted)
    with EdgeStore(store_path) as store:
        killed, clean = _points(store, "killed"), _points(store, "reference")
        assert len(killed) == store.count("killed") == len(clean), "none lost, none twice"
        per_doc = Counter(str(h.payload["doc_id"]) for h in killed.values())
        assert per_doc == Counter(str(h.payload["doc_id"]) for h in clean.values())
        assert killed.keys() == clean.keys()


def test_recreate_over_files_that_do_not_load_keeps_the_collection(corpus: Path, store_path: Path) -> None:
    """Regression: the Ray engine loads files on the cluster, and ``recreate`` dropped the collection
    before any of them had loaded; input that loads nothing must leave it as it was."""
    settings = _settings(store_path, "kept")
    doc = SourceDocument(doc_id="d", source="d.txt", text="제1조(목적) 이 규정은 카드 회원의 보호를 목적으로 한다.")
    kept = ingest_documents([doc], settings=settings)
    broken = corpus.parent / "broken"
    broken.mkdir()
    (broken / "a.pdf").write_bytes(b"%PDF-1.4 not a pdf")
    (broken / "b.txt").write_bytes(b"")
    with pytest.raises(InputError, match=r"every file failed \(2\).*'kept' was left as it was"):
        ingest_paths([broken], RAY.model_copy(update={"recreate": True}), settings=settings)
    with EdgeStore(store_path) as store:
        assert store.count("kept") == kept.upserted > 0


def test_without_ray_the_error_names_the_extra_and_nothing_is_written(
    corpus: Path, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"legalrag\[ray\]"):
        ingest_paths([corpus], RAY, settings=_settings(store_path, "none"))
    assert not store_path.exists()


def test_ray_options_are_refused_where_they_cannot_apply(store_path: Path) -> None:
    with pytest.raises(ValueError, match="apply to engine='ray'"):
        IngestOptions(workers=2)
    with pytest.raises(ValueError, match="engine"):
        IngestOptions(engine="spark")  # type: ignore[arg-type]
    doc = SourceDocument(doc_id="d", source="d.txt", text="제1조 목적")
    with pytest.raises(ValueError, match="use ingest_paths"):
        ingest_documents([doc], IngestOptions(engine="ray"), settings=_settings(store_path, "docs"))
    with pytest.raises(ValueError, match=r"the Ray cluster has 0: ask for fewer"):
        ingest_paths(
            [EXAMPLES / "corpus"], IngestOptions(engine="ray", gpus_per_worker=1), settings=_settings(store_path, "g")
        )
    assert not store_path.exists(), "refused before the store opened"
