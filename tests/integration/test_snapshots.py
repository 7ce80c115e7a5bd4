"""``legalrag collections snapshot create|list|restore`` on the embedded store, and the server calls.

Embedded: a snapshot is a tar of the flushed, closed shard; restoring brings back exactly the
points and metadata of that moment, also after the collection was dropped. Server: the requests
``ClientStore`` sends (checked against a loopback endpoint shaped like Qdrant's REST API) and what
local mode, which has no snapshots, answers.
"""

from __future__ import annotations

import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.errors import CollectionNotFoundError, InputError
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import (
    ClientStore,
    CollectionSpec,
    EdgeStore,
    PointRecord,
    SnapshotStore,
    open_store,
)
from tests.helpers.fake_qdrant import COLLECTION, FakeQdrant, fake_qdrant

pytestmark = [
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
]

runner = CliRunner()
SPEC = CollectionSpec(dense_size=4, metadata={"model": "m"})


def points(start: int, stop: int) -> list[PointRecord]:
    return [
        PointRecord(str(uuid.uuid5(uuid.NAMESPACE_URL, f"s{i}")), {"n": i}, [1.0, float(i), 0.5, 0.25])
        for i in range(start, stop)
    ]


def contents(root: Path, name: str = "laws") -> tuple[list[tuple[str, int]], dict[str, Any]]:
    with EdgeStore(root) as store:
        info = store.get_collection(name)
        assert info is not None
        return sorted((h.id, h.payload["n"]) for h in store.scroll(name)), dict(info.metadata)


def cli(*args: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, ["collections", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == code, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    return dict(json.loads(lines[0]))


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    path = tmp_path / "qdrant"
    with EdgeStore(path) as store:
        store.create_collection("laws", SPEC)
        store.upsert("laws", points(0, 20))
    return path


def test_edge_create_list_restore(root: Path) -> None:
    where = ["--qdrant-path", str(root)]
    before = contents(root)
    made = cli("snapshot", "create", "laws", *where)["snapshot"]
    assert made["size"] > 0 and made["name"].endswith(".tar.gz")
    assert (root / ".snapshots" / "laws" / made["name"]).is_file()
    with tarfile.open(root / ".snapshots" / "laws" / made["name"]) as tar:
        assert "shard/edge_config.json" in tar.getnames() and "collection.json" in tar.getnames()
        assert not any(n.endswith(".lock") for n in tar.getnames())
    assert cli("snapshot", "list", "laws", *where)["snapshots"] == [made]
    with EdgeStore(root) as store:  # change everything a snapshot should bring back
        store.upsert("laws", points(20, 30))
        store.delete_ids("laws", [p.id for p in points(0, 5)])
        store.set_metadata("laws", {"tuned": True})
    assert contents(root) != before
    restored = cli("snapshot", "restore", "laws", made["name"], "--yes", *where)
    assert restored == {"collection": "laws", "restored": made["name"], "points": 20}
    assert contents(root) == before
    assert cli(*where)["collections"][0]["name"] == "laws"  # .snapshots is not a collection


def test_edge_restore_a_dropped_collection_and_into_another_name(root: Path) -> None:
    before = contents(root)
    with EdgeStore(root) as store:
        assert isinstance(store, SnapshotStore)
        made = store.create_snapshot("laws")
        assert store.count("laws") == 20  # the store keeps working after a snapshot
        store.upsert("laws", points(20, 21))
        assert store.drop_collection("laws")
        assert [s.name for s in store.list_snapshots("laws")] == [made.name]  # snapshots outlive it
        store.restore_snapshot("laws", made.name)
        assert store.count("laws") == 20
        store.restore_snapshot("copy", str(root / ".snapshots" / "laws" / made.name))
        assert sorted(store.list_collections()) == ["copy", "laws"]
    assert contents(root, "copy")[0] == before[0] == contents(root)[0]


def test_edge_snapshots_keep_preallocated_files_small(tmp_path: Path) -> None:
    def disk_bytes(folder: Path) -> int:  # blocks in use, not apparent size
        return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())

    with EdgeStore(tmp_path) as store:
        store.create_collection("empty", SPEC)
        made = store.create_snapshot("empty")
        assert made.size < 5_000_000  # qdrant-edge preallocates ~130 MB of holes; gzip keeps them small
        store.restore_snapshot("empty", made.name)
        assert store.count("empty") == 0
    assert disk_bytes(tmp_path / "empty") < 20_000_000  # holes restored as holes


def test_edge_refusals(root: Path, tmp_path: Path) -> None:
    where = ["--qdrant-path", str(root)]
    assert "no snapshot" in cli("snapshot", "restore", "laws", "nope.tar", "--yes", *where, code=2)["error"]
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tar:
        tar.add(__file__, arcname="hello.py")
    message = cli("snapshot", "restore", "laws", str(junk), "--yes", *where, code=2)["error"]
    assert "not a legalrag snapshot" in message
    assert "does not exist" in cli("snapshot", "create", "missing", *where, code=2)["error"]
    assert contents(root)[0] == sorted((p.id, i) for i, p in enumerate(points(0, 20)))


def test_edge_snapshot_while_a_writer_holds_the_collection(root: Path) -> None:
    before = contents(root)
    with EdgeStore(root) as writer:
        writer.upsert("laws", points(100, 105))  # held, not published yet
        with EdgeStore(root) as other:
            made = other.create_snapshot("laws")  # no writer lock needed: the published version
        writer.drop_collection("laws")
    with EdgeStore(root) as store:
        store.restore_snapshot("laws", made.name)
    assert contents(root) == before


@pytest.fixture()
def server() -> Iterator[FakeQdrant]:
    with fake_qdrant() as fake:
        yield fake


def test_server_snapshot_requests(server: FakeQdrant) -> None:
    store = open_store(Settings(qdrant_url=server.url, qdrant_retry_seconds=1))
    assert isinstance(store, ClientStore) and isinstance(store, SnapshotStore)
    first = store.create_snapshot(COLLECTION)
    second = store.create_snapshot(COLLECTION)
    assert first.name == f"{COLLECTION}-1.snapshot" and first.size == 1024
    assert [s.name for s in store.list_snapshots(COLLECTION)] == [first.name, second.name]
    store.restore_snapshot(COLLECTION, first.name)
    store.restore_snapshot(COLLECTION, "https://backups.example/x.snapshot")
    assert server.recovered == [
        f"file:///qdrant/snapshots/{COLLECTION}/{first.name}",
        "https://backups.example/x.snapshot",
    ]
    with pytest.raises(InputError, match="no snapshot 'nope'"):
        store.restore_snapshot(COLLECTION, "nope")
    with pytest.raises(CollectionNotFoundError):
        store.create_snapshot("absent")
    store.close()


def test_local_mode_has_no_snapshots() -> None:
    store = ClientStore(QdrantClient(":memory:"))
    store.create_collection("laws", SPEC)
    with pytest.raises(InputError, match="not supported in the local Qdrant"):
        store.create_snapshot("laws")
    assert store.list_snapshots("laws") == []
