"""The on-disk side of the edge store: a collection's lock file and its ``collection.json``.

``root/<collection>/`` holds ``shard/`` (the qdrant-edge shard), ``collection.json`` (vector
layout and legalrag metadata, replaced atomically) and ``.lock`` (pid and command line of the
process holding the collection open, under an exclusive ``flock``). The kernel drops a ``flock``
when its process dies, so a killed process never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from legalrag.plugin.errors import InputError, StoreError, StoreLockedError
from legalrag.plugin.store.base import CollectionSpec
from legalrag.plugin.store.common import check_spec

__all__ = ["SHARD_DIR", "DirLock", "is_collection", "read_document", "spec_document", "write_document"]

SHARD_DIR = "shard"
DOCUMENT = "collection.json"
LOCK = ".lock"
EDGE_CONFIG = "edge_config.json"


class DirLock:
    """An exclusive, non-blocking ``flock`` on ``<collection>/.lock`` holding pid and command line."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, folder: Path, name: str) -> DirLock:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 65536, 0).decode("utf-8", "replace")
            os.close(fd)
            raise StoreLockedError(_locked_message(name, folder, holder)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{shlex.join(sys.orig_argv)}\n".encode(), 0)
        return cls(fd)

    # bound here: when a dropped store is collected at interpreter exit, module globals may already be None
    _unlock = staticmethod(fcntl.flock)
    _close = staticmethod(os.close)
    _LOCK_UN = fcntl.LOCK_UN

    def release(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            self._unlock(fd, self._LOCK_UN)
            self._close(fd)

    def __del__(self) -> None:
        # a store dropped without close() must not keep its collection locked for the process's life
        self.release()


def _locked_message(name: str, folder: Path, holder: str) -> str:
    pid, _, command = holder.strip().partition("\n")
    if pid == str(os.getpid()):
        return (
            f"collection {name!r} ({folder}) is already open in this process (pid {pid}) through "
            "another EdgeStore: reuse that store, or close() it before opening a new one"
        )
    who = f"pid {pid} ({command or 'command line unknown'})" if pid else "another process"
    return (
        f"collection {name!r} ({folder}) is open in {who}; an embedded collection can be open in "
        "one process at a time: stop that process or wait for it to finish, or run a Qdrant server "
        "and set LEGALRAG_QDRANT_URL so several processes can share the collection"
    )


def is_collection(folder: Path, *, working: bool = False) -> bool:
    """Whether ``folder`` holds a collection: a created working shard, or (unless ``working``) a published
    version. Folders without either are ignored."""
    if (folder / SHARD_DIR / EDGE_CONFIG).is_file():
        return True
    return not working and (folder / "published" / "CURRENT").is_file()


def read_document(folder: Path) -> dict[str, Any]:
    """The collection's document: vector layout and metadata."""
    path = folder / DOCUMENT
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreError(
                f"{path} is damaged ({type(exc).__name__}: {exc}): restore a snapshot of "
                f"{folder.name!r}, or ingest it again with recreate=True"
            ) from None
        if not isinstance(document, dict):
            raise StoreError(
                f"{path} is damaged (not a JSON object): restore a snapshot, or ingest it again with recreate=True"
            )
        return dict(document)
    # a shard made outside legalrag: its own config has the same vectors / sparse_vectors shape
    config = json.loads((folder / SHARD_DIR / EDGE_CONFIG).read_text(encoding="utf-8"))
    return {
        "format": 1,
        "vectors": config.get("vectors") or {},
        "sparse_vectors": config.get("sparse_vectors") or {},
    }


def write_document(folder: Path, document: Mapping[str, Any]) -> None:
    """Replace ``folder/collection.json`` atomically (write a temporary file, fsync, rename)."""
    path = folder / DOCUMENT
    try:
        text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"collection metadata must be JSON-serialisable: {exc}") from exc
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def spec_document(spec: CollectionSpec) -> dict[str, Any]:
    """The document of a new collection; the same shape qdrant-edge's ``edge_config.json`` uses."""
    check_spec(spec)
    sparse = {spec.sparse_name: {"modifier": "idf" if spec.sparse_idf else None}} if spec.sparse_name else {}
    return {
        "format": 1,
        "vectors": {spec.dense_name: {"size": spec.dense_size, "distance": spec.distance}},
        "sparse_vectors": sparse,
        "metadata": dict(spec.metadata),
    }
