from __future__ import annotations

import pytest
from pydantic import ValidationError

from legalrag.plugin.errors import ConfigError
from legalrag.plugin.settings import Settings, validate_collection_name


def test_defaults_use_the_embedded_store() -> None:
    s = Settings()
    assert s.model == "BAAI/bge-m3"
    assert s.device == "auto"
    assert not s.uses_server
    assert str(s.qdrant_path).endswith(".legalrag/qdrant")


def test_flat_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGALRAG_MODEL", "/models/bge-m3-ko")
    monkeypatch.setenv("LEGALRAG_DEVICE", "cuda:1")
    monkeypatch.setenv("LEGALRAG_QDRANT_URL", "http://localhost:6333")
    monkeypatch.setenv("LEGALRAG_QDRANT_API_KEY", "s3cret-key")
    monkeypatch.setenv("LEGALRAG_QDRANT_PATH", "/tmp/q")
    monkeypatch.setenv("LEGALRAG_COLLECTION", "laws")
    monkeypatch.setenv("LEGALRAG_CHUNKING__OVERLAP_TOKENS", "7")
    s = Settings()
    assert (s.model, s.device, s.qdrant_url, s.collection) == (
        "/models/bge-m3-ko",
        "cuda:1",
        "http://localhost:6333",
        "laws",
    )
    assert s.qdrant_api_key is not None and s.qdrant_api_key.get_secret_value() == "s3cret-key"
    assert str(s.qdrant_path) == "/tmp/q"
    assert s.chunking.overlap_tokens == 7
    assert "s3cret-key" not in repr(s) and "s3cret-key" not in str(s)


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGALRAG_COLLECTION", "from-env")
    assert Settings(collection="from-flag").collection == "from-flag"


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CUDA", ""])
def test_bad_device_is_refused(device: str) -> None:
    with pytest.raises(ValidationError, match="device"):
        Settings(device=device)


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(devcie="cpu")  # type: ignore[call-arg]


def test_api_key_without_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="qdrant_url"):
        Settings(qdrant_api_key="k")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "-x", "has space", "x" * 256])
def test_invalid_collection_names(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid collection name"):
        validate_collection_name(name)


@pytest.mark.parametrize("name", ["laws", "laws_2024", "ko-statutes.v2", "A1"])
def test_valid_collection_names(name: str) -> None:
    assert validate_collection_name(name) == name


def test_groups_are_nested_and_the_flat_names_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGALRAG_QDRANT_TIMEOUT", "7.5")
    monkeypatch.setenv("LEGALRAG_QDRANT__GRPC_PORT", "7000")
    s = Settings(qdrant_url="http://h:6333")
    assert (s.qdrant.url, s.qdrant.timeout, s.qdrant.grpc_port) == ("http://h:6333", 7.5, 7000)
    assert (s.qdrant_url, s.qdrant_timeout, s.qdrant_grpc_port) == ("http://h:6333", 7.5, 7000)
    assert Settings(qdrant={"path": "/tmp/x"}).qdrant_path == Settings(qdrant_path="/tmp/x").qdrant.path
    with pytest.raises(ValidationError):
        Settings(qdrant={"urll": "http://h"})


def test_query_time_options_moved_to_search_keep_their_old_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGALRAG_COLLECTION_OPTIONS__RESCORE", "true")
    s = Settings(collection_options={"oversampling": 2.0, "quantization": "scalar"})
    assert (s.search.rescore, s.search.oversampling) == (True, 2.0)
    assert s.collection_options.quantization == "scalar"
    assert "rescore" not in type(s.collection_options).model_fields


def test_one_search_configuration_type() -> None:
    from legalrag.plugin.search.searcher import SearchConfig
    from legalrag.plugin.settings import SearchSettings

    assert SearchConfig is SearchSettings
    stored = {"search": {"mode": "sparse", "weights": [1, 4], "rrf_k": 2, "unknown": 1}}
    config = SearchConfig.from_metadata(stored, rrf_k=10)
    assert (config.mode, config.weights, config.rrf_k) == ("sparse", (1.0, 4.0), 10)
    assert SearchConfig.from_metadata({"search": config.as_metadata()}) == config.with_changes(k=10)
    with pytest.raises(ValidationError):
        config.with_changes(mode="fuzzy")


def test_the_old_query_batch_size_name_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGALRAG_EMBEDDING__BATCH_SIZE", "8")
    assert Settings().embedding.query_batch_size == 8
