"""The one settings root. Environment variables use the ``LEGALRAG_`` prefix; CLI flags override them.

Groups are nested models: ``qdrant`` (where the store is), ``search`` (how a query runs: the one
search configuration type, :class:`SearchSettings`, which ``legalrag.plugin.search.searcher.SearchConfig``
names too), ``collection_options`` (how new collections are made), ``chunking`` and ``embedding``.
Nested names use ``__`` (``LEGALRAG_SEARCH__MODE=sparse``, ``LEGALRAG_QDRANT__URL=...``).

Flat, stable names stay for what users set most: ``LEGALRAG_MODEL``, ``LEGALRAG_DEVICE``,
``LEGALRAG_COLLECTION``, and every ``qdrant`` field as ``LEGALRAG_QDRANT_<FIELD>``
(``LEGALRAG_QDRANT_URL``, ``LEGALRAG_QDRANT_API_KEY`` or ``LEGALRAG_QDRANT_API_KEY_FILE``,
``LEGALRAG_QDRANT_PATH``, ...); in Python, ``Settings(qdrant_url=...)`` and ``settings.qdrant_url``
work as well as ``Settings(qdrant={"url": ...})`` and ``settings.qdrant.url``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from legalrag.plugin.errors import ConfigError

__all__ = [
    "ChunkingSettings",
    "CollectionSettings",
    "EmbeddingSettings",
    "QdrantSettings",
    "SearchSettings",
    "Settings",
    "validate_collection_name",
]

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_DEVICE_LIST = re.compile(r"^(cpu|cuda:\d+)(,(cpu|cuda:\d+))+$")
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def validate_collection_name(name: str) -> str:
    """Return ``name`` if Qdrant and a file system both accept it, else raise :class:`ConfigError`."""
    if not isinstance(name, str) or not _COLLECTION.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"invalid collection name {name!r}: use 1-255 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkingSettings(_Strict):
    """How documents are cut. ``max_tokens`` defaults to the model's own ``max_seq_length``.

    ``worker``: while an ingest loads the model, a second process chunks the documents and computes
    their BM25 vectors ahead of the pipeline (:mod:`legalrag.ingest.prepare`; the same chunks either
    way); false does everything in one process."""

    max_tokens: int | None = Field(default=None, ge=16)
    overlap_tokens: int = Field(default=32, ge=0)
    contextual_header: bool = True
    worker: bool = True


class EmbeddingSettings(_Strict):
    """Encoding knobs.

    ``batch_tokens`` is the padded-token budget of one document batch (unset: 65536 on a GPU, 4096
    on a CPU). ``precision=auto`` is bf16 (else fp16) on CUDA, bf16 weights on a CPU with native
    bf16 (AVX512-BF16/AMX), fp32 elsewhere (fp16 on a CPU: fp32 weights under autocast). ``backend``
    onnx/openvino runs the transformer on onnxruntime / OpenVINO on the CPU (exported once, see
    :mod:`legalrag.plugin.models.runtime`); ``quantize=int8`` (onnx only) quantizes its MatMul weights.
    """

    #: queries per encode call (document batches are sized by ``batch_tokens`` instead);
    #: ``batch_size`` (``LEGALRAG_EMBEDDING__BATCH_SIZE``) is the older name
    query_batch_size: int = Field(default=32, ge=1, validation_alias=AliasChoices("query_batch_size", "batch_size"))
    #: CPU threads that encode a query (``LEGALRAG_EMBEDDING__QUERY_THREADS``). A query is too small to
    #: share among threads: on a busy machine spin-waiting threads cost many times the work itself
    #: (docs/benchmarks/latency.md). Documents still use every core.
    query_threads: int = Field(default=1, ge=1)
    batch_tokens: int | None = Field(default=None, ge=512)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    backend: Literal["torch", "onnx", "openvino"] = "torch"
    quantize: Literal["none", "int8"] = "none"
    cache_folder: Path | None = None
    trust_remote_code: bool = False


class SearchSettings(_Strict):
    """How a query runs: the one search configuration type (``SearchConfig`` is the same class).

    The settings' ``search`` is the default; a collection can store tuned values
    (``legalrag eval --tune``, read back by :meth:`from_metadata`); a searcher holds one.

    Attributes:
        mode: ``dense``, ``sparse`` or ``hybrid``.
        k: hits returned when a call does not say (``legalrag search -k``, ``LegalRetriever.from_collection``).
        fusion: how hybrid mode fuses its two lists: ``dbsf`` (distribution-based score fusion) or ``rrf``.
        rrf_k: RRF's ``k``.
        weights: RRF weights per list (dense, sparse); ``None`` is equal. Qdrant divides a list's
            ranks by its weight (``1 / (rank / w + k - 1)``): a larger weight flattens that list's
            contribution, so it decides less of the order.
        prefetch_limit: depth of each hybrid prefetch (``None``: ``max(4*k, 50)``).
        exact: brute-force search instead of the HNSW index.
        hnsw_ef: HNSW search breadth (``None``: Qdrant's default).
        rescore: quantized collections: rescore with the original vectors.
        oversampling: quantized collections: fetch this many times the candidates.
        threshold_on: what ``score_threshold`` compares against: ``relevance`` (every hit's 0–1
            relevance, the same scale in every mode) or ``score`` (the mode's raw score).

    Example:
        >>> SearchSettings(mode="sparse").with_changes(k=5).k
        5
    """

    mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    k: int = Field(default=10, ge=1, le=10_000)
    #: DBSF by measurement (docs/benchmarks/default-search.md): never far below the better single mode,
    #: where equal-weight RRF fell to half of it with a weak dense model
    fusion: Literal["rrf", "dbsf"] = "dbsf"
    rrf_k: int = Field(default=60, ge=1)
    weights: tuple[float, float] | None = None
    prefetch_limit: int | None = Field(default=None, ge=1)
    exact: bool = False
    hnsw_ef: int | None = Field(default=None, ge=1)
    rescore: bool | None = None
    oversampling: float | None = Field(default=None, ge=1.0)
    threshold_on: Literal["relevance", "score"] = "relevance"

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], **overrides: Any) -> SearchSettings:
        """Build from the ``search`` entry a collection stores, then apply the non-``None`` ``overrides``."""
        stored = {k: v for k, v in dict(metadata.get("search") or {}).items() if k in cls.model_fields}
        stored.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(stored)

    def as_metadata(self) -> dict[str, Any]:
        """What a collection stores (the fusion fields; depth and exactness stay the caller's)."""
        return {
            "mode": self.mode,
            "fusion": self.fusion,
            "rrf_k": self.rrf_k,
            "weights": list(self.weights) if self.weights else None,
            "prefetch_limit": self.prefetch_limit,
        }

    def with_changes(self, **changes: Any) -> SearchSettings:
        """A validated copy with some fields changed."""
        return self.model_validate({**self.model_dump(), **changes})


class CollectionSettings(_Strict):
    """How legalrag creates a collection; what matters at scale. ``None`` leaves Qdrant's default.

    Changing these does not alter existing collections: they apply when a collection is created
    (the first ingest, or ``--recreate``). ``shard_number``, ``replication_factor`` and
    ``write_consistency_factor`` need a Qdrant server (the embedded store has one shard and ignores
    them). Query-time knobs of a quantized collection (``rescore``, ``oversampling``) are search
    settings (``LEGALRAG_SEARCH__RESCORE``); the older ``collection_options`` names still work.

    Example:
        >>> CollectionSettings(on_disk_vectors=True, quantization="scalar").quantization
        'scalar'
    """

    on_disk_vectors: bool = False
    on_disk_payload: bool | None = None  # None: same as on_disk_vectors
    quantization: Literal["none", "scalar", "binary"] = "none"
    #: keep the quantized vectors in RAM when the originals are on disk
    always_ram: bool | None = None
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


class QdrantSettings(_Strict):
    """Where the store is: a server (``url``) or the embedded store's folder (``path``).

    Every field is also a flat environment name, ``LEGALRAG_QDRANT_<FIELD>``
    (``LEGALRAG_QDRANT_URL``, ``LEGALRAG_QDRANT_API_KEY_FILE``, ...).
    """

    url: str | None = None
    api_key: SecretStr | None = None
    #: a file holding the API key (Docker/Kubernetes secrets); exclusive with ``api_key``
    api_key_file: Path | None = None
    path: Path = Path(".legalrag/qdrant")
    #: TLS on or off for a URL without a scheme (``host:6333``); ``None``: TLS when an API key is set
    https: bool | None = None
    #: verify the server's TLS certificate: ``True``, ``False`` or a CA bundle file
    verify: bool | Path = True
    timeout: float = Field(default=30.0, gt=0)
    prefer_grpc: bool = False
    grpc_port: int = Field(default=6334, ge=1, le=65535)
    #: total seconds a request to the server is retried on transient failures (0: no retries)
    retry_seconds: float = Field(default=30.0, ge=0)
    _file_key: SecretStr | None = PrivateAttr(default=None)

    @field_validator("api_key")
    @classmethod
    def _clean_api_key(cls, value: SecretStr | None) -> SecretStr | None:
        # a secret mounted from a file or a Kubernetes secret often ends in a line break; the messages
        # never show the key (an HTTP library echoes a header value it refuses, whole)
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if not key:
            raise ValueError("qdrant_api_key is empty: set the key, or unset LEGALRAG_QDRANT_API_KEY")
        if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in key):
            raise ValueError(
                "qdrant_api_key holds a space or control character inside it (not shown): "
                "copy the key alone, on one line"
            )
        return SecretStr(key)

    @field_validator("verify")
    @classmethod
    def _check_ca_bundle(cls, value: bool | Path) -> bool | Path:
        if isinstance(value, Path) and not value.is_file():
            raise ValueError(
                f"qdrant_verify CA bundle {value} is not a file: pass the path of a PEM file, or true/false"
            )
        return value

    @model_validator(mode="after")
    def _check_server(self) -> QdrantSettings:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError(
                "both qdrant_api_key and qdrant_api_key_file are set: keep one "
                "(LEGALRAG_QDRANT_API_KEY or LEGALRAG_QDRANT_API_KEY_FILE)"
            )
        if (self.api_key is not None or self.api_key_file is not None) and not self.url:
            raise ValueError("an API key is set but qdrant_url is not: an API key needs a server URL")
        if self.api_key_file is not None:
            self._file_key = SecretStr(_read_key_file(self.api_key_file))
        url = self.url or ""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if self.https is not None and scheme and (scheme == "https") != self.https:
            raise ValueError(
                f"qdrant_https={self.https} contradicts the {scheme}:// URL: fix the URL's scheme "
                "(qdrant_https only applies to a URL without one)"
            )
        return self

    @property
    def resolved_api_key(self) -> SecretStr | None:
        """The server API key: ``api_key``, or the contents of ``api_key_file``."""
        return self.api_key if self.api_key is not None else self._file_key


#: the ``qdrant`` fields, each also a flat name (``LEGALRAG_QDRANT_URL``, ``Settings(qdrant_url=...)``)
_QDRANT_FIELDS = tuple(QdrantSettings.model_fields)
#: fields that moved between groups: (old group, old name) -> (new group, new name)
_MOVED = {("collection_options", "rescore"): ("search", "rescore"),
          ("collection_options", "oversampling"): ("search", "oversampling")}  # fmt: skip


class _FlatQdrantEnvironment(PydanticBaseSettingsSource):
    """``LEGALRAG_QDRANT_URL`` and the other flat names of the ``qdrant`` group."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole group at once

    def __call__(self) -> dict[str, Any]:
        found = {
            name: os.environ[f"LEGALRAG_QDRANT_{name.upper()}"]
            for name in _QDRANT_FIELDS
            if f"LEGALRAG_QDRANT_{name.upper()}" in os.environ
        }
        return {"qdrant": found} if found else {}


class Settings(BaseSettings):
    """Root settings.

    Example:
        >>> s = Settings(model="/models/bge-m3-ko", collection="laws")
        >>> s.uses_server, s.qdrant.url is s.qdrant_url
        (False, True)
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
    qdrant: QdrantSettings = QdrantSettings()
    collection_options: CollectionSettings = CollectionSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    search: SearchSettings = SearchSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # arguments first, then LEGALRAG_QDRANT__URL-style names, then the flat LEGALRAG_QDRANT_URL ones
        flat = _FlatQdrantEnvironment(settings_cls)
        return init_settings, env_settings, flat, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_names(cls, data: Any) -> Any:
        """``qdrant_url=...`` into ``qdrant``, and fields that moved groups into their new group."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        flat = {name: data.pop(f"qdrant_{name}") for name in _QDRANT_FIELDS if f"qdrant_{name}" in data}
        if flat:
            data["qdrant"] = {**_as_dict(data.get("qdrant")), **flat}
        for (old_group, old), (new_group, new) in _MOVED.items():
            group = _as_dict(data.get(old_group))
            if old in group:
                value = group.pop(old)
                data[old_group] = group
                data[new_group] = {new: value, **_as_dict(data.get(new_group))}
        return data

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

    @property
    def uses_server(self) -> bool:
        return bool(self.qdrant.url)

    @property
    def resolved_api_key(self) -> SecretStr | None:
        """The server API key: ``qdrant_api_key``, or the contents of ``qdrant_api_key_file``."""
        return self.qdrant.resolved_api_key

    # the flat names of the qdrant group, read-only (``settings.qdrant_url`` is ``settings.qdrant.url``)
    @property
    def qdrant_url(self) -> str | None:
        return self.qdrant.url

    @property
    def qdrant_api_key(self) -> SecretStr | None:
        return self.qdrant.api_key

    @property
    def qdrant_api_key_file(self) -> Path | None:
        return self.qdrant.api_key_file

    @property
    def qdrant_path(self) -> Path:
        return self.qdrant.path

    @property
    def qdrant_https(self) -> bool | None:
        return self.qdrant.https

    @property
    def qdrant_verify(self) -> bool | Path:
        return self.qdrant.verify

    @property
    def qdrant_timeout(self) -> float:
        return self.qdrant.timeout

    @property
    def qdrant_prefer_grpc(self) -> bool:
        return self.qdrant.prefer_grpc

    @property
    def qdrant_grpc_port(self) -> int:
        return self.qdrant.grpc_port

    @property
    def qdrant_retry_seconds(self) -> float:
        return self.qdrant.retry_seconds


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value) if isinstance(value, Mapping) else {}


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
