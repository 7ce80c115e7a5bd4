"""Snapshots of embedded collections: a gzipped tar of a closed shard, restored by swapping folders.

``root/.snapshots/<collection>/<UTC timestamp>.tar.gz`` holds the collection's ``shard/`` and
``collection.json`` as they are on disk after the shard was flushed and closed (the caller holds the
collection's lock, so nothing writes meanwhile). An archive is written under a temporary name and
renamed into place, so a listed snapshot is always complete.

qdrant-edge preallocates its files sparsely (an empty collection is ~130 MB of holes): gzip (level 1,
fast) stores the holes as almost nothing, and restoring writes runs of zeros back as holes.

Restoring checks the archive first, unpacks it next to the live shard, then swaps the two folders
by rename; a crash between those two renames leaves the collection without ``shard/`` (it then
does not list), and running the same restore again repairs it.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from legalrag.plugin.errors import InputError
from legalrag.plugin.store._edge_files import DOCUMENT, EDGE_CONFIG, SHARD_DIR
from legalrag.plugin.store.base import SnapshotInfo

__all__ = ["SNAPSHOTS", "find_snapshot", "list_snapshots", "unpack_snapshot", "write_snapshot"]

SNAPSHOTS = ".snapshots"
_STAGING = ".restore"
_OLD = ".shard-old"
_SUFFIX = ".tar.gz"
_BLOCK = 1 << 20


def write_snapshot(folder: Path, destination: Path) -> SnapshotInfo:
    """Archive ``folder``'s closed shard and document into ``destination/<timestamp>.tar.gz``."""
    destination.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = destination / f"{stamp}{_SUFFIX}"
    partial = destination / f".{stamp}.partial"
    try:
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            tar.add(folder / SHARD_DIR, arcname=SHARD_DIR)
            if (folder / DOCUMENT).is_file():
                tar.add(folder / DOCUMENT, arcname=DOCUMENT)
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
    """The archive ``snapshot`` names (a listed name, or a snapshot file's path), checked to hold a shard."""
    names = [s.name for s in list_snapshots(destination)]
    archive = destination / snapshot if snapshot in names else Path(snapshot)
    if snapshot not in names and not (snapshot.endswith((".tar", _SUFFIX)) and archive.is_file()):
        raise InputError(
            f"collection {collection!r} has no snapshot {snapshot!r} (have: {', '.join(names) or 'none'}): "
            f"run `legalrag collections snapshot list {collection}`, or pass the path of a snapshot file"
        )
    try:
        with tarfile.open(archive) as tar:
            members = set(tar.getnames())
    except (OSError, tarfile.TarError) as exc:
        raise InputError(f"snapshot {archive} is not a readable tar archive ({exc})") from exc
    if f"{SHARD_DIR}/{EDGE_CONFIG}" not in members:
        raise InputError(f"snapshot {archive} holds no {SHARD_DIR}/{EDGE_CONFIG}: it is not a legalrag snapshot")
    return archive


def unpack_snapshot(archive: Path, folder: Path) -> None:
    """Replace ``folder``'s shard and document with the archive's (the caller holds the lock)."""
    staging = folder / _STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            _extract(tar, staging)
        old = folder / _OLD
        shutil.rmtree(old, ignore_errors=True)
        if (folder / SHARD_DIR).exists():
            os.rename(folder / SHARD_DIR, old)
        os.rename(staging / SHARD_DIR, folder / SHARD_DIR)
        if (staging / DOCUMENT).is_file():
            os.replace(staging / DOCUMENT, folder / DOCUMENT)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(tar: tarfile.TarFile, target: Path) -> None:
    """Extract plain files and folders only, inside ``target``, writing zero runs back as holes."""
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise InputError(f"snapshot member {member.name!r} is unsafe to extract: not a legalrag snapshot")
        destination = target.joinpath(*path.parts)
        if member.isdir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        if source is None:
            raise InputError(f"snapshot member {member.name!r} has no contents: not a legalrag snapshot")
        with source, open(destination, "wb") as out:
            _copy_sparse(source, out)
            out.truncate(member.size)


def _copy_sparse(source: Any, out: Any) -> None:
    while block := source.read(_BLOCK):
        if block.count(0) == len(block):
            out.seek(len(block), os.SEEK_CUR)  # a hole, as qdrant-edge preallocated it
        else:
            out.write(block)


def _info(path: Path) -> SnapshotInfo:
    stat = path.stat()
    created = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
    return SnapshotInfo(name=path.name, size=stat.st_size, created=created)
