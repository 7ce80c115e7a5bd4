"""Snapshots of embedded collections: gzipped tars of a published version (see ``versions``).

``root/.snapshots/<collection>/<UTC timestamp>.tar.gz`` holds the collection's ``shard/`` and
``collection.json`` as published: closed and flushed, never written again, and held with a shared
lock while it is archived, so a snapshot needs no writer lock. An archive is written under a
temporary name and renamed into place, so a listed snapshot is always complete.

qdrant-edge preallocates its files sparsely (an empty collection is ~130 MB of holes): gzip (level 1,
fast) stores the holes as almost nothing. Restoring is ``restore``'s.
"""

from __future__ import annotations

import os
import tarfile
from datetime import datetime, timezone
from pathlib import Path

from legalrag.plugin.errors import InputError, StoreError
from legalrag.plugin.store.base import SnapshotInfo
from legalrag.plugin.store.edge.files import DOCUMENT, SHARD_DIR
from legalrag.plugin.store.edge.versions import PUBLISHED, in_use

__all__ = ["SNAPSHOTS", "find_snapshot", "list_snapshots", "write_snapshot"]

SNAPSHOTS = ".snapshots"
_SUFFIX = ".tar.gz"


def write_snapshot(folder: Path, version: int | None, destination: Path) -> SnapshotInfo:
    """Archive published ``version`` of the collection in ``folder`` into ``destination/<timestamp>.tar.gz``."""
    source = folder / PUBLISHED / str(version)
    destination.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = destination / f"{stamp}{_SUFFIX}"
    partial = destination / f".{stamp}.partial"
    try:
        with in_use(source) as held:
            if not held:
                raise StoreError(f"version {version} of {folder.name!r} was replaced while archiving it: try again")
            with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
                tar.add(source / SHARD_DIR, arcname=SHARD_DIR)
                if (source / DOCUMENT).is_file():
                    tar.add(source / DOCUMENT, arcname=DOCUMENT)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return _info(target)


def list_snapshots(destination: Path) -> list[SnapshotInfo]:
    """The complete snapshots in ``destination``, oldest first."""
    if not destination.is_dir():
        return []
    return [_info(p) for p in sorted(destination.glob(f"*{_SUFFIX}")) if not p.name.startswith(".")]


def find_snapshot(destination: Path, snapshot: str, collection: str) -> Path:
    """The archive ``snapshot`` names: a listed name, or a snapshot file's path (checked when restored)."""
    names = [s.name for s in list_snapshots(destination)]
    archive = destination / snapshot if snapshot in names else Path(snapshot)
    if snapshot not in names and not (snapshot.endswith((".tar", _SUFFIX)) and archive.is_file()):
        raise InputError(
            f"collection {collection!r} has no snapshot {snapshot!r} (have: {', '.join(names) or 'none'}): "
            f"run `legalrag collections snapshot list {collection}`, or pass the path of a snapshot file"
        )
    return archive


def _info(path: Path) -> SnapshotInfo:
    stat = path.stat()
    created = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
    return SnapshotInfo(name=path.name, size=stat.st_size, created=created)
