"""Published versions of an embedded collection: one writer, any number of readers, no lock between them.

qdrant-edge lets one process hold a shard folder (its write-ahead log is locked), and loading a shard
writes to it. So the writer keeps the working shard to itself (``<collection>/shard/`` under the
collection's ``.lock``) and *publishes* it: flushed and closed, it is copied to
``published/<N>/`` and ``published/CURRENT`` is replaced atomically with ``N``. A reader never takes
the writer's lock: it copies the current published version into a private folder
(``readers/<pid>-<token>/``, under its own lock) and loads that copy; it checks ``CURRENT`` again at
most once a second and moves to a newer version when there is one. A killed writer never published
its partial work (readers keep the last version; the next writer resumes the working shard); a
killed reader leaves a private copy that the next reader or writer deletes.

Copies skip holes (qdrant-edge preallocates its files sparsely) and use ``copy_file_range``, which
the file system may turn into a reflink. A reader's copy hard-links the data pages of the published
version (:func:`shareable`: the bulk of a collection, which the engine never writes while points stay
as they are) and copies only the small files the engine rewrites when it loads a segment.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from legalrag.plugin.store.edge.files import DOCUMENT, SHARD_DIR

__all__ = [
    "PUBLISHED",
    "READERS",
    "ReaderCopy",
    "collect_garbage",
    "current_version",
    "in_use",
    "publish",
    "reader_copy",
    "sparse_copytree",
]

PUBLISHED = "published"
READERS = "readers"
CURRENT = "CURRENT"
_IN_USE = ".copying"
_LOCK = ".lock"


def current_version(folder: Path) -> int | None:
    """The version readers should load, or ``None`` when nothing was published yet."""
    try:
        text = (folder / PUBLISHED / CURRENT).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(text) if text.isdigit() else None


def _versions(folder: Path) -> list[int]:
    root = folder / PUBLISHED
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def publish(folder: Path) -> int:
    """Copy the closed working shard and its document to a new version and make it current.

    The caller holds the collection's writer lock and has flushed and closed the shard.
    """
    root = folder / PUBLISHED
    root.mkdir(exist_ok=True)
    version = max([current_version(folder) or 0, *_versions(folder)]) + 1
    staging = root / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    sparse_copytree(folder / SHARD_DIR, staging / SHARD_DIR)
    if (folder / DOCUMENT).is_file():
        shutil.copy2(folder / DOCUMENT, staging / DOCUMENT)
    (staging / _IN_USE).touch()
    _fsync_dir(staging)
    os.rename(staging, root / str(version))
    pointer = root / f".{CURRENT}.tmp"
    pointer.write_text(f"{version}\n", encoding="ascii")
    with open(pointer, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer, root / CURRENT)
    _fsync_dir(root)
    collect_garbage(folder)
    return version


def collect_garbage(folder: Path) -> None:
    """Delete published versions nobody is copying (all but the current) and dead readers' copies."""
    current = current_version(folder)
    for version in _versions(folder):
        if version != current:
            with _try_lock(folder / PUBLISHED / str(version) / _IN_USE, exclusive=True) as free:
                if free:
                    shutil.rmtree(folder / PUBLISHED / str(version), ignore_errors=True)
    for leftover in (folder / PUBLISHED).glob(".*.partial") if (folder / PUBLISHED).is_dir() else ():
        shutil.rmtree(leftover, ignore_errors=True)
    remove_dead_readers(folder)


def remove_dead_readers(folder: Path) -> None:
    """Delete the copies of readers whose process is gone (the kernel dropped their lock with them)."""
    readers = folder / READERS
    if readers.is_dir():
        for private in readers.iterdir():
            with _try_lock(private / _LOCK, exclusive=True) as free:
                if free:
                    shutil.rmtree(private, ignore_errors=True)


class ReaderCopy:
    """A reader's private copy of one published version, locked while it lives."""

    def __init__(self, path: Path, version: int, fd: int) -> None:
        self.path = path
        self.version = version
        self._fd = fd

    @property
    def shard(self) -> Path:
        return self.path / SHARD_DIR

    @property
    def document(self) -> Path:
        return self.path / DOCUMENT

    def discard(self) -> None:
        """Delete the copy (the shard loaded from it must be closed first)."""
        if self._fd >= 0:
            shutil.rmtree(self.path, ignore_errors=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __del__(self, _close: Any = os.close) -> None:
        # ``os`` may already be torn down at interpreter exit: the function is bound at definition time
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                _close(self._fd)  # the lock goes with it; the next reader or writer deletes the files
            self._fd = -1


def reader_copy(folder: Path, version: int) -> ReaderCopy | None:
    """A private copy of published ``version``, or ``None`` when that version was deleted meanwhile."""
    source = folder / PUBLISHED / str(version)
    remove_dead_readers(folder)  # copies a killed reader left behind are cleared by the next one to open
    private = folder / READERS / f"{os.getpid()}-{secrets.token_hex(4)}"
    private.mkdir(parents=True)
    fd = os.open(private / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    copy = ReaderCopy(private, version, fd)
    try:
        with in_use(source) as held:
            if not held or not (source / SHARD_DIR).is_dir():
                copy.discard()
                return None
            sparse_copytree(source / SHARD_DIR, copy.shard, link=shareable)
            if (source / DOCUMENT).is_file():
                shutil.copy2(source / DOCUMENT, copy.document)
    except FileNotFoundError:  # the writer retired this version while we copied it: take the next
        copy.discard()
        return None
    except BaseException:
        copy.discard()
        raise
    return copy


def in_use(version_folder: Path) -> contextlib.AbstractContextManager[bool]:
    """Hold a published version (shared lock) so no writer deletes it meanwhile; yields False if it is gone."""
    return _try_lock(version_folder / _IN_USE, exclusive=False)


@contextlib.contextmanager
def _try_lock(path: Path, *, exclusive: bool) -> Iterator[bool]:
    """A non-blocking flock on ``path`` (exclusive) or a blocking shared one; yields whether it is held."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


#: files the engine reads but never writes while points stay as they are, which a reader (it never
#: changes points) links instead of copying: the data pages of payloads and sparse vectors and the chunks
#: of dense vectors in appendable segments; an optimized segment's vector matrix, HNSW graph and id
#: mappings; the write-ahead log's closed segments. The engine does rewrite a segment's small state files
#: (flags, trackers, segment.json) when it loads it, so those are copied.
#: tests/integration/test_reader_writer.py checks that a reader's loads, searches and close leave every
#: linked file of both kinds of segment as it was.
_SHAREABLE = re.compile(
    r"page_\d+\.dat|chunk_\d+\.mmap|matrix\.dat|links(_compressed)?\.bin|graph\.bin"
    r"|id_tracker\.mappings|closed-\d+"
)


def shareable(name: str) -> bool:
    """Whether a reader may hard-link shard file ``name`` from a published version instead of copying it."""
    return _SHAREABLE.fullmatch(name) is not None


def sparse_copytree(source: Path, target: Path, *, link: Callable[[str], bool] | None = None) -> None:
    """Copy a folder of regular files, writing only their data extents (holes stay holes); files whose
    name ``link`` accepts are hard-linked instead (copied where the file system cannot link them)."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(source):
        destination = target / entry.name
        if entry.is_dir(follow_symlinks=False):
            sparse_copytree(Path(entry.path), destination, link=link)
        elif entry.is_file(follow_symlinks=False):
            if link is not None and link(entry.name):
                try:
                    os.link(entry.path, destination)
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                        raise
            _sparse_copy(Path(entry.path), destination)


def _sparse_copy(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            _copy_range(src.fileno(), dst.fileno(), start, end - start)
            offset = end
        dst.truncate(size)


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    while length > 0:
        try:
            done = os.copy_file_range(src, dst, length, offset, offset)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            done = os.pwrite(dst, os.pread(src, min(length, 1 << 24), offset), offset)
        if done == 0:
            raise OSError(errno.EIO, "short copy while copying a shard file")
        offset += done
        length -= done


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
