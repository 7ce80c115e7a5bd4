"""Restoring an embedded collection from a snapshot: validate everything before touching the live one.

1. The archive is unpacked into ``<collection>/.restore/`` under limits: only regular files and
   folders inside the target (no links, devices, absolute or ``..`` paths, GNU sparse members); at
   most :data:`MAX_MEMBERS` members; the bytes written (runs of zeros become holes, as qdrant-edge
   preallocated them) at most ``LEGALRAG_RESTORE_MAX_EXPANSION`` times the archive's size (default
   :data:`MAX_EXPANSION`), the declared sizes at most :data:`MAX_DECLARED_RATIO` times it; and
   ``LEGALRAG_RESTORE_TIMEOUT`` seconds in all (default :data:`TIMEOUT_SECONDS`).
2. The unpacked shard is opened there: it must load, hold the point count its ``collection.json``
   recorded, and have the collection's vectors (names, sizes, distances) when the collection exists.
3. Only then the live ``shard/`` is renamed aside, the new one renamed in and opened; the old one is
   deleted after that succeeded (if it fails, the old one is put back).

Every refusal is an :class:`InputError` (exit 2) naming what is wrong, and leaves the collection as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import qdrant_edge as qe

from legalrag.plugin.errors import InputError
from legalrag.plugin.store.edge.files import DOCUMENT, EDGE_CONFIG, SHARD_DIR, read_document, write_document
from legalrag.plugin.store.edge.shard import damaged_vectors

__all__ = ["MAX_DECLARED_RATIO", "MAX_EXPANSION", "MAX_HEADER_BYTES", "MAX_MEMBERS", "TIMEOUT_SECONDS", "restore_into"]

MAX_MEMBERS = 100_000
#: bytes actually written per archive byte (real segment data compresses far less than this)
MAX_EXPANSION = 200.0
#: declared member sizes (holes included) per archive byte: preallocated empty segments compress ~2,000:1
MAX_DECLARED_RATIO = 20_000.0
TIMEOUT_SECONDS = 900.0
#: bytes of one extended header's data (a GNU long name or link, a PAX record set): tarfile reads it whole
#: into memory, so a header claiming gigabytes is refused before it is read
MAX_HEADER_BYTES = 1 << 20
_EXTENDED = {
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
}
_STAGING = ".restore"
_OLD = ".shard-old"
_BLOCK = 1 << 20


def restore_into(
    archive: Path, folder: Path, name: str, current: Mapping[str, Any] | None
) -> tuple[qe.EdgeShard, dict[str, Any]]:
    """Replace ``folder``'s shard with ``archive``'s after checking it; returns the opened shard and document.

    ``current`` is the live collection's document (``None`` when the collection does not exist).
    The caller holds the collection's lock and has closed its shard.
    """
    staging = folder / _STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _unpack(archive, staging)
        document = _check(archive, staging, name, current)
        old = folder / _OLD
        shutil.rmtree(old, ignore_errors=True)
        had_shard = (folder / SHARD_DIR).exists()
        if had_shard:
            os.rename(folder / SHARD_DIR, old)
        os.rename(staging / SHARD_DIR, folder / SHARD_DIR)
        try:
            shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
        except Exception as exc:
            shutil.rmtree(folder / SHARD_DIR, ignore_errors=True)
            if had_shard:
                os.rename(old, folder / SHARD_DIR)
            raise InputError(f"snapshot {archive} could not be opened in place ({exc}): nothing was changed") from exc
        write_document(folder, {**document, "clean": False})
        shutil.rmtree(old, ignore_errors=True)
        return shard, {**document, "clean": False}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _limits(archive: Path) -> tuple[float, float, float]:
    size = max(archive.stat().st_size, 1)
    expansion = float(os.environ.get("LEGALRAG_RESTORE_MAX_EXPANSION") or MAX_EXPANSION)
    timeout = float(os.environ.get("LEGALRAG_RESTORE_TIMEOUT") or TIMEOUT_SECONDS)
    return size * expansion, size * MAX_DECLARED_RATIO, time.monotonic() + timeout


def _unpack(archive: Path, target: Path) -> None:
    written_limit, declared_limit, deadline = _limits(archive)
    written = declared = members = 0
    try:
        with tarfile.open(archive, tarinfo=_bounded_headers(archive, deadline)) as tar:
            for member in tar:
                members += 1
                if members > MAX_MEMBERS:
                    raise InputError(f"snapshot {archive} has over {MAX_MEMBERS} members: not a legalrag snapshot")
                _check_member(archive, member)
                declared += member.size
                if declared > declared_limit:
                    raise InputError(
                        f"snapshot {archive} declares {declared:,} bytes, over {MAX_DECLARED_RATIO:,.0f} times "
                        "its size: refused (a decompression bomb, or not a legalrag snapshot)"
                    )
                destination = target.joinpath(*PurePosixPath(member.name).parts)
                if member.isdir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                written += _extract_file(tar, member, destination, written_limit - written, deadline, archive)
    except InputError:
        raise
    except (OSError, EOFError, tarfile.TarError, zlib.error, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(
            f"snapshot {archive} is damaged or not a tar archive ({reason}): nothing was changed"
        ) from None


def _bounded_headers(archive: Path, deadline: float) -> type[tarfile.TarInfo]:
    """A ``TarInfo`` that refuses an extended header over :data:`MAX_HEADER_BYTES` before tarfile reads its
    data into memory, and stops at the deadline between headers (a chain of them is read in one step)."""

    class BoundedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tarfile: tarfile.TarFile) -> Any:  # type: ignore[override]
            if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
                raise InputError(
                    f"snapshot {archive} has a {self.size:,}-byte extended header (at most {MAX_HEADER_BYTES:,}): "
                    "refused (a header bomb, or not a legalrag snapshot)"
                )
            if time.monotonic() > deadline:
                raise InputError(
                    f"restoring {archive} took longer than its time limit (LEGALRAG_RESTORE_TIMEOUT): refused"
                )
            return super()._proc_member(tarfile)  # type: ignore[misc]

    return BoundedTarInfo


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise InputError(f"snapshot member {member.name!r} is unsafe to extract: not a legalrag snapshot")
    if member.issparse():
        raise InputError(f"snapshot member {member.name!r} is a GNU sparse file: not a legalrag snapshot")


def _extract_file(
    tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path, budget: float, deadline: float, archive: Path
) -> int:
    """Write one member, runs of zeros as holes; returns the bytes written."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise InputError(f"snapshot member {member.name!r} has no contents: not a legalrag snapshot")
    written = 0
    with source, open(destination, "wb") as out:
        while block := source.read(_BLOCK):
            if time.monotonic() > deadline:
                raise InputError(
                    f"restoring {archive} took longer than its time limit (LEGALRAG_RESTORE_TIMEOUT): refused"
                )
            if block.count(0) == len(block):
                out.seek(len(block), os.SEEK_CUR)
                continue
            written += len(block)
            if written > budget:
                raise InputError(
                    f"snapshot {archive} unpacks to more than {MAX_EXPANSION:g} times its size "
                    "(LEGALRAG_RESTORE_MAX_EXPANSION): refused"
                )
            out.write(block)
        out.truncate(member.size)
    return written


def _check(archive: Path, staging: Path, name: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Open the unpacked shard and compare it with what the archive says and what the collection is."""
    if not (staging / SHARD_DIR / EDGE_CONFIG).is_file():
        raise InputError(f"snapshot {archive} holds no {SHARD_DIR}/{EDGE_CONFIG}: it is not a legalrag snapshot")
    try:
        document = read_document(staging)
    except (OSError, ValueError) as exc:
        raise InputError(f"snapshot {archive} has an unreadable {DOCUMENT} ({exc}): nothing was changed") from None
    document = {k: v for k, v in document.items() if k != "clean"}
    try:
        shard = qe.EdgeShard.load(str(staging / SHARD_DIR))
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"snapshot {archive} is not a usable collection ({reason}): nothing was changed") from None
    try:
        points = shard.count(qe.CountRequest(exact=True))
        _layout_agrees(archive, staging, document)
        damaged = damaged_vectors(shard, document.get("vectors") or {})
        if damaged:
            raise InputError(f"snapshot {archive} holds {damaged}: nothing was changed")
        shard.flush()
    finally:
        shard.close()
    recorded = document.get("points")
    if isinstance(recorded, int) and recorded != points:
        raise InputError(
            f"snapshot {archive} holds {points} points but recorded {recorded}: it is damaged; nothing was changed"
        )
    if current is not None:
        _same_layout(archive, name, document, current)
    return {**document, "points": points}


def _layout_agrees(archive: Path, staging: Path, document: Mapping[str, Any]) -> None:
    """The shard's own vector configuration must be the one its ``collection.json`` describes: the
    collection is searched and written by that description."""
    config = json.loads((staging / SHARD_DIR / EDGE_CONFIG).read_text(encoding="utf-8"))
    described = {k: (v.get("size"), v.get("distance")) for k, v in (document.get("vectors") or {}).items()}
    actual = {k: (v.get("size"), v.get("distance")) for k, v in (config.get("vectors") or {}).items()}
    if described and described != actual:
        raise InputError(
            f"snapshot {archive} contradicts itself: {DOCUMENT} describes vectors {described}, the shard holds "
            f"{actual}; it is damaged or was edited: nothing was changed"
        )


def _same_layout(archive: Path, name: str, document: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    ours = (current.get("vectors") or {}, sorted(current.get("sparse_vectors") or {}))
    theirs = (document.get("vectors") or {}, sorted(document.get("sparse_vectors") or {}))
    if ours != theirs:
        raise InputError(
            f"snapshot {archive} does not fit collection {name!r}: it holds vectors {_describe(*theirs)}, the "
            f"collection {_describe(*ours)}; restore it under another collection name, or drop {name!r} first"
        )


def _describe(vectors: Mapping[str, Any], sparse: list[str]) -> str:
    dense = ", ".join(f"{k} {v.get('size')}/{v.get('distance')}" for k, v in sorted(vectors.items()))
    return dense + "".join(f", {s} (sparse)" for s in sparse)
