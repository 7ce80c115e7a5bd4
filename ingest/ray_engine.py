"""The Ray engine: the same ingest with its heavy work on a Ray cluster (``IngestOptions(engine="ray")``).

The driver (the process that called :func:`~legalrag.ingest_paths`) lists the files and reads, in one
scroll, what the collection holds (points per ``doc_id`` and version, :meth:`Ingestor.stored_index`).
A Ray Data pipeline then runs::

    files ──► CPU tasks: load, chunk, BM25, version and status ──► actor pool: embed ──► driver: upsert

The tasks decide each document's status against that index, exactly as the local pipeline asks the
store, so an unchanged document never reaches the embedding actors. Each actor loads the model once and
encodes with the same token-budget batching, precision and out-of-memory back-off as the local engine;
the chunks arrive with their token lengths, counted by the tasks as the encoder would. The driver writes
through the same :class:`~legalrag.plugin.store.base.Store` (the embedded store has one writer: this
process), and retires a document's old versions only once every chunk of its new one is stored.

What one process guarantees holds here: the same uuid5 ids, payloads and BM25 vectors (dense vectors
within the precision's tolerance: batches are cut differently); a re-run writes nothing; ``sync``
deletes what is gone. Ray restarts an embedding actor whose process dies and retries its batch (and
retries a failed task), so a killed worker costs time, not points; were the job to fail, no document is
half-replaced, and a re-run finishes it with the same ids.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from legalrag.ingest.pipeline import (
    DocumentFailure,
    DocumentRefused,
    DocumentStatus,
    Ingestor,
    IngestStats,
    PreparedDocument,
    StoredDocument,
    clean_document,
    point_records,
    refuse_other_file,
    version_of,
)
from legalrag.plugin.errors import IngestError, InputError, MissingExtraError
from legalrag.plugin.memory import release_free_memory
from legalrag.plugin.schema import SourceDocument, point_id
from legalrag.plugin.store.base import PointRecord

if TYPE_CHECKING:
    from legalrag.ingest.options import IngestOptions
    from legalrag.ingest.prepare import Preparer
    from legalrag.plugin.components import TokenizerInfo
    from legalrag.plugin.settings import Settings

__all__ = ["RayCluster", "RayPlan", "joined", "require_ray", "run_on_ray"]

log = logging.getLogger(__name__)

#: files each loading task reads (its rows stream on document by document)
FILES_PER_TASK = 1
#: CPUs a loading task asks for; the embedding workers share the rest of a CPU-only cluster
TASK_CPUS = 0.5
#: the most chunks per batch sent to a CPU worker
CPU_BATCH = 64
#: a chunk row's size, roughly (text, payload, BM25 vector): sizes the blocks to about one batch each
ROW_BYTES = 4096


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or the error naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingExtraError("ray", "ray", "the Ray engine (--engine ray)") from exc
    return ray


@dataclass(frozen=True, slots=True)
class RayPlan:
    """What every loading task needs, sent once through Ray's object store."""

    chunking: dict[str, Any]
    tokenizer_json: str
    max_seq_length: int
    sparse: dict[str, Any] | None
    version_salt: str
    extra_payload: dict[str, Any]
    index: dict[str, StoredDocument]
    max_file_mb: float

    @classmethod
    def of(cls, ingestor: Ingestor, tokenizer: Any, max_seq_length: int, max_file_mb: float) -> RayPlan:
        from legalrag.ingest.prepare import chunking_of

        return cls(
            chunking=chunking_of(ingestor.chunker),
            tokenizer_json=tokenizer.backend_tokenizer.to_str(),
            max_seq_length=max_seq_length,
            sparse=ingestor.sparse.config() if ingestor.sparse is not None else None,  # type: ignore[attr-defined]
            version_salt=ingestor.version_salt,
            extra_payload=dict(ingestor.extra_payload),
            index=ingestor.stored_index(),
            max_file_mb=max_file_mb,
        )


@dataclass(frozen=True, slots=True)
class _Head:
    """A document as a task decided it (one per document; its chunks travel as separate rows)."""

    doc_id: str
    source: str
    version: str
    status: DocumentStatus
    chunks: int
    warnings: tuple[str, ...] = ()


# -- rows: one per document ("doc"), per chunk to embed ("chunk"), per failure ("failed") -------------
_COLUMNS = ("kind", "doc_id", "data", "text", "length", "tokens")


class _Rows:
    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}

    def add(self, kind: str, doc_id: str, data: Any, text: str = "", length: int = 0, tokens: int = 0) -> None:
        values = (kind, doc_id, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), text, length, tokens)
        for name, value in zip(_COLUMNS, values, strict=True):
            self.columns[name].append(value)


_tools: dict[str, tuple[RayPlan, Preparer]] = {}  # per worker process: the plan's chunker and analyser


def _prepared_tools(box: list[Any]) -> tuple[RayPlan, Preparer]:
    import ray

    from legalrag.ingest.prepare import Preparer

    key = box[0].hex()
    if key not in _tools:
        plan: RayPlan = ray.get(box[0])
        _tools.clear()
        _tools[key] = (plan, Preparer(plan.chunking, plan.tokenizer_json, plan.max_seq_length, plan.sparse))
    return _tools[key]


def _load_files(batch: dict[str, Any], plan: list[Any]) -> Iterator[dict[str, list[Any]]]:
    """Ray task: load, chunk and analyse files; decide each document against the stored index. Yields
    each document's rows as soon as they are ready, so the embedding workers start on the first one."""
    from legalrag.ingest.loaders import load_file

    settings, preparer = _prepared_tools(plan)
    for path, rel in zip(batch["path"], batch["rel"], strict=True):
        given: set[str] = set()
        try:
            for item in load_file(Path(str(path)), str(rel), max_file_mb=settings.max_file_mb):
                rows = _Rows()
                if isinstance(item, SourceDocument):
                    _document(clean_document(item), settings, preparer, given, rows)
                else:
                    rows.add("failed", "", item)  # a LoadFailure is a DocumentFailure
                yield rows.columns
        except Exception as exc:  # a loader bug on one file: reported, the rest goes on
            rows = _Rows()
            rows.add("failed", "", DocumentFailure(str(path), f"loading failed: {exc}"))
            yield rows.columns


def _document(doc: SourceDocument, plan: RayPlan, preparer: Preparer, given: set[str], rows: _Rows) -> None:
    from legalrag.ingest.pipeline import reserved_key_warnings

    if doc.doc_id in given:
        rows.add("failed", "", DocumentFailure(doc.source, f"doc_id {doc.doc_id!r} was already given in this run"))
        return
    given.add(doc.doc_id)
    try:
        chunks, sparse, lengths = preparer.prepare(doc)
    except Exception as exc:
        rows.add("failed", "", DocumentFailure(doc.source, f"chunking failed: {exc}"))
        return
    version = version_of(doc, plan.version_salt)
    stored = plan.index.get(doc.doc_id)
    status: DocumentStatus = "added"
    if stored is not None:
        try:
            refuse_other_file(doc, stored.source)
        except DocumentRefused as exc:
            rows.add("failed", "", DocumentFailure(doc.source, str(exc)))
            return
        status = stored.status(version, len(chunks))
    head = _Head(doc.doc_id, doc.source, version, status, len(chunks), reserved_key_warnings(doc))
    rows.add("doc", doc.doc_id, head)
    if status not in ("added", "updated"):
        return
    ids = [point_id(doc.doc_id, version, i) for i in range(len(chunks))]
    prepared = PreparedDocument(doc, version, chunks, ids, status)
    points = point_records(prepared, 0, [None] * len(chunks), sparse, plan.extra_payload)
    for chunk, point, length in zip(chunks, points, lengths or [0] * len(chunks), strict=True):
        tokens = int(chunk.metadata.get("token_count", 0))
        rows.add("chunk", doc.doc_id, point, chunk.embed_text, length, tokens)


class _Embedder:
    """Ray actor: one model, loaded once; adds each chunk row's dense vector (float32 bytes)."""

    def __init__(self, settings: Settings, model: list[Any], threads: int | None) -> None:
        self.settings = settings
        self.shipped = model
        self.threads = threads
        self.model: Any = None  # loaded at the first chunk: a run over unchanged documents loads no weights

    def _model(self) -> Any:
        if self.model is None:
            import ray

            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            if self.shipped:
                self.model = ray.get(self.shipped[0])
            else:
                from legalrag.plugin.components import load_dense

                self.model = load_dense(self.settings)
        return self.model

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        kinds = list(batch["kind"])
        dense: list[bytes] = [b""] * len(kinds)
        at = [i for i, kind in enumerate(kinds) if kind == "chunk"]
        began = time.perf_counter()
        if at:
            model = self._model()
            began = time.perf_counter()  # the encoder's time, as the local engine counts it
            texts = [str(batch["text"][i]) for i in at]
            if getattr(model, "takes_token_lengths", False):
                lengths = [int(batch["length"][i]) for i in at]
                vectors = model.encode_documents(texts, token_lengths=lengths)
            else:
                vectors = model.encode_documents(texts)
            vectors = np.asarray(vectors, dtype=np.float32)
            for row, i in enumerate(at):
                dense[i] = vectors[row].tobytes()
            release_free_memory()
        seconds = [0.0] * len(kinds)
        if kinds:
            seconds[0] = time.perf_counter() - began
        return {**batch, "dense": dense, "seconds": seconds}


@dataclass(slots=True)
class _Open:
    """A document being written: its head (once it arrived) and the ids of its chunks stored so far."""

    head: _Head | None = None
    sent: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)


class _Driver:
    """Consumes the pipeline's rows in the driver: upserts, retires old versions, counts.

    Upserts to a server go out several at a time (``Store.parallel_writes``); a chunk counts as stored,
    and its document can be finished, only once the upsert carrying it has returned.
    """

    def __init__(self, ingestor: Ingestor, stats: IngestStats, seen: set[str], read: set[str]) -> None:
        self.ingestor = ingestor
        self.stats = stats
        self.seen = seen
        self.read = read
        self.sources: set[str] = set()
        self.open: dict[str, _Open] = {}
        self.done: set[str] = set()
        self.parallel = max(1, int(getattr(ingestor.store, "parallel_writes", 1)))
        self.pool = ThreadPoolExecutor(self.parallel, "legalrag-upsert") if self.parallel > 1 else None
        self.flying: deque[tuple[Future[None], list[tuple[str, str]]]] = deque()

    def take(self, batch: dict[str, Any]) -> None:
        points: list[PointRecord] = []
        carried: list[tuple[str, str]] = []  # (doc_id, point id) of each point
        for kind, doc_id, data, dense, tokens in zip(
            batch["kind"], batch["doc_id"], batch["data"], batch["dense"], batch["tokens"], strict=True
        ):
            record = pickle.loads(data)
            if kind == "failed":
                self._count_file(record.source)
                self.stats.failed.append(record)
            elif kind == "doc":
                self._head(record)
                self._maybe_finish(record.doc_id)
            else:
                if doc_id in self.done:
                    continue
                state = self.open.setdefault(str(doc_id), _Open())
                if record.id in state.sent:
                    continue  # a retried batch delivered it twice: stored once, counted once
                state.sent.add(record.id)
                vector = np.frombuffer(dense, dtype=np.float32).tolist()
                points.append(PointRecord(record.id, record.payload, vector, record.sparse))
                carried.append((str(doc_id), record.id))
                self.stats.tokens += int(tokens)
        self.stats.embed_seconds += float(np.sum(batch["seconds"]))
        if points:
            self._send(points, carried)

    def _send(self, points: list[PointRecord], carried: list[tuple[str, str]]) -> None:
        store, collection = self.ingestor.store, self.ingestor.collection
        if self.pool is None:
            store.upsert(collection, points)
            self._stored(len(points), carried)
            return
        self.flying.append((self.pool.submit(store.upsert, collection, points), carried))
        while len(self.flying) >= self.parallel:
            self._land()

    def _land(self) -> None:
        future, carried = self.flying.popleft()
        future.result()  # an upsert that failed after its retries fails the run
        self._stored(len(carried), carried)

    def _stored(self, count: int, carried: list[tuple[str, str]]) -> None:
        self.stats.upserted += count
        for doc_id, point in carried:
            state = self.open.get(doc_id)
            if state is not None:
                state.stored.add(point)
        for doc_id in dict.fromkeys(doc for doc, _ in carried):
            self._maybe_finish(doc_id)

    def drain(self) -> None:
        """Wait for every upsert in flight (finishing the documents they complete)."""
        while self.flying:
            self._land()
        if self.pool is not None:
            self.pool.shutdown()

    def _count_file(self, source: str) -> None:
        if source not in self.sources:
            self.sources.add(source)
            self.stats.files += 1

    def _head(self, head: _Head) -> None:
        state = self.open.get(head.doc_id) if head.doc_id not in self.done else None
        if head.doc_id in self.done or (state is not None and state.head is not None):
            reason = f"doc_id {head.doc_id!r} was already given in this run: skipped"
            self.stats.failed.append(DocumentFailure(head.source, reason))
            return
        if state is None:
            state = self.open[head.doc_id] = _Open()
        state.head = head
        stats = self.stats
        self._count_file(head.source)
        self.seen.add(head.doc_id)
        self.read.add(head.source)
        stats.documents += 1
        stats.chunks += head.chunks
        stats.warnings.extend(DocumentFailure(head.source, w) for w in head.warnings)
        if head.status in ("unchanged", "stale_only"):
            stats.skipped += head.chunks
            if head.status == "unchanged":
                stats.unchanged += 1
            else:
                self.ingestor.retire(head.doc_id, head.version)
                stats.updated += 1
            del self.open[head.doc_id]
            self.done.add(head.doc_id)

    def _maybe_finish(self, doc_id: str) -> None:
        state = self.open.get(doc_id)
        if state is None or state.head is None or len(state.stored) < state.head.chunks:
            return
        self.ingestor.retire(doc_id, state.head.version)  # every chunk of the new version is stored
        if state.head.status == "added":
            self.stats.added += 1
        else:
            self.stats.updated += 1
        del self.open[doc_id]
        self.done.add(doc_id)

    def unfinished(self) -> list[str]:
        return sorted(self.open)


@dataclass(frozen=True, slots=True)
class RayCluster:
    """A Ray cluster joined for one ingest, and how its embedding workers are laid out on it."""

    ray: Any
    workers: int
    #: each worker's Ray resources (``num_cpus``, ``num_gpus``)
    resources: dict[str, Any]
    #: torch threads per CPU worker (None: leave torch's default, on GPUs)
    threads: int | None


@contextlib.contextmanager
def joined(options: IngestOptions) -> Iterator[RayCluster]:
    """Join ``options.ray_address`` (default: start a local cluster) for the ingest, and lay the workers out.

    Runs before the store opens or a model loads, so a cluster that cannot hold the workers asked for
    fails at once. A cluster started here is shut down on the way out; one already joined is left as is.

    Raises:
        MissingExtraError: Ray is not installed.
        InputError: the workers asked for need more GPUs or CPUs than the cluster has.
    """
    ray = require_ray()
    started = False
    if not ray.is_initialized():
        ray.init(
            address=options.ray_address,
            include_dashboard=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
        )
        started = True
    try:
        workers, resources, threads = _layout(ray.cluster_resources(), options)
        yield RayCluster(ray, workers, resources, threads)
    finally:
        if started:
            ray.shutdown()


def _layout(cluster: dict[str, float], options: IngestOptions) -> tuple[int, dict[str, Any], int | None]:
    """Workers, each one's Ray resources, and its torch threads (None: leave them) for this cluster."""
    cpus, gpus = float(cluster.get("CPU", 1)), float(cluster.get("GPU", 0))
    per_gpu = options.gpus_per_worker if options.gpus_per_worker is not None else (1.0 if gpus else 0.0)
    if per_gpu > 0:
        workers = options.workers or max(1, int(gpus // per_gpu))
        if per_gpu * workers > gpus:
            raise InputError(
                f"{workers} workers × {per_gpu:g} GPUs need {per_gpu * workers:g} GPUs, but the Ray cluster has "
                f"{gpus:g}: ask for fewer (--workers, --gpus-per-worker), or --gpus-per-worker 0 to embed on CPUs"
            )
        return workers, {"num_gpus": per_gpu, "num_cpus": 1}, None
    workers = options.workers or 1
    share = (cpus - TASK_CPUS) / workers
    if share < 0.25:
        raise InputError(
            f"{workers} CPU workers need at least {workers * 0.25 + TASK_CPUS:g} CPUs; the Ray cluster has {cpus:g}"
        )
    return workers, {"num_cpus": share}, max(1, int(cpus // workers))


def run_on_ray(
    cluster: RayCluster,
    ingestor: Ingestor,
    files: Sequence[tuple[Path, str] | DocumentFailure],
    options: IngestOptions,
    *,
    settings: Settings,
    tokenizer: TokenizerInfo,
    dense: Any | None,
    seen: set[str],
    read: set[str],
    on_progress: Callable[[IngestStats], None] | None = None,
    stop: threading.Event | None = None,
) -> IngestStats:
    """Ingest ``files`` (:meth:`IngestOptions.plan`) into the ingestor's collection on ``cluster`` (:func:`joined`).

    ``tokenizer``: the model's tokenizer and budget, as the ingestor's chunker uses them (the tasks chunk
    and count tokens with it); ``dense``: a model object to ship to the workers (None: each worker loads
    ``settings.model``); ``seen`` and ``read`` collect the doc_ids and files read, for ``sync``.

    Raises:
        IngestError: the Ray job failed; what is stored stays consistent, and a re-run finishes it.
    """
    with ingestor.loading():  # an initial load defers indexing, as one process does
        ray = cluster.ray
        stats = IngestStats()
        began = time.perf_counter()
        driver = _Driver(ingestor, stats, seen, read)
        listed = []
        for item in files:
            if isinstance(item, DocumentFailure):
                driver._count_file(item.source)
                stats.failed.append(item)
            else:
                listed.append({"path": str(item[0]), "rel": item[1]})
        if not listed:
            stats.seconds = time.perf_counter() - began
            return stats
        plan = ray.put(RayPlan.of(ingestor, tokenizer.tokenizer, tokenizer.max_seq_length, options.max_file_mb))
        shipped = [ray.put(dense)] if dense is not None else []
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        per_batch = _embed_batch(options.chunks_per_batch, cluster)
        if per_batch < options.chunks_per_batch:
            # a worker embeds a whole block in one task: blocks of about one batch spread a large file over them
            context.target_max_block_size = per_batch * ROW_BYTES
        dataset = (
            ray.data.from_items(listed, override_num_blocks=max(1, min(len(listed) // FILES_PER_TASK, 1024)))
            .map_batches(_load_files, fn_kwargs={"plan": [plan]}, batch_size=FILES_PER_TASK, num_cpus=TASK_CPUS)
            .map_batches(
                _Embedder,
                fn_constructor_kwargs={"settings": settings, "model": shipped, "threads": cluster.threads},
                batch_size=per_batch,
                # one batch running and one waiting per worker: none idles between batches, and at the end
                # no worker sits on a queue of batches while the others have nothing left
                compute=ray.data.ActorPoolStrategy(size=cluster.workers, max_tasks_in_flight_per_actor=2),
                **cluster.resources,
            )
        )
        try:
            try:
                for batch in _batches(dataset):
                    driver.take(batch)
                    if on_progress is not None:
                        on_progress(stats)
                    if stop is not None and stop.is_set():
                        stats.interrupted = True
                        break
            finally:
                driver.drain()
        except Exception as exc:
            if isinstance(exc, (IngestError, InputError)) or not _from_ray(exc):
                raise
            raise IngestError(
                f"the Ray job failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "every document stored so far is complete, old versions were kept where new ones were not: "
                "re-run the same command to finish"
            ) from exc
        if not stats.interrupted and driver.unfinished():
            missing = driver.unfinished()
            raise IngestError(f"{len(missing)} documents did not arrive whole (first: {missing[0]}): re-run to finish")
        stats.seconds = time.perf_counter() - began
        return stats


def _embed_batch(chunks_per_batch: int, cluster: RayCluster) -> int:
    """Chunks per batch sent to a worker: ``chunks_per_batch`` on GPUs and for a single worker (the encoder
    batches best over many texts); for several CPU workers, where a batch of 256 takes tens of seconds, at
    most 64, so the work spreads evenly over them to the end."""
    if "num_gpus" in cluster.resources or cluster.workers == 1:
        return chunks_per_batch
    return max(8, min(chunks_per_batch, CPU_BATCH))


def _batches(dataset: Any) -> Iterator[dict[str, Any]]:
    with contextlib.suppress(GeneratorExit):
        yield from dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2)


def _from_ray(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("ray") or any(
        type(e).__module__.startswith("ray") for e in (exc.__cause__, exc.__context__) if e is not None
    )
