"""The one settings root. Environment variables use the ``LEGALRAG_`` prefix; CLI flags override them.

Flat, stable names for what users set most: ``LEGALRAG_MODEL``, ``LEGALRAG_DEVICE``,
``LEGALRAG_QDRANT_URL``, ``LEGALRAG_QDRANT_API_KEY``, ``LEGALRAG_QDRANT_PATH``,
``LEGALRAG_COLLECTION``. Nested groups use ``__`` (``LEGALRAG_CHUNKING__OVERLAP_TOKENS=64``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from legalrag.plugin.errors import ConfigError

__all__ = ["ChunkingSettings", "EmbeddingSettings", "SearchSettings", "Settings", "validate_collection_name"]

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def validate_collection_name(name: str) -> str:
    """Return ``name`` if Qdrant and a file system both accept it, else raise :class:`ConfigError`."""
    if not _COLLECTION.match(name) or ".." in name:
        raise ConfigError(
            f"invalid collection name {name!r}: use 1-255 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkingSettings(_Strict):
    """How documents are cut. ``max_tokens`` defaults to the model's own ``max_seq_length``."""

    max_tokens: int | None = Field(default=None, ge=16)
    overlap_tokens: int = Field(default=32, ge=0)
    contextual_header: bool = True


class EmbeddingSettings(_Strict):
    """Encoding knobs. ``batch_tokens`` is the padded-token budget of one batch on a GPU."""

    batch_size: int = Field(default=32, ge=1)
    batch_tokens: int = Field(default=65536, ge=512)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    backend: Literal["torch", "onnx", "openvino"] = "torch"
    cache_folder: Path | None = None
    trust_remote_code: bool = False


class SearchSettings(_Strict):
    """Default retrieval behaviour."""

    mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    k: int = Field(default=10, ge=1, le=10_000)
    fusion: Literal["rrf", "dbsf"] = "rrf"
    rrf_k: int = Field(default=60, ge=1)


class Settings(BaseSettings):
    """Root settings.

    Example:
        >>> s = Settings(model="/models/bge-m3-ko", collection="laws")
        >>> s.uses_server
        False
    """

    model_config = SettingsConfigDict(
        env_prefix="LEGALRAG_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    model: str = "BAAI/bge-m3"
    device: str = "auto"
    collection: str = "legalrag"
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_path: Path = Path(".legalrag/qdrant")
    qdrant_timeout: float = Field(default=30.0, gt=0)
    qdrant_prefer_grpc: bool = False
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    search: SearchSettings = SearchSettings()

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError(f"device must be auto, cpu, mps, cuda or cuda:N, not {value!r}")
        return value

    @field_validator("collection")
    @classmethod
    def _check_collection(cls, value: str) -> str:
        return validate_collection_name(value)

    @model_validator(mode="after")
    def _check_api_key(self) -> Settings:
        if self.qdrant_api_key is not None and not self.qdrant_url:
            raise ValueError("qdrant_api_key is set but qdrant_url is not: an API key needs a server URL")
        return self

    @property
    def uses_server(self) -> bool:
        return bool(self.qdrant_url)
