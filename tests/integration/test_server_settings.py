"""Server settings reach the client, and collection options reach both stores' collections."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError
from qdrant_client import QdrantClient, models

from legalrag.plugin.collection import ensure_collection
from legalrag.plugin.settings import CollectionSettings, Settings
from legalrag.plugin.store import (
    ClientStore,
    CollectionSpec,
    EdgeStore,
    PointRecord,
    SearchRequest,
    open_store,
)
from legalrag.plugin.store.client.args import create_arguments, search_params
from legalrag.plugin.store.client.store import ClientStore as _ClientStore

pytestmark = [
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
    pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]


def test_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n", encoding="utf-8")
    for name, value in {
        "LEGALRAG_COLLECTION": "laws",
        "LEGALRAG_QDRANT_URL": "https://qdrant.example:6333",
        "LEGALRAG_QDRANT_API_KEY_FILE": str(key_file),
        "LEGALRAG_QDRANT_VERIFY": "false",
        "LEGALRAG_QDRANT_PREFER_GRPC": "true",
        "LEGALRAG_QDRANT_GRPC_PORT": "7334",
        "LEGALRAG_QDRANT_RETRY_SECONDS": "5",
        "LEGALRAG_COLLECTION_OPTIONS__QUANTIZATION": "binary",
        "LEGALRAG_COLLECTION_OPTIONS__ON_DISK_VECTORS": "true",
        "LEGALRAG_COLLECTION_OPTIONS__REPLICATION_FACTOR": "2",
    }.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert s.collection == "laws"  # the collection name and the options group do not clash
    assert s.collection_options == CollectionSettings(quantization="binary", on_disk_vectors=True, replication_factor=2)
    assert s.qdrant_verify is False and s.qdrant_prefer_grpc and s.qdrant_grpc_port == 7334
    assert s.qdrant_retry_seconds == 5
    assert s.resolved_api_key is not None and s.resolved_api_key.get_secret_value() == "from-file"


def test_invalid_server_settings() -> None:
    with pytest.raises(ValidationError, match="write_consistency_factor 3 exceeds replication_factor 2"):
        CollectionSettings(replication_factor=2, write_consistency_factor=3)
    with pytest.raises(ValidationError, match="CA bundle"):
        Settings(qdrant_url="https://x", qdrant_verify=Path("/nonexistent/ca.pem"))
    with pytest.raises(ValidationError, match="quantization"):
        CollectionSettings(quantization="pq")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="contradicts the http:// URL"):
        Settings(qdrant_url="http://x:6333", qdrant_https=True)
    with pytest.raises(ValidationError, match="needs a server URL"):
        Settings(qdrant_api_key_file=Path(__file__))


def test_client_gets_tls_grpc_and_budget(tmp_path: Path) -> None:
    store = open_store(
        Settings(
            qdrant_url="127.0.0.1:1",  # no scheme: qdrant_https decides
            qdrant_https=True,
            qdrant_verify=False,
            qdrant_prefer_grpc=True,
            qdrant_grpc_port=7334,
            qdrant_timeout=2.5,
            qdrant_retry_seconds=4,
        )
    )
    assert isinstance(store, _ClientStore)
    remote = store.client._client
    assert remote._https and remote._grpc_port == 7334 and remote._prefer_grpc
    assert remote._rest_args["verify"] is False and remote._timeout == 3  # qdrant-client rounds up
    assert store.retry.budget == 4
    assert repr(store) == "ClientStore('https://127.0.0.1:1 (gRPC port 7334)')"
    store.close()


def test_ca_bundle_reaches_rest_and_grpc() -> None:
    ca = Path(ssl.get_default_verify_paths().cafile or "")
    if not ca.is_file():
        pytest.skip("no system CA bundle file to use as a stand-in")
    store = open_store(Settings(qdrant_url="https://127.0.0.1:1", qdrant_verify=ca, qdrant_prefer_grpc=True))
    assert isinstance(store, _ClientStore)
    remote = store.client._client
    assert isinstance(remote._rest_args["verify"], ssl.SSLContext)
    assert remote._grpc_options["root_certificates"] == ca.read_bytes()
    store.close()


def test_collection_options_become_server_create_arguments() -> None:
    spec = CollectionSpec(
        dense_size=8,
        on_disk=True,
        on_disk_payload=False,
        quantization="scalar",
        always_ram=True,
        hnsw_m=32,
        hnsw_ef_construct=200,
        shard_number=3,
        replication_factor=2,
        write_consistency_factor=2,
    )
    args = create_arguments(spec)
    assert args["vectors_config"]["dense"].on_disk is True and args["on_disk_payload"] is None
    assert args["quantization_config"] == models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True)
    )
    assert args["hnsw_config"] == models.HnswConfigDiff(m=32, ef_construct=200)
    assert (args["shard_number"], args["replication_factor"], args["write_consistency_factor"]) == (3, 2, 2)
    binary = create_arguments(CollectionSpec(dense_size=8, quantization="binary"))["quantization_config"]
    assert isinstance(binary, models.BinaryQuantization)
    assert create_arguments(CollectionSpec(dense_size=8))["quantization_config"] is None
    params = search_params(SearchRequest(limit=3, dense=[0.0] * 8, rescore=True, oversampling=2.0))
    assert params.quantization == models.QuantizationSearchParams(rescore=True, oversampling=2.0)


def test_collection_options_reach_the_embedded_shard(tmp_path: Path) -> None:
    options = CollectionSettings(
        on_disk_vectors=True,
        quantization="scalar",
        always_ram=True,
        hnsw_m=8,
        hnsw_ef_construct=32,
        shard_number=2,
    )
    with EdgeStore(tmp_path) as store:
        ensure_collection(store, "laws", dimension=4, distance="Cosine", model="m", sparse=False, options=options)
        store.upsert(
            "laws",
            [
                PointRecord(f"00000000-0000-0000-0000-00000000000{i}", {"n": i}, [1.0, float(i), 0.5, 0.25])
                for i in range(5)
            ],
        )
        hits = store.query("laws", SearchRequest(limit=2, dense=[1.0, 4.0, 0.5, 0.25], rescore=True, oversampling=2.0))
        assert hits[0].payload == {"n": 4}
    config = json.loads((tmp_path / "laws" / "shard" / "edge_config.json").read_text())
    assert config["quantization_config"] == {"scalar": {"type": "int8", "always_ram": True}}
    assert config["vectors"]["dense"]["memory"] == "cold" and config["payload_memory"] == "cold"
    assert (config["hnsw_config"]["m"], config["hnsw_config"]["ef_construct"]) == (8, 32)


def test_collection_options_through_a_client_store() -> None:
    store = ClientStore(QdrantClient(":memory:"))
    options = CollectionSettings(quantization="binary", shard_number=2)
    ensure_collection(store, "laws", dimension=4, distance="Cosine", model="m", sparse=True, options=options)
    store.upsert("laws", [PointRecord("00000000-0000-0000-0000-000000000001", {"n": 1}, [1.0, 0.0, 0.0, 0.0])])
    hits = store.query("laws", SearchRequest(limit=1, dense=[1.0, 0.0, 0.0, 0.0], rescore=True, oversampling=3.0))
    assert [h.payload for h in hits] == [{"n": 1}]


_CLUSTER = CollectionSettings(
    shard_number=6, replication_factor=2, write_consistency_factor=2, quantization="scalar", on_disk_vectors=True
)


def test_a_collection_shows_how_it_is_stored_on_a_client_store() -> None:
    store = ClientStore(QdrantClient(":memory:"))
    ensure_collection(store, "laws", dimension=4, distance="Cosine", model="m", sparse=True, options=_CLUSTER)
    info = store.get_collection("laws")
    assert info is not None
    # local mode reports no sharding: what legalrag asked for, recorded at creation, stands in
    assert dict(info.storage) == {
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 2,
        "quantization": "scalar",
        "on_disk_vectors": True,
        "on_disk_payload": True,
    }
    ensure_collection(store, "plain", dimension=4, distance="Cosine", model="m", sparse=False)
    plain = store.get_collection("plain")
    assert plain is not None and plain.storage["shard_number"] == 1 and plain.storage["quantization"] == "none"


def test_what_a_server_reports_wins_over_what_was_asked() -> None:
    from types import SimpleNamespace

    from legalrag.plugin.store.client.plan import storage_of

    asked = {"shard_number": 6, "replication_factor": 2, "quantization": "scalar", "on_disk_vectors": False}
    config = SimpleNamespace(
        params=SimpleNamespace(
            shard_number=3,  # e.g. a cluster that capped it
            replication_factor=2,
            write_consistency_factor=1,
            on_disk_payload=True,
            vectors={"dense": models.VectorParams(size=4, distance=models.Distance.COSINE, on_disk=True)},
        ),
        quantization_config=models.BinaryQuantization(binary=models.BinaryQuantizationConfig()),
        metadata={"storage": asked},
    )
    assert storage_of(config) == {
        "shard_number": 3,
        "replication_factor": 2,
        "write_consistency_factor": 1,
        "on_disk_payload": True,
        "on_disk_vectors": True,
        "quantization": "binary",
    }


def test_the_embedded_store_shows_one_shard_whatever_was_asked(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from legalrag.cli import app

    with EdgeStore(tmp_path) as store:
        ensure_collection(store, "laws", dimension=4, distance="Cosine", model="m", sparse=False, options=_CLUSTER)
    result = CliRunner().invoke(app, ["collections", "inspect", "laws", "--qdrant-path", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    storage = json.loads(result.stdout)["storage"]
    assert (storage["shard_number"], storage["replication_factor"], storage["write_consistency_factor"]) == (1, 1, 1)
    assert (storage["quantization"], storage["on_disk_vectors"]) == ("scalar", True)
