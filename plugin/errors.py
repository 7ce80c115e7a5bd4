"""One base exception and specific subclasses; every message says how to fix the problem."""

from __future__ import annotations

__all__ = [
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "ConfigError",
    "DatasetError",
    "IngestError",
    "InputError",
    "LegalRAGError",
    "MissingExtraError",
    "ModelLoadError",
    "StoreError",
    "StoreLockedError",
]


class LegalRAGError(Exception):
    """Base class of every error legalrag raises on purpose."""

    #: process exit code the CLI uses for this error (2: bad usage or input, 1: runtime failure)
    exit_code: int = 1


class InputError(LegalRAGError, ValueError):
    """Bad input from the caller: a malformed filter, an empty query, an absurd ``k``."""

    exit_code = 2


class ConfigError(InputError):
    """Settings that cannot work together (e.g. both a Qdrant URL and a path)."""


class DatasetError(InputError):
    """An evaluation dataset that is missing files or has malformed rows."""


class CollectionNotFoundError(InputError):
    """The named collection does not exist."""


class CollectionMismatchError(InputError):
    """A collection's vector size or distance does not match the embedding model."""


class MissingExtraError(LegalRAGError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    exit_code = 2

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the '{package}' package: pip install 'legalrag[{extra}]'")


class ModelLoadError(LegalRAGError):
    """The embedding/reranking model could not be loaded (not cached and the hub is unreachable)."""

    exit_code = 2


class StoreError(LegalRAGError):
    """The vector store failed at run time (server down after retries, I/O error)."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store open."""

    exit_code = 1


class NotPublishedError(StoreLockedError):
    """An embedded collection's first ingest is still running: there is no published version to read yet."""


class IngestError(LegalRAGError):
    """Ingestion could not continue."""
