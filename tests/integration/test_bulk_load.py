"""Deferred HNSW indexing during a bulk load: ClientStore over real local mode, EdgeStore's no-op.

qdrant-client's local mode accepts ``update_collection(optimizers_config=...)`` and drops it (it
builds no index), and its collection info always reports ``indexing_threshold=20000``. So the
thresholds sent are observed by a local-mode client that records them on their way in (it changes
nothing), and everything else (the crash marker in the collection metadata, the points) is read back
from local mode itself.
"""

from __future__ import annotations

import gc
import logging
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from legalrag.plugin.errors import CollectionNotFoundError, LegalRAGError
from legalrag.plugin.store import ClientStore, CollectionSpec, EdgeStore, PointRecord, SearchRequest, Store
from legalrag.plugin.store.client.bulk import (
    DEFAULT_INDEXING_THRESHOLD_KB,
    MARKER_KEY,
    original_threshold,
    recorded_threshold,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
]

NAME = "laws"
DIM = 8
SPEC = CollectionSpec(dense_size=DIM, sparse_name=None, metadata={"model": "test-model"})
#: what local mode's collection info reports as the current threshold
LOCAL_THRESHOLD = 20000


class RecordingClient(QdrantClient):
    """Real local mode that remembers each ``indexing_threshold`` sent (local mode itself drops them)."""

    def __init__(self, location: str | None = None, *, path: str | None = None) -> None:
        super().__init__(location, path=path)
        self.thresholds: list[int | None] = []

    def update_collection(  # type: ignore[override]
        self, collection_name: str, optimizers_config: models.OptimizersConfigDiff | None = None, **kwargs: Any
    ) -> bool:
        if optimizers_config is not None:
            self.thresholds.append(optimizers_config.indexing_threshold)
        return super().update_collection(collection_name, optimizers_config=optimizers_config, **kwargs)


def _points(n: int, seed: int = 0) -> list[PointRecord]:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM))
    return [
        PointRecord(str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulk-{i}")), {"n": i}, vectors[i].tolist()) for i in range(n)
    ]


def _metadata(client: QdrantClient) -> dict[str, Any]:
    return dict(client.get_collection(NAME).config.metadata or {})


@pytest.fixture
def client() -> Iterator[RecordingClient]:
    made = RecordingClient(":memory:")
    yield made
    made.close()


@pytest.fixture
def store(client: RecordingClient) -> ClientStore:
    made = ClientStore(client)
    made.create_collection(NAME, SPEC)
    return made


@pytest.fixture(params=["edge", "client"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = EdgeStore(tmp_path / "qdrant") if request.param == "edge" else ClientStore(QdrantClient(":memory:"))
    made.create_collection(NAME, SPEC)
    yield made
    made.close()


def test_threshold_is_zero_inside_and_restored_after(store: ClientStore, client: RecordingClient) -> None:
    with store.bulk_load(NAME):
        assert client.thresholds == [0]
        assert _metadata(client)[MARKER_KEY]["indexing_threshold"] == LOCAL_THRESHOLD
        store.upsert(NAME, _points(10))
    assert client.thresholds == [0, LOCAL_THRESHOLD]
    assert _metadata(client) == {"model": "test-model"}  # marker gone, the rest kept
    assert client.get_collection(NAME).config.optimizer_config.indexing_threshold == LOCAL_THRESHOLD


def test_restored_after_an_exception(store: ClientStore, client: RecordingClient) -> None:
    with pytest.raises(RuntimeError, match="embedding failed"), store.bulk_load(NAME):
        store.upsert(NAME, _points(5))
        raise RuntimeError("embedding failed")
    assert client.thresholds == [0, LOCAL_THRESHOLD]
    assert MARKER_KEY not in _metadata(client)
    assert store.count(NAME) == 5


def test_nested_loads_share_one_pause(store: ClientStore, client: RecordingClient) -> None:
    with store.bulk_load(NAME):
        with store.bulk_load(NAME):
            assert client.thresholds == [0]
        assert client.thresholds == [0]  # the inner exit leaves the outer pause in place
        assert MARKER_KEY in _metadata(client)
        assert store.restore_indexing(NAME) is None  # this process's own pause is not undone under it
    assert client.thresholds == [0, LOCAL_THRESHOLD]
    assert MARKER_KEY not in _metadata(client)


def test_dropped_load_is_recovered_by_restore_indexing(store: ClientStore, client: RecordingClient) -> None:
    entered = store.bulk_load(NAME)
    entered.__enter__()  # a crash: never exited
    del entered
    gc.collect()
    assert client.thresholds == [0]
    assert MARKER_KEY in _metadata(client)
    after_crash = ClientStore(client)  # the next process
    assert after_crash.restore_indexing(NAME) == LOCAL_THRESHOLD
    assert client.thresholds == [0, LOCAL_THRESHOLD]
    assert _metadata(client) == {"model": "test-model"}
    assert after_crash.restore_indexing(NAME) is None  # nothing left to undo


def test_leftover_marker_original_wins_over_what_the_server_reports(
    store: ClientStore, client: RecordingClient
) -> None:
    # what a load killed after pausing leaves: its marker, and (on a server) a threshold of 0
    client.update_collection(NAME, metadata={MARKER_KEY: {"indexing_threshold": 12345}})
    with store.bulk_load(NAME):
        assert _metadata(client)[MARKER_KEY]["indexing_threshold"] == 12345  # not re-recorded
    assert client.thresholds == [0, 12345]
    assert MARKER_KEY not in _metadata(client)


def test_a_second_store_entering_mid_load_keeps_the_first_original(client: RecordingClient) -> None:
    first, second = ClientStore(client), ClientStore(client)  # two processes on one server
    first.create_collection(NAME, SPEC)
    client.update_collection(NAME, metadata={MARKER_KEY: {"indexing_threshold": 30000}})
    with first.bulk_load(NAME), second.bulk_load(NAME):
        assert _metadata(client)[MARKER_KEY]["indexing_threshold"] == 30000
    assert client.thresholds == [0, 0, 30000, 30000]


def test_the_original_is_never_zero() -> None:
    assert original_threshold(30000, None) == 30000
    assert original_threshold(0, None) == DEFAULT_INDEXING_THRESHOLD_KB  # paused, by someone without a marker
    assert original_threshold(None, None) == DEFAULT_INDEXING_THRESHOLD_KB  # unset: the server's default
    assert original_threshold(0, 12345) == 12345  # a killed load's marker wins over the paused 0
    assert recorded_threshold({"model": "m"}) is None
    assert recorded_threshold({MARKER_KEY: {"indexing_threshold": 12345}}) == 12345
    for broken in ({"indexing_threshold": 0}, {"indexing_threshold": "x"}, {}, "paused"):
        assert recorded_threshold({MARKER_KEY: broken}) == DEFAULT_INDEXING_THRESHOLD_KB


def test_failed_restore_keeps_the_marker_and_the_loads_own_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "local")
    store = ClientStore(RecordingClient(path=path))
    store.create_collection(NAME, SPEC)
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="load failed"), store.bulk_load(NAME):
        store.client.close()  # the server goes away mid-load
        raise RuntimeError("load failed")
    assert "restore_indexing" in caplog.text
    second = ClientStore(RecordingClient(path=path))
    assert MARKER_KEY in _metadata(second.client)
    entered = second.bulk_load(NAME)
    entered.__enter__()
    second.client.close()
    with pytest.raises(LegalRAGError):  # no error of its own: the failed restore is raised
        entered.__exit__(None, None, None)
    third = ClientStore(RecordingClient(path=path))
    assert _metadata(third.client)[MARKER_KEY]["indexing_threshold"] == LOCAL_THRESHOLD
    assert third.restore_indexing(NAME) == LOCAL_THRESHOLD
    assert MARKER_KEY not in _metadata(third.client)
    third.close()


_KILLED_LOADER = textwrap.dedent(
    """
    import os, signal, sys, warnings
    warnings.simplefilter("ignore")
    from qdrant_client import QdrantClient
    from legalrag.plugin.store import ClientStore, CollectionSpec, PointRecord
    store = ClientStore(QdrantClient(path=sys.argv[1]))
    store.create_collection("laws", CollectionSpec(dense_size=8, sparse_name=None))
    with store.bulk_load("laws"):
        store.upsert("laws", [PointRecord(i, {}, [1.0, float(n)] + [0.0] * 6) for n, i in enumerate(sys.argv[2:])])
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_sigkilled_load_is_recovered_with_the_original(tmp_path: Path) -> None:
    path = str(tmp_path / "local")
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"killed-{i}")) for i in range(12)]
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_LOADER, path, *ids], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    client = RecordingClient(path=path)
    store = ClientStore(client)
    try:
        assert _metadata(client)[MARKER_KEY]["indexing_threshold"] == LOCAL_THRESHOLD
        with store.bulk_load(NAME):  # the next load resumes the pause with the recorded original
            store.upsert(NAME, _points(3))
        assert client.thresholds == [0, LOCAL_THRESHOLD]
        assert MARKER_KEY not in _metadata(client)
        assert store.count(NAME) == len(ids) + 3
    finally:
        store.close()


def test_edge_bulk_load_is_a_harmless_no_op(tmp_path: Path) -> None:
    with EdgeStore(tmp_path / "qdrant") as store:
        store.create_collection(NAME, SPEC)
        with store.bulk_load(NAME), store.bulk_load(NAME):
            store.upsert(NAME, _points(4))
        with pytest.raises(RuntimeError), store.bulk_load(NAME):
            raise RuntimeError("boom")
        info = store.get_collection(NAME)
        assert info is not None and info.metadata == {"model": "test-model"} and info.points == 4


def test_both_stores_have_bulk_load_and_refuse_a_missing_collection(any_store: Store) -> None:
    assert isinstance(any_store, Store)
    with pytest.raises(CollectionNotFoundError), any_store.bulk_load("missing"):
        pass


def test_everything_written_inside_is_searchable_after(any_store: Store) -> None:
    points = _points(300, seed=3)
    with any_store.bulk_load(NAME):
        for start in range(0, len(points), 64):
            any_store.upsert(NAME, points[start : start + 64])
    any_store.optimize(NAME)
    assert any_store.count(NAME) == len(points)
    for point in points[::7]:
        assert point.dense is not None
        hits = any_store.query(NAME, SearchRequest(limit=1, dense=point.dense))
        assert [h.id for h in hits] == [point.id]


def test_initial_ingest_defers_indexing_and_later_runs_do_not(
    client: RecordingClient, minilm_encoder: Any, tmp_path: Path
) -> None:
    from legalrag.ingest.loaders import iter_documents
    from legalrag.ingest.service import make_ingestor
    from legalrag.plugin.settings import Settings

    corpus = Path(__file__).parents[1] / "fixtures" / "ko"
    store = ClientStore(client)
    settings = Settings(model="m", collection="ingested", device="cpu")
    make_ingestor(settings, store, minilm_encoder, sparse=False).run(iter_documents([corpus]))
    assert client.thresholds == [0, LOCAL_THRESHOLD], "the initial load pauses indexing and restores it"
    assert MARKER_KEY not in dict(client.get_collection("ingested").config.metadata or {})
    assert store.count("ingested") > 0
    make_ingestor(settings, store, minilm_encoder, sparse=False).run(iter_documents([corpus]))
    assert client.thresholds == [0, LOCAL_THRESHOLD], "a run into a non-empty collection leaves indexing alone"
