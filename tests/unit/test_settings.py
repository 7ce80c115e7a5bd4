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
