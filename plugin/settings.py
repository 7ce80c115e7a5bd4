"""The one settings root. Environment variables use the ``LEGALRAG_`` prefix; CLI flags override them.

Flat, stable names for what users set most: ``LEGALRAG_MODEL``, ``LEGALRAG_DEVICE``,
``LEGALRAG_QDRANT_URL``, ``LEGALRAG_QDRANT_API_KEY`` (or ``LEGALRAG_QDRANT_API_KEY_FILE``),
``LEGALRAG_QDRANT_PATH``, ``LEGALRAG_COLLECTION``. Nested groups use ``__``
(``LEGALRAG_CHUNKING__OVERLAP_TOKENS=64``, ``LEGALRAG_COLLECTION_OPTIONS__ON_DISK_VECTORS=true``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from legalrag.plugin.errors import ConfigError

__all__ = [
    "ChunkingSettings",
    "CollectionSettings",
    "EmbeddingSettings",
    "SearchSettings",
    "Settings",
    "validate_collection_name",
]

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_DEVICE_LIST = re.compile(r"^(cpu|cuda:\d+)(,(cpu|cuda:\d+))+$")
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
    """Encoding knobs.

    ``batch_tokens`` is the padded-token budget of one document batch (unset: 65536 on a GPU, 4096
    on a CPU). ``precision=auto`` is bf16 (else fp16) on CUDA, bf16 autocast on a CPU with native
    bf16 (AVX512-BF16/AMX), fp32 elsewhere. ``backend`` onnx/openvino runs the transformer on
    onnxruntime / OpenVINO on the CPU (exported once, see :mod:`legalrag.plugin.runtime`);
    ``quantize=int8`` (onnx only) quantizes its MatMul weights.
    """

    batch_size: int = Field(default=32, ge=1)
    batch_tokens: int | None = Field(default=None, ge=512)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    backend: Literal["torch", "onnx", "openvino"] = "torch"
    quantize: Literal["none", "int8"] = "none"
    cache_folder: Path | None = None
    trust_remote_code: bool = False


class SearchSettings(_Strict):
    """Default retrieval behaviour."""

    mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    k: int = Field(default=10, ge=1, le=10_000)
    fusion: Literal["rrf", "dbsf"] = "rrf"
    rrf_k: int = Field(default=60, ge=1)


class CollectionSettings(_Strict):
    """How legalrag creates a collection; what matters at scale. ``None`` leaves Qdrant's default.

    Changing these does not alter existing collections: they apply when a collection is created
    (the first ingest, or ``--recreate``). ``rescore`` / ``oversampling`` apply at query time to a
    quantized collection. ``shard_number``, ``replication_factor`` and ``write_consistency_factor``
    need a Qdrant server (the embedded store has one shard and ignores them).

    Example:
        >>> CollectionSettings(on_disk_vectors=True, quantization="scalar").quantization
        'scalar'
    """

    on_disk_vectors: bool = False
    on_disk_payload: bool | None = None  # None: same as on_disk_vectors
    quantization: Literal["none", "scalar", "binary"] = "none"
    #: keep the quantized vectors in RAM when the originals are on disk
    always_ram: bool | None = None
    rescore: bool | None = None
    oversampling: float | None = Field(default=None, ge=1.0)
    hnsw_m: int | None = Field(default=None, ge=0)
    hnsw_ef_construct: int | None = Field(default=None, ge=4)
    shard_number: int | None = Field(default=None, ge=1)
    replication_factor: int | None = Field(default=None, ge=1)
    write_consistency_factor: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check_consistency(self) -> CollectionSettings:
        replicas = self.replication_factor or 1
        if self.write_consistency_factor is not None and self.write_consistency_factor > replicas:
            raise ValueError(
                f"write_consistency_factor {self.write_consistency_factor} exceeds replication_factor "
                f"{replicas}: a write cannot be confirmed by more replicas than exist"
            )
        return self


class Settings(BaseSettings):
    """Root settings.

    Example:
        >>> s = Settings(model="/models/bge-m3-ko", collection="laws")
        >>> s.uses_server
        False
    """

    # hide_input_in_errors: a ValidationError's text would otherwise quote the input, API key included
    model_config = SettingsConfigDict(
        env_prefix="LEGALRAG_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )

    model: str = "BAAI/bge-m3"
    device: str = "auto"
    collection: str = "legalrag"
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_path: Path = Path(".legalrag/qdrant")
    #: a file holding the API key (Docker/Kubernetes secrets); exclusive with ``qdrant_api_key``
    qdrant_api_key_file: Path | None = None
    #: TLS on or off for a URL without a scheme (``host:6333``); ``None``: TLS when an API key is set
    qdrant_https: bool | None = None
    #: verify the server's TLS certificate: ``True``, ``False`` or a CA bundle file
    qdrant_verify: bool | Path = True
    qdrant_timeout: float = Field(default=30.0, gt=0)
    qdrant_prefer_grpc: bool = False
    qdrant_grpc_port: int = Field(default=6334, ge=1, le=65535)
    #: total seconds a request to the server is retried on transient failures (0: no retries)
    qdrant_retry_seconds: float = Field(default=30.0, ge=0)
    collection_options: CollectionSettings = CollectionSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    search: SearchSettings = SearchSettings()
    _file_key: SecretStr | None = PrivateAttr(default=None)

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.replace(" ", "")
        if not (_DEVICE.match(value) or _DEVICE_LIST.match(value)):
            raise ValueError(
                f"device must be auto, cpu, mps, cuda, cuda:N or a list of devices (cuda:0,cuda:1), not {value!r}"
            )
        return value

    @field_validator("collection")
    @classmethod
    def _check_collection(cls, value: str) -> str:
        return validate_collection_name(value)

    @field_validator("qdrant_verify")
    @classmethod
    def _check_ca_bundle(cls, value: bool | Path) -> bool | Path:
        if isinstance(value, Path) and not value.is_file():
            raise ValueError(
                f"qdrant_verify CA bundle {value} is not a file: pass the path of a PEM file, or true/false"
            )
        return value

    @model_validator(mode="after")
    def _check_server(self) -> Settings:
        if self.qdrant_api_key is not None and self.qdrant_api_key_file is not None:
            raise ValueError(
                "both qdrant_api_key and qdrant_api_key_file are set: keep one "
                "(LEGALRAG_QDRANT_API_KEY or LEGALRAG_QDRANT_API_KEY_FILE)"
            )
        if (self.qdrant_api_key is not None or self.qdrant_api_key_file is not None) and not self.qdrant_url:
            raise ValueError("an API key is set but qdrant_url is not: an API key needs a server URL")
        if self.qdrant_api_key_file is not None:
            self._file_key = SecretStr(_read_key_file(self.qdrant_api_key_file))
        url = self.qdrant_url or ""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if self.qdrant_https is not None and scheme and (scheme == "https") != self.qdrant_https:
            raise ValueError(
                f"qdrant_https={self.qdrant_https} contradicts the {scheme}:// URL: fix the URL's scheme "
                "(qdrant_https only applies to a URL without one)"
            )
        return self

    @property
    def uses_server(self) -> bool:
        return bool(self.qdrant_url)

    @property
    def resolved_api_key(self) -> SecretStr | None:
        """The server API key: ``qdrant_api_key``, or the contents of ``qdrant_api_key_file``."""
        return self.qdrant_api_key if self.qdrant_api_key is not None else self._file_key


def _read_key_file(path: Path) -> str:
    # the messages name the file, never its contents
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ValueError(
            f"cannot read qdrant_api_key_file {path} ({reason}): point LEGALRAG_QDRANT_API_KEY_FILE "
            "at a readable file holding the key"
        ) from None
    if not key or "\n" in key:
        raise ValueError(f"qdrant_api_key_file {path} must hold the API key alone on one line")
    return key
