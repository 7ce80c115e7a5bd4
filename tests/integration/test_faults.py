"""Real faults on loopback: a Qdrant-shaped HTTP endpoint and a TCP proxy that break on command.

The client is the real ``QdrantClient`` over real sockets (no mocks): 5xx and 429 answers, reset
connections, a write whose answer is lost, a hanging server, nothing listening. Budgets are small
(1-3 s) so the whole file stays well under a minute. The last test kills a real ``legalrag ingest``
(embedded store) mid-run and checks that a re-run ends where a clean run does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.errors import InputError, StoreError
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import ClientStore, EdgeStore, PointRecord, RetryPolicy, open_store
from tests.conftest import MINILM
from tests.helpers.fake_qdrant import COLLECTION, FakeQdrant, Proxy, closed_port, fake_qdrant, proxy

pytestmark = [
    # qdrant-client probes the server's version in a thread and warns when it cannot
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
    pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning"),
]

POINTS = [
    PointRecord(str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{i}")), {"n": i}, [1.0, 0.5, 0.25, float(i)]) for i in range(5)
]
IDS = sorted(p.id for p in POINTS)


@pytest.fixture()
def server() -> Iterator[FakeQdrant]:
    with fake_qdrant() as fake:
        yield fake


@pytest.fixture()
def tcp(server: FakeQdrant) -> Iterator[Proxy]:
    with proxy(server.port) as started:
        yield started


def client_store(url: str, budget: float = 3.0, timeout: float = 1.0) -> ClientStore:
    store = open_store(Settings(qdrant_url=url, qdrant_retry_seconds=budget, qdrant_timeout=timeout))
    assert isinstance(store, ClientStore)
    return store


def test_503_twice_then_ok_writes_once(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url)
    server.fail(f"PUT /collections/{COLLECTION}/points", times=2, status=503)
    store.upsert(COLLECTION, POINTS)
    assert server.count(f"PUT /collections/{COLLECTION}/points") == 3  # two 503s, then the write
    assert len(server.writes) == 1 and sorted(server.writes[0]) == IDS
    assert store.count(COLLECTION) == len(POINTS)
    store.close()


def test_reset_connections_are_retried(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url)
    tcp.reset(2)
    assert store.count(COLLECTION) == 0
    assert tcp.resets == 2
    store.close()


def test_lost_answer_to_a_write_is_retried_without_duplicates(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url)
    store.count(COLLECTION)  # learn nothing yet; just a request through the proxy
    tcp.drop_write_responses(1)
    store.upsert(COLLECTION, POINTS)
    assert tcp.dropped_writes == 1
    # the server applied the write twice, with the same deterministic ids: no duplicate points
    assert len(server.writes) == 2 and sorted(server.writes[0]) == sorted(server.writes[1]) == IDS
    assert store.count(COLLECTION) == len(POINTS)
    store.close()


def test_429_retry_after_is_honoured(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url, budget=5.0)
    server.fail(f"PUT /collections/{COLLECTION}/points", times=1, status=429, Retry_After="1")
    start = time.monotonic()
    store.upsert(COLLECTION, POINTS)
    assert time.monotonic() - start >= 1.0  # waited as long as the server asked
    assert len(server.writes) == 1
    store.close()


def test_429_asking_past_the_budget_fails_at_once(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url, budget=2.0)
    server.fail(f"PUT /collections/{COLLECTION}/points", times=5, status=429, Retry_After="60")
    start = time.monotonic()
    with pytest.raises(StoreError, match="after 1 attempt"):
        store.upsert(COLLECTION, POINTS)
    assert time.monotonic() - start < 1.5
    assert server.writes == []
    store.close()


def test_400_is_not_retried(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url)
    server.fail(f"PUT /collections/{COLLECTION}/points", times=5, status=400)
    with pytest.raises(InputError, match="Qdrant refused to upsert"):
        store.upsert(COLLECTION, POINTS)
    assert server.count(f"PUT /collections/{COLLECTION}/points") == 1
    store.close()


def test_connection_refused_fails_within_the_budget() -> None:
    port = closed_port()
    store = client_store(f"http://127.0.0.1:{port}", budget=2.0)
    start = time.monotonic()
    with pytest.raises(StoreError) as err:
        store.list_collections()
    elapsed = time.monotonic() - start
    assert 1.5 <= elapsed < 3.5  # used the budget, and no more than one attempt beyond it
    message = str(err.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message and "Connection refused" in message
    assert "docker compose up -d" in message and "LEGALRAG_QDRANT_RETRY_SECONDS" in message
    store.close()


def test_grpc_unavailable_is_retried_then_reported() -> None:
    settings = Settings(
        qdrant_url=f"http://127.0.0.1:{closed_port()}",
        qdrant_prefer_grpc=True,
        qdrant_grpc_port=closed_port(),
        qdrant_retry_seconds=1.0,
        qdrant_timeout=1.0,
    )
    store = open_store(settings)
    start = time.monotonic()
    with pytest.raises(StoreError, match="gRPC UNAVAILABLE") as err:
        store.count(COLLECTION)
    assert time.monotonic() - start < 1.0 + 1.0 + 1.5
    assert f"gRPC port {settings.qdrant_grpc_port}" in str(err.value)
    assert int(str(err.value).split(" after ")[1].split(" attempt")[0]) > 1  # it did retry
    store.close()


def test_hanging_server_times_out_within_bounds(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url, budget=2.0, timeout=1.0)
    server.hang("*", seconds=30)
    start = time.monotonic()
    with pytest.raises(StoreError, match="Timeout"):
        store.count(COLLECTION)
    # budget + one request timeout + slack; never the 30 s the server would hang
    assert time.monotonic() - start < 2.0 + 1.0 + 1.5
    store.close()


def test_slow_proxy_times_out_too(server: FakeQdrant, tcp: Proxy) -> None:
    store = client_store(tcp.url, budget=1.0, timeout=1.0)
    tcp.delay = 5.0
    start = time.monotonic()
    with pytest.raises(StoreError, match="Timeout"):
        store.count(COLLECTION)
    assert time.monotonic() - start < 1.0 + 1.0 + 1.5
    store.close()


def test_cli_exits_1_with_one_line_when_the_server_is_down() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(
        app, ["collections", "--qdrant-url", url, "--json"], env={"LEGALRAG_QDRANT_RETRY_SECONDS": "1"}
    )
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    error = json.loads(lines[0])
    assert error["type"] == "StoreError" and error["exit_code"] == 1
    assert url in error["error"] and "docker compose up -d" in error["error"]
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [f"error: {error['error']}"]


def test_policy_budget_zero_tries_once(server: FakeQdrant) -> None:
    store = ClientStore(client_store(server.url).client, retry=RetryPolicy(budget=0))
    server.fail(f"POST /collections/{COLLECTION}/points/count", times=1, status=503)
    with pytest.raises(StoreError, match="after 1 attempt"):
        store.count(COLLECTION)
    assert store.count(COLLECTION) == 0
    store.close()


# ------------------------------------------------------------------ killed mid-ingest (embedded)

#: ``legalrag ingest`` as a child process that reports each finished upsert on stderr, so the test
#: can SIGKILL it once a few batches are durable and the rest of the corpus is still to come
_REPORTING_INGEST = """
import sys
from legalrag.plugin.store.edge.store import EdgeStore
upsert = EdgeStore.upsert
def reporting(self, name, points):
    upsert(self, name, points)
    print("upserted", len(points), file=sys.stderr, flush=True)
EdgeStore.upsert = reporting
from legalrag.cli import app
app(sys.argv[1:])
"""

ARTICLE = (
    "Article {n}. The {party} shall keep records of every {thing} for {years} years and shall disclose "
    "them to the supervisory authority on request, unless the law of the member state provides otherwise."
)


def _corpus(folder: Path, files: int = 4, articles: int = 8) -> Path:
    parties = ("controller", "processor", "lender", "card issuer", "trustee")
    things = ("transfer", "loan", "consent", "complaint", "payment")
    folder.mkdir()
    for f in range(files):
        lines = [f"# Act {f} on financial records", ""]
        for n in range(1, articles + 1):
            text = ARTICLE.format(n=n, party=parties[(f + n) % 5], thing=things[(f * n) % 5], years=f + n)
            lines += [f"### Article {n}", text, ""]
        (folder / f"act_{f:02d}.md").write_text("\n".join(lines), encoding="utf-8")
    return folder


def _ingest_args(corpus: Path, store: Path) -> list[str]:
    return [
        "ingest",
        str(corpus),
        "--collection",
        "laws",
        "--model",
        MINILM,
        "--qdrant-path",
        str(store),
        "--device",
        "cpu",
        "--batch-size",
        "4",
        "--json",
    ]


def _contents(store: Path) -> set[tuple[str, str]]:
    with EdgeStore(store) as edge:
        return {(hit.id, hit.payload["content_hash"]) for hit in edge.scroll("laws")}


def test_killed_ingest_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    killed = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", _REPORTING_INGEST, *_ingest_args(corpus, killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        batches = 0
        for line in child.stderr:
            batches += line.startswith("upserted ")
            if batches == 3:  # three batches are durable, the pipeline is still running
                os.kill(child.pid, signal.SIGKILL)
                break
        assert child.wait(timeout=120) == -signal.SIGKILL, "ingest finished before it could be killed"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    partial = _contents(killed)
    runner = CliRunner()
    rerun = runner.invoke(app, _ingest_args(corpus, killed), catch_exceptions=False)
    assert rerun.exit_code == 0, rerun.stdout
    clean = runner.invoke(app, _ingest_args(corpus, tmp_path / "clean"), catch_exceptions=False)
    assert clean.exit_code == 0, clean.stdout
    expected = _contents(tmp_path / "clean")
    assert 6 <= len(partial) < len(expected), "the kill should land mid-run"
    assert _contents(killed) == expected  # same ids, same content: no duplicates, no stale chunks
