"""The ingest pipeline: load → chunk → embed → upsert, streaming, incremental and idempotent.

Every point id is ``uuid5(doc_id, version, chunk_index)`` where ``version`` hashes the document
text together with the chunking and embedding settings. A document is *unchanged* when the
collection holds exactly its ``chunk_count`` points, all of the current version: then nothing
is embedded or written. Otherwise its chunks are embedded and upserted, and only after all of
them are stored are the points of older versions deleted — so a crash at any moment leaves
either the old or the new version complete, and a re-run finishes the job with the same ids.

Stages overlap: a producer thread loads and chunks, the calling thread embeds, and a writer thread
computes BM25 vectors and upserts, connected by bounded queues (memory stays bounded whatever the
corpus size).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import models

from legalrag.ingest._pipeline_records import (
    ChunkerLike,
    DocumentEncoder,
    DocumentFailure,
    DocumentStatus,
    IngestStats,
    PreparedChunks,
    PreparedDocument,
    SparseDocumentEncoder,
)
from legalrag.plugin.errors import InputError
from legalrag.plugin.memory import release_free_memory
from legalrag.plugin.schema import (
    DOC_ID_KEY,
    RESERVED_KEYS,
    SOURCE_PATH_KEY,
    TENANT_KEY,
    VERSION_KEY,
    SourceDocument,
    SparseVector,
    point_id,
    without_surrogates,
)
from legalrag.plugin.store.base import PointRecord, Store

__all__ = [
    "DocumentFailure",
    "DocumentStatus",
    "IngestStats",
    "Ingestor",
    "PreparedDocument",
    "StoredDocument",
    "clean_document",
    "point_records",
    "refuse_other_file",
    "status_of",
]


class DocumentRefused(InputError):
    """One document cannot be ingested as it is (reported in ``failed``; the run goes on)."""


# -- messages between the stages -------------------------------------------------------------------
class _Done:
    """End of a stream (the producer is out of documents, or the run is over)."""


_DONE = _Done()


@dataclass(frozen=True, slots=True)
class _Failed:
    """producer → owner: a file or document that could not be loaded or chunked."""

    failure: DocumentFailure


@dataclass(frozen=True, slots=True)
class _Points:
    """owner → writer: chunks ``start:start+len(dense)`` of a document, with their dense vectors."""

    prepared: PreparedDocument
    start: int
    dense: Any


@dataclass(frozen=True, slots=True)
class _Finish:
    """owner → writer: every chunk of the document's new version is queued: retire the old ones."""

    prepared: PreparedDocument


@dataclass(frozen=True, slots=True)
class _Written:
    """writer → owner: ``points`` points stored; ``finished`` when a document's old versions are gone."""

    points: int = 0
    finished: DocumentStatus | None = None


_Inbound = PreparedDocument | _Failed | _Done
_Outbound = _Points | _Finish | _Done


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def version_of(doc: SourceDocument, fingerprint: str) -> str:
    """Document version: its text hash combined with the settings that shape its points."""
    return hashlib.sha256(f"{doc.doc_hash}\x1f{fingerprint}".encode()).hexdigest()[:32]


def status_of(held: int, current: int, chunks: int) -> DocumentStatus:
    """What a run does with a document of ``chunks`` chunks when the collection holds ``held`` of its
    points, ``current`` of them of the version being ingested."""
    if held == 0:
        return "added"
    if current != chunks:
        return "updated"
    return "unchanged" if held == current else "stale_only"


@dataclass(slots=True)
class StoredDocument:
    """A stored document as :meth:`Ingestor.stored_index` reports it."""

    source: str
    versions: dict[str, int] = dataclasses.field(default_factory=dict)

    def status(self, version: str, chunks: int) -> DocumentStatus:
        return status_of(sum(self.versions.values()), self.versions.get(version, 0), chunks)


def stored_source(payload: Mapping[str, Any]) -> str:
    """The file a stored point was read from: its absolute path where recorded (a relative source names
    another file from another folder)."""
    return str(payload.get(SOURCE_PATH_KEY) or payload.get("source", ""))


def refuse_other_file(doc: SourceDocument, before: str) -> None:
    """Refuse ``doc`` when its doc_id is stored from ``before``, another file that still exists: the second
    would silently replace the first (a moved corpus, whose old file is gone, is fine).

    Raises:
        DocumentRefused: both files exist and differ.
    """
    if not before or before == _source_path(doc.source):
        return
    old, new = Path(before), Path(doc.source)
    if old.is_file() and new.is_file() and old.resolve() != new.resolve():
        raise DocumentRefused(
            f"doc_id {doc.doc_id!r} is already stored from {old}, which still exists: ingesting {new} "
            "would replace it; ingest both from a common parent folder, or pass doc_id_root="
        )


def reserved_key_warnings(doc: SourceDocument) -> tuple[str, ...]:
    renamed = sorted(RESERVED_KEYS.intersection(doc.metadata))
    return tuple(f"metadata key {key!r} is reserved for legalrag: stored as 'meta_{key}'" for key in renamed)


def point_records(
    prepared: PreparedDocument,
    start: int,
    dense: Any,
    sparse: list[SparseVector] | None,
    extra_payload: Mapping[str, Any],
) -> list[PointRecord]:
    """The points of chunks ``start:start+len(dense)`` of ``prepared``, with their vectors."""
    points = []
    where = {SOURCE_PATH_KEY: _source_path(prepared.doc.source)} if Path(prepared.doc.source).is_file() else {}
    for offset, chunk in enumerate(prepared.chunks[start : start + len(dense)]):
        payload = {**chunk.payload(), **extra_payload, **where, VERSION_KEY: prepared.version}
        points.append(
            PointRecord(
                id=prepared.ids[start + offset],
                payload=payload,
                dense=np.asarray(dense[offset]).tolist(),  # one C call, not a Python float() per value
                sparse=sparse[offset] if sparse is not None else None,
            )
        )
    return points


class Ingestor:
    """Runs the pipeline into one collection.

    Example:
        >>> ingestor = Ingestor(store, "laws", chunker, encoder, bm25)  # doctest: +SKIP
        >>> stats = ingestor.run(iter_documents(["corpus/"]))  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        collection: str,
        chunker: ChunkerLike,
        dense: DocumentEncoder,
        sparse: SparseDocumentEncoder | None = None,
        *,
        fingerprint: str = "",
        chunks_per_batch: int = 256,
        extra_payload: dict[str, Any] | None = None,
        queue_depth: int = 4,
        tenant_key: str = TENANT_KEY,
        defer_indexing: bool = True,
    ) -> None:
        """``extra_payload`` (e.g. ``{"tenant": "acme"}``) is written on every point and scopes
        every incremental check and deletion, so tenants sharing a collection never touch each
        other's documents. ``defer_indexing``: a run into an empty collection (the initial load)
        pauses HNSW indexing on a server (``Store.bulk_load``) and restores it at the end, so the
        index is built once instead of re-built as segments fill."""
        self.store = store
        self.collection = collection
        self.chunker = chunker
        self.dense = dense
        self.sparse = sparse
        self.fingerprint = fingerprint
        self.chunks_per_batch = chunks_per_batch
        self.extra_payload = dict(extra_payload or {})
        self.queue_depth = queue_depth
        self.defer_indexing = defer_indexing
        self._scope: list[models.Condition] = [_match(k, str(v)) for k, v in sorted(self.extra_payload.items())]
        if tenant_key not in self.extra_payload:
            # a run without a tenant owns only the points without one: it must never count, replace
            # or sync away a tenant's document that happens to share a doc_id
            self._scope.append(models.IsEmptyCondition(is_empty=models.PayloadField(key=tenant_key)))

    def _doc_filter(self, doc_id: str, **extra: str) -> list[models.Condition]:
        return [*self._scope, _match(DOC_ID_KEY, doc_id), *(_match(k, v) for k, v in extra.items())]

    # -- preparation ---------------------------------------------------------------------------
    def prepare(self, doc: SourceDocument, ready: PreparedChunks | None = None) -> PreparedDocument:
        """Chunk ``doc`` and decide, from what the collection holds, whether it needs writing.

        ``ready``: its chunks, BM25 vectors and token lengths, made ahead by the same chunker, analyser
        and tokenizer (see :mod:`legalrag.ingest.prepare`); None chunks it here.

        Raises:
            DocumentRefused: another file that still exists is stored under the same doc_id.
        """
        version = self.version(doc)
        chunks, sparse, lengths = ready if ready is not None else (self.chunker.chunk(doc), None, None)
        ids = [point_id(doc.doc_id, version, i) for i in range(len(chunks))]
        held = self.store.count(self.collection, models.Filter(must=self._doc_filter(doc.doc_id)))
        current = 0
        if held:
            self._refuse_other_file(doc)
            current = self.store.count(
                self.collection,
                models.Filter(must=self._doc_filter(doc.doc_id, **{VERSION_KEY: version})),
            )
        status = status_of(held, current, len(chunks))
        return PreparedDocument(doc, version, chunks, ids, status, reserved_key_warnings(doc), sparse, lengths)

    def version(self, doc: SourceDocument) -> str:
        """The version ``doc`` is stored under by this ingestor (its text, settings and extra payload)."""
        return version_of(doc, self.version_salt)

    @property
    def version_salt(self) -> str:
        """What :func:`version_of` combines with a document's text: the settings and the extra payload."""
        return f"{self.fingerprint}\x1f{sorted(self.extra_payload.items())}"

    def _refuse_other_file(self, doc: SourceDocument) -> None:
        stored = next(
            iter(self.store.scroll(self.collection, models.Filter(must=self._doc_filter(doc.doc_id)), batch_size=1)),
            None,
        )
        if stored is not None:
            refuse_other_file(doc, stored_source(stored.payload))

    def _points(
        self, prepared: PreparedDocument, start: int, dense: Any, sparse: list[SparseVector] | None
    ) -> list[PointRecord]:
        return point_records(prepared, start, dense, sparse, self.extra_payload)

    def loading(self) -> contextlib.AbstractContextManager[Any]:
        """The context a run writes in: a run into an empty collection (the initial load) defers indexing."""
        initial = self.defer_indexing and self.store.count(self.collection) == 0
        return self.store.bulk_load(self.collection) if initial else contextlib.nullcontext()

    def stored_index(self) -> dict[str, StoredDocument]:
        """What the collection holds in this ingestor's scope, per doc_id: points per version and the
        source they were read from (one scroll; what an engine that cannot ask the store per document,
        such as the Ray engine's tasks, decides with)."""
        index: dict[str, StoredDocument] = {}
        for hit in self.store.scroll(self.collection, models.Filter(must=list(self._scope)), batch_size=1024):
            doc_id = str(hit.payload.get(DOC_ID_KEY))
            entry = index.get(doc_id)
            if entry is None:
                entry = index[doc_id] = StoredDocument(source=stored_source(hit.payload))
            version = str(hit.payload.get(VERSION_KEY))
            entry.versions[version] = entry.versions.get(version, 0) + 1
        return index

    # -- the run -------------------------------------------------------------------------------
    def run(
        self,
        items: Iterable[SourceDocument | DocumentFailure],
        *,
        on_progress: Callable[[IngestStats], None] | None = None,
        stop: threading.Event | None = None,
        ready: Callable[[SourceDocument], PreparedChunks | None] | None = None,
    ) -> IngestStats:
        """Ingest ``items``: documents, or load failures (reported in ``failed``, the rest goes on).

        ``stop`` (set by a Ctrl-C handler) ends the run after the current batch; ``on_progress`` is
        called from this thread with the running counts; ``ready(doc)`` gives a document's chunks, BM25
        vectors and token lengths made ahead (:meth:`legalrag.ingest.prepare.PrepareProcess.take`), or None.
        """
        with self.loading():
            return self._run(items, on_progress, stop, ready)

    def _run(
        self,
        items: Iterable[SourceDocument | DocumentFailure],
        on_progress: Callable[[IngestStats], None] | None,
        stop: threading.Event | None,
        ready: Callable[[SourceDocument], PreparedChunks | None] | None = None,
    ) -> IngestStats:
        stats = IngestStats()  # owned by this thread; the others send messages
        started = time.perf_counter()
        stop = stop or threading.Event()  # set by the caller (Ctrl-C): finish the current batch, then stop
        halt = threading.Event()  # set by us when the run is over, to release the producer
        prepared_q: queue.Queue[_Inbound] = queue.Queue(maxsize=self.queue_depth * 4)
        write_q: queue.Queue[_Outbound] = queue.Queue(maxsize=self.queue_depth)
        written_q: queue.SimpleQueue[_Written] = queue.SimpleQueue()
        errors: list[BaseException] = []
        producer = threading.Thread(
            target=self._produce, args=(items, prepared_q, _Either(stop, halt), errors, ready), daemon=True
        )
        writer = threading.Thread(target=self._write, args=(write_q, written_q, errors), daemon=True)
        producer.start()
        writer.start()
        sources: set[str] = set()
        try:
            self._embed_loop(prepared_q, write_q, written_q, stats, sources, stop, errors, on_progress)
        except KeyboardInterrupt:
            stop.set()
        finally:
            halt.set()
            stats.interrupted = stop.is_set()
            _drain(prepared_q)
            write_q.put(_DONE)
            writer.join()
            producer.join(timeout=5)
        _collect(written_q, stats)
        stats.seconds = time.perf_counter() - started
        if errors:
            raise errors[0]
        return stats

    def _produce(
        self,
        items: Iterable[SourceDocument | DocumentFailure],
        out: queue.Queue[_Inbound],
        stop: threading.Event | _Either,
        errors: list[BaseException],
        ready: Callable[[SourceDocument], PreparedChunks | None] | None = None,
    ) -> None:
        given: dict[str, str] = {}  # doc_id -> the source that gave it in this run
        try:
            for item in items:
                if stop.is_set():
                    break
                if not isinstance(item, SourceDocument):
                    reason = str(getattr(item, "reason", item))
                    _put(out, _Failed(DocumentFailure(_clean(str(getattr(item, "source", ""))), _clean(reason))), stop)
                    continue
                item = clean_document(item)
                if item.doc_id in given:  # the second would replace the first's chunks: both are counted, one is kept
                    reason = f"doc_id {item.doc_id!r} was already given in this run by {given[item.doc_id]}: skipped"
                    _put(out, _Failed(DocumentFailure(item.source, reason)), stop)
                    continue
                given[item.doc_id] = item.source
                try:
                    prepared = self.prepare(item, ready(item) if ready is not None else None)
                except DocumentRefused as exc:
                    _put(out, _Failed(DocumentFailure(item.source, str(exc))), stop)
                    continue
                except Exception as exc:
                    _put(out, _Failed(DocumentFailure(item.source, f"chunking failed: {exc}")), stop)
                    continue
                _put(out, prepared, stop)
        except BaseException as exc:
            errors.append(exc)
        finally:
            _put(out, _DONE, None)

    def _embed_loop(
        self,
        inbox: queue.Queue[_Inbound],
        outbox: queue.Queue[_Outbound],
        written: queue.SimpleQueue[_Written],
        stats: IngestStats,
        sources: set[str],
        stop: threading.Event,
        errors: list[BaseException],
        on_progress: Callable[[IngestStats], None] | None,
    ) -> None:
        pending: list[tuple[PreparedDocument, int]] = []  # (document, first chunk index) awaiting a batch
        size = 0
        while not errors:
            item = _next(inbox, stop)
            if item is None or isinstance(item, _Done):  # None: stopped while a document was still loading
                break
            _collect(written, stats)
            source = item.failure.source if isinstance(item, _Failed) else item.doc.source
            if source not in sources:
                sources.add(source)
                stats.files += 1
            if isinstance(item, _Failed):
                stats.failed.append(item.failure)
                continue
            stats.documents += 1
            stats.chunks += len(item.chunks)
            stats.warnings.extend(DocumentFailure(item.doc.source, w) for w in item.warnings)
            if item.status in ("unchanged", "stale_only"):
                stats.skipped += len(item.chunks)
                if item.status == "unchanged":
                    stats.unchanged += 1
                else:
                    stats.updated += 1
                    outbox.put(_Finish(item))
                continue
            pending.append((item, 0))
            size += len(item.chunks)
            while size >= self.chunks_per_batch:
                pending, size = self._flush(pending, outbox, stats, self.chunks_per_batch)
            if on_progress is not None:
                on_progress(stats)
            if stop.is_set():
                break
        while pending and not errors:
            pending, size = self._flush(pending, outbox, stats, self.chunks_per_batch)
        _collect(written, stats)
        if on_progress is not None:
            on_progress(stats)

    def _flush(
        self,
        pending: list[tuple[PreparedDocument, int]],
        outbox: queue.Queue[_Outbound],
        stats: IngestStats,
        limit: int,
    ) -> tuple[list[tuple[PreparedDocument, int]], int]:
        """Embed up to ``limit`` pending chunks (across documents) and hand them to the writer."""
        taken: list[tuple[PreparedDocument, int, int]] = []
        budget = limit
        rest: list[tuple[PreparedDocument, int]] = []
        for prepared, start in pending:
            if budget <= 0:
                rest.append((prepared, start))
                continue
            end = min(len(prepared.chunks), start + budget)
            taken.append((prepared, start, end))
            budget -= end - start
            if end < len(prepared.chunks):
                rest.append((prepared, end))
        texts = [c.embed_text for p, s, e in taken for c in p.chunks[s:e]]
        began = time.perf_counter()
        lengths = None
        if getattr(self.dense, "takes_token_lengths", False) and all(p.lengths is not None for p, _, _ in taken):
            lengths = [n for p, s, e in taken for n in p.lengths[s:e]]  # type: ignore[index]
        if not texts:
            dense: Any = []
        elif lengths is not None:  # counted ahead by the worker: the encoder need not tokenize twice
            dense = self.dense.encode_documents(texts, token_lengths=lengths)  # type: ignore[call-arg]
        else:
            dense = self.dense.encode_documents(texts)
        stats.embed_seconds += time.perf_counter() - began
        release_free_memory()  # RSS must not grow with the corpus (see legalrag.plugin.memory)
        at = 0
        for prepared, start, end in taken:
            n = end - start
            stats.tokens += sum(int(c.metadata.get("token_count", 0)) for c in prepared.chunks[start:end])
            outbox.put(_Points(prepared, start, dense[at : at + n]))
            if end == len(prepared.chunks):
                outbox.put(_Finish(prepared))
            at += n
        return rest, sum(len(p.chunks) - s for p, s in rest)

    def _write(
        self, inbox: queue.Queue[_Outbound], done: queue.SimpleQueue[_Written], errors: list[BaseException]
    ) -> None:
        while True:
            item = inbox.get()
            if isinstance(item, _Done):
                return
            if errors:
                continue
            try:
                if isinstance(item, _Points):
                    sparse = self._sparse_slice(item.prepared, item.start, len(item.dense))
                    points = self._points(item.prepared, item.start, item.dense, sparse)
                    self.store.upsert(self.collection, points)
                    done.put(_Written(points=len(points)))
                else:
                    self._finish(item.prepared)
                    done.put(_Written(finished=item.prepared.status))
            except BaseException as exc:
                errors.append(exc)

    def _sparse_slice(self, prepared: PreparedDocument, start: int, n: int) -> list[SparseVector] | None:
        """BM25 for chunks ``start:start+n``, in the writer thread: the encoder starts on the first
        batch without waiting for the analyser to load, and chunking, dense and sparse encoding run
        as three stages side by side."""
        if self.sparse is None:
            return None
        if prepared.sparse is not None:
            return prepared.sparse[start : start + n]
        chunks = prepared.chunks[start : start + n]
        return self.sparse.encode_documents(
            [c.embed_text for c in chunks], [c.metadata.get("language") for c in chunks]
        )

    def _finish(self, prepared: PreparedDocument) -> None:
        self.retire(prepared.doc.doc_id, prepared.version)

    def retire(self, doc_id: str, version: str) -> None:
        """All chunks of ``version`` are stored: now drop the document's other versions."""
        self.store.delete(
            self.collection,
            models.Filter(must=self._doc_filter(doc_id), must_not=[_match(VERSION_KEY, version)]),
        )

    # -- sync ----------------------------------------------------------------------------------
    def sync(
        self,
        seen_doc_ids: set[str],
        roots: Sequence[str | Path],
        failed_sources: set[str],
        read_sources: set[str] | None = None,
    ) -> int:
        """Delete documents stored from under ``roots`` that are gone; returns the count.

        A document is gone when its file no longer exists, or when its file was read this run and no
        longer holds it (a JSON record removed). A file that exists but was not read (``--exclude``, not
        matched by ``--include``) keeps its chunks, and so does a file that failed to load this run: a
        file that is unreadable for a moment must not lose them.
        """
        resolved = [Path(r).resolve() for r in roots]
        keep = {Path(s).resolve() for s in failed_sources}
        read = {Path(s).resolve() for s in read_sources} if read_sources is not None else None
        gone: set[str] = set()
        scope = models.Filter(must=list(self._scope))
        for hit in self.store.scroll(self.collection, scope):
            doc_id = str(hit.payload.get(DOC_ID_KEY))
            if doc_id in seen_doc_ids or doc_id in gone:
                continue
            source = Path(stored_source(hit.payload)).resolve()
            if source in keep or not any(source == r or r in source.parents for r in resolved):
                continue
            if read is None or not source.exists() or source in read:
                gone.add(doc_id)
        for doc_id in sorted(gone):
            self.store.delete(self.collection, models.Filter(must=self._doc_filter(doc_id)))
        return len(gone)


class _Either:
    """Looks like an Event that is set when either of two events is."""

    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        self._a, self._b = a, b

    def is_set(self) -> bool:
        return self._a.is_set() or self._b.is_set()


def _collect(written: queue.SimpleQueue[_Written], stats: IngestStats) -> None:
    """Count what the writer reports (in the thread that owns ``stats``)."""
    while True:
        try:
            event = written.get_nowait()
        except queue.Empty:
            return
        stats.upserted += event.points
        if event.finished == "added":
            stats.added += 1
        elif event.finished == "updated":
            stats.updated += 1


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event | _Either | None) -> None:
    while True:
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            if stop is not None and stop.is_set():
                return


def _drain(q: queue.Queue[Any]) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


def fingerprint_of(**settings: Any) -> str:
    """Stable hash of the settings that shape stored points (model, chunking, sparse encoder)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tracked(items: Iterable[Any], seen: set[str], sources: set[str] | None = None) -> Iterator[Any]:
    """Pass ``items`` through, recording the ``doc_id`` of every document and the files read (for ``--sync``)."""
    for item in items:
        if isinstance(item, SourceDocument):
            seen.add(item.doc_id)
            if sources is not None:
                sources.add(item.source)
        yield item


def _source_path(source: str) -> str:
    """A file's absolute path, as stored under :data:`SOURCE_PATH_KEY`."""
    return os.path.abspath(source)


def _clean(text: str) -> str:
    """``text`` fit for Qdrant, which stores UTF-8: one lone surrogate in one record would fail the whole
    batch it is written with."""
    return without_surrogates(text)


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, Mapping):
        return {_clean(str(k)): _clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_value(v) for v in value]
    return value


def _dirty(value: Any) -> bool:
    if isinstance(value, str):
        return without_surrogates(value) != value
    if isinstance(value, Mapping):
        return any(_dirty(str(k)) or _dirty(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_dirty(v) for v in value)
    return False


def clean_document(doc: SourceDocument) -> SourceDocument:
    """``doc`` with every lone surrogate replaced (Qdrant stores UTF-8)."""
    if not _dirty([doc.doc_id, doc.source, doc.text, doc.title or "", doc.metadata]):
        return doc
    return dataclasses.replace(
        doc,
        doc_id=_clean(doc.doc_id),
        source=_clean(doc.source),
        text=_clean(doc.text),
        title=_clean(doc.title) if doc.title is not None else None,
        metadata=_clean_value(doc.metadata),
    )


def _next(inbox: queue.Queue[_Inbound], stop: threading.Event) -> _Inbound | None:
    """The next prepared document, or ``None`` once ``stop`` is set while none is ready: a Ctrl-C must not
    wait for a huge file to finish loading (the run is resumable; the producer is left behind)."""
    while True:
        try:
            return inbox.get(timeout=0.25)
        except queue.Empty:
            if stop.is_set():
                return None
