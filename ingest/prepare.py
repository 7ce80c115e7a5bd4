"""Chunking and BM25 analysis in a second process while this one loads the embedding model.

Loading the model is imports (torch, transformers, sentence-transformers) on one core, holding the GIL;
the other core idles. The pipeline's other work, chunking and BM25 analysis (kiwipiepy's model load
included), ran beside the encoder, which keeps both cores busy, so on 2 cores it added its CPU time to
the run. :class:`PrepareProcess` starts a worker (``python -m legalrag.ingest.prepare``: a fresh
interpreter that imports neither torch nor transformers, so it starts in ~0.1 s; no fork of a threaded
process, no re-import of the caller's ``__main__``). The worker loads the BM25 analyser for the first
document's language while the parent loads the tokenizer, then chunks and analyses the documents fed to
it into a bounded buffer ahead of the pipeline, with the parent's own tokenizer (its ``tokenizers``
backend, sent as JSON) and chunk budget. After the run it answers the BM25 side of choosing the
collection's default search, so the parent never loads the analyser at all.

The pipeline takes each document's chunks and vectors from the buffer (:meth:`PrepareProcess.take`) and
chunks in process whatever the worker did not deliver: a worker that cannot start, dies, falls silent or
was set up differently from the pipeline (its chunking parameters and BM25 configuration are checked
against the pipeline's) changes the speed, never the result.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from legalrag.ingest._pipeline_records import PreparedChunks
from legalrag.plugin.schema import SourceDocument, SparseVector

__all__ = ["PrepareProcess", "Preparer", "RemoteQueries", "chunking_of"]

log = logging.getLogger(__name__)

#: chunks held ready ahead of the pipeline while the model loads (the worker waits beyond that): ~10 KB
#: each with their sparse vectors, and more than the worker prepares meanwhile (~2,000 on 2 cores)
MAX_AHEAD_CHUNKS = 4096
#: ... and once the pipeline takes them: it needs only the next batches, and the parent's memory then
#: holds the model too (``bench.speed.ingest --scale-check`` measures the memory it saves)
RUNNING_AHEAD_CHUNKS = 512
#: documents read ahead of the pipeline
MAX_AHEAD_ITEMS = 1024
#: seconds without word from the worker before the pipeline stops waiting and chunks in process
PATIENCE = 60.0


def chunking_of(chunker: Any) -> dict[str, Any]:
    """The parameters a chunker cuts with (equal ones cut equal chunks with the same tokenizer)."""
    return {
        "max_tokens": chunker.max_tokens,
        "overlap_tokens": chunker.overlap_tokens,
        "contextual_header": chunker.contextual_header,
    }


class PrepareProcess:
    """A worker process that chunks and BM25-analyses ``documents`` ahead of the pipeline.

    ``sparse``: the BM25 configuration the pipeline will use (None: chunks only). Iterate :meth:`items`
    instead of ``documents`` (the same items, in order); send the chunker (:meth:`start_chunking`) as
    soon as its tokenizer is loaded; :meth:`accept` the worker once the pipeline's chunker exists; ask
    :meth:`take` for each document's chunks; :meth:`close` at the end.

    Example:
        >>> with PrepareProcess(bm25.config(), documents) as ahead:  # doctest: +SKIP
        ...     ahead.start_chunking(chunking_of(chunker), tokenizer.backend_tokenizer.to_str(), info.max_seq_length)
        ...     model = load_dense(settings)
        ...     if ahead.accept(chunking_of(chunker), bm25.config(), model.max_seq_length):
        ...         ingestor.run(ahead.items(), ready=ahead.take)
    """

    def __init__(
        self,
        sparse: dict[str, Any] | None,
        documents: Iterable[Any],
        *,
        max_ahead_chunks: int = MAX_AHEAD_CHUNKS,
    ) -> None:
        self._sparse = sparse
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._ready: dict[int, PreparedChunks | None] = {}  # seq -> result (None: the worker failed on it)
        self._held = 0  # chunks in _ready
        self._limit = max_ahead_chunks  # lowered to RUNNING_AHEAD_CHUNKS at the first take
        self._wanted = -1  # the seq the pipeline waits for
        self._answers: dict[int, SparseVector] = {}  # query id -> vector
        self._seqs: dict[int, tuple[int, Any]] = {}  # id(document) -> (seq, document)
        self._alive = True
        self._accepted = True
        self._chunking: dict[str, Any] | None = None
        self._queries = itertools.count()
        self._order: queue.Queue[Any] = queue.Queue(maxsize=MAX_AHEAD_ITEMS)
        self._closed = threading.Event()  # the run is over: the feeder stops reading documents
        self._process = subprocess.Popen(
            worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},  # the parent's encoder has the cores
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to: IO[bytes] = self._process.stdin
        self._from: IO[bytes] = self._process.stdout
        try:
            self._send(("sparse", sparse))
        except BaseException:
            self._stop_worker()
            raise
        self._feeder = threading.Thread(target=self._feed, args=(documents,), name="legalrag-prepare-feed", daemon=True)
        self._receiver = threading.Thread(target=self._receive, name="legalrag-prepare-receive", daemon=True)
        self._feeder.start()
        self._receiver.start()

    # -- the parent's side ----------------------------------------------------------------------
    def items(self) -> Iterator[Any]:
        """The documents (and load failures) in their order, as the feeder read them."""
        while True:
            item = self._order.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item

    def start_chunking(self, chunking: dict[str, Any], tokenizer_json: str, max_seq_length: int) -> None:
        """Let the worker chunk with these parameters and this ``tokenizers`` backend (its JSON), and
        count each chunk's tokens as the encoder will (special tokens included, at most ``max_seq_length``)."""
        self._chunking = {**chunking, "max_seq_length": max_seq_length}
        try:
            self._send(("chunker", dict(chunking), tokenizer_json, max_seq_length))
        except (OSError, ValueError):
            self._lost()

    def accept(self, chunking: dict[str, Any], sparse: dict[str, Any] | None, max_seq_length: int) -> bool:
        """Use the worker's results only if it chunks with ``chunking``, analyses with ``sparse`` and counts
        tokens up to the encoder's ``max_seq_length``."""
        expected = {**chunking, "max_seq_length": max_seq_length}
        with self._cond:
            self._accepted = self._alive and self._chunking == expected and self._sparse == sparse
            if not self._accepted and self._alive:
                log.warning(
                    "prepare worker set up as %s, the pipeline as %s: chunking in process", self._chunking, expected
                )
            self._cond.notify_all()
        if not self._accepted:
            self._stop_worker()
        return self._accepted

    def take(self, document: SourceDocument) -> PreparedChunks | None:
        """``document``'s chunks, sparse vectors and token lengths from the worker, or None: chunk it here."""
        entry = self._seqs.pop(id(document), None)
        if entry is None or entry[1] is not document:
            return None
        seq = entry[0]
        with self._cond:
            self._limit = min(self._limit, RUNNING_AHEAD_CHUNKS)
            self._wanted = seq  # the receiver takes this one in even when the buffer is full
            for stale in [s for s in self._ready if s < seq]:  # never to be taken: the pipeline goes in order
                self._pop(stale)
            self._cond.notify_all()  # the receiver may be waiting for room
            self._wait(lambda: not self._accepted or seq in self._ready)
            return self._pop(seq) if self._accepted else None

    def _pop(self, seq: int) -> PreparedChunks | None:
        """Remove ``seq``'s result from the buffer (holding ``_cond``) and make room for the receiver."""
        result = self._ready.pop(seq, None)
        if result is not None:
            self._held -= len(result[0])
            self._cond.notify_all()
        return result

    def queries(self, local: Any) -> RemoteQueries:
        """A BM25 query encoder answered by the worker (``local``, the same encoder, when it cannot)."""
        return RemoteQueries(self, local)

    def _query(self, text: str, language: str | None) -> SparseVector | None:
        with self._cond:
            usable = self._alive and self._accepted and self._sparse is not None
        if not usable:
            return None
        qid = next(self._queries)
        try:
            self._send(("query", qid, text, language))
        except (OSError, ValueError):
            self._lost()
            return None
        with self._cond:
            self._wait(lambda: qid in self._answers)
            return self._answers.pop(qid, None)

    def close(self) -> None:
        """End the worker and stop reading documents (the run is over)."""
        self._closed.set()
        self._stop_worker()

    def __enter__(self) -> PrepareProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _stop_worker(self) -> None:
        """The worker holds nothing to save: it is killed, and the pipeline chunks what is left itself."""
        with self._cond:
            self._alive = False
            self._ready.clear()
            self._held = 0
            self._cond.notify_all()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._to, self._from):
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    def _wait(self, done: Callable[[], bool]) -> None:
        """Wait (holding ``_cond``) until ``done()`` or the worker is gone; give up on a silent worker."""
        while self._alive and not done():
            if not self._cond.wait(timeout=PATIENCE) and not done():
                log.warning("prepare worker silent for %.0f s: chunking in process", PATIENCE)
                self._alive = False

    def _send(self, message: Any) -> None:
        self._write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _write(self, data: bytes) -> None:
        with self._send_lock:  # whole messages only: a failed pickle never leaves half of one in the pipe
            self._to.write(data)
            self._to.flush()

    def _feed(self, documents: Iterable[Any]) -> None:
        seq = 0
        try:
            for item in documents:
                if isinstance(item, SourceDocument) and self._alive:
                    try:
                        data = pickle.dumps(("doc", seq, item), protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception:  # e.g. metadata pickle refuses: this one is chunked in process
                        data = None
                    if data is not None:
                        self._seqs[id(item)] = (seq, item)
                        seq += 1
                        try:
                            self._write(data)
                        except (OSError, ValueError):
                            self._seqs.pop(id(item), None)
                            self._lost()
                if not self._put(item):
                    return
        except BaseException as exc:  # a loader error reaches the pipeline, as without the worker
            self._put(_Raised(exc))
        finally:
            self._put(_END)
            with contextlib.suppress(OSError, ValueError):
                self._send(("end",))

    def _put(self, item: Any) -> bool:
        while not self._closed.is_set():
            with contextlib.suppress(queue.Full):
                self._order.put(item, timeout=0.2)
                return True
        return False

    def _receive(self) -> None:
        try:
            while True:
                message = pickle.load(self._from)
                with self._cond:
                    if message[0] == "doc":
                        _, seq, result = message
                        while self._alive and self._held >= self._limit and self._ready and seq > self._wanted:
                            self._cond.wait()  # the pipeline takes (and notifies) in order
                        if not self._alive:
                            return
                        if seq < self._wanted:
                            continue  # the pipeline is past it
                        self._ready[seq] = result
                        self._held += len(result[0]) if result is not None else 0
                    elif message[0] == "query":
                        self._answers[message[1]] = message[2]
                    self._cond.notify_all()
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            self._lost()

    def _lost(self) -> None:
        with self._cond:
            if self._alive and not self._closed.is_set():
                log.debug("prepare worker gone: chunking in process from here")
            self._alive = False
            self._cond.notify_all()


class RemoteQueries:
    """``encode_query`` of a BM25 encoder, computed by the worker (which has the analyser loaded)."""

    def __init__(self, ahead: PrepareProcess, local: Any) -> None:
        self._ahead = ahead
        self._local = local

    def encode_query(self, text: str, language: str | None = None) -> SparseVector:
        vector = self._ahead._query(text, language)
        return vector if vector is not None else self._local.encode_query(text, language)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._local, name)


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


# -- the worker's side ----------------------------------------------------------------------------
class Preparer:
    """Chunks and BM25-analyses documents exactly as the pipeline would, from what can cross a process
    boundary: the chunking parameters, the tokenizer's ``tokenizers`` backend as JSON, the encoder's
    ``max_seq_length`` and the BM25 configuration. Used by the worker process here and by the Ray
    engine's tasks (:mod:`legalrag.ingest.ray_engine`)."""

    def __init__(
        self, chunking: dict[str, Any], tokenizer_json: str, max_seq_length: int, sparse: dict[str, Any] | None
    ) -> None:
        from tokenizers import Tokenizer

        from legalrag.ingest.chunking import Chunker
        from legalrag.plugin.models.tokens import BackendTokenCounter
        from legalrag.plugin.text.bm25 import BM25Encoder

        self.backend = Tokenizer.from_str(tokenizer_json)
        self.chunker = Chunker(BackendTokenCounter(self.backend), **chunking)  # which turns truncation/padding off
        self.limit = max_seq_length
        self.bm25 = BM25Encoder.from_config(sparse) if sparse else None

    def prepare(self, document: SourceDocument) -> PreparedChunks:
        """``document``'s chunks, their BM25 vectors (None without BM25) and their token lengths."""
        chunks = self.chunker.chunk(document)
        texts = [c.embed_text for c in chunks]
        vectors = None
        if self.bm25 is not None:
            vectors = self.bm25.encode_documents(texts, [c.metadata.get("language") for c in chunks])
        # as the encoder counts them (DenseEncoder._token_lengths): special tokens in, truncated at its limit
        encoded = self.backend.encode_batch(texts, add_special_tokens=True) if texts else []
        return chunks, vectors, [min(len(e), self.limit) for e in encoded]


def _serve(inbox: IO[bytes], outbox: IO[bytes]) -> None:
    from legalrag.plugin.text.bm25 import BM25Encoder

    def send(message: Any) -> None:
        pickle.dump(message, outbox, protocol=pickle.HIGHEST_PROTOCOL)
        outbox.flush()

    def prepare(seq: int, document: SourceDocument) -> None:
        try:
            send(("doc", seq, preparer.prepare(document)))  # type: ignore[union-attr]
        except Exception:  # the pipeline chunks this one itself and reports what fails there
            send(("doc", seq, None))

    _, sparse = pickle.load(inbox)
    bm25 = BM25Encoder.from_config(sparse) if sparse else None
    preparer: Preparer | None = None
    waiting: list[tuple[int, SourceDocument]] = []  # documents that came before the chunker
    warmed = bm25 is None
    while True:
        message = pickle.load(inbox)
        kind = message[0]
        if kind == "doc":
            _, seq, document = message
            if not warmed:  # the analyser for the first document's language, while the parent loads
                warmed = True
                with contextlib.suppress(Exception):
                    bm25.tokenize(document.text[:2000], document.language)  # type: ignore[union-attr]
            if preparer is None:
                waiting.append((seq, document))
            else:
                prepare(seq, document)
        elif kind == "chunker":
            _, chunking, tokenizer_json, limit = message
            preparer = Preparer(chunking, tokenizer_json, limit, None)
            preparer.bm25 = bm25  # the one already warmed
            for seq, document in waiting:
                prepare(seq, document)
            waiting.clear()
        elif kind == "query" and bm25 is not None:
            _, qid, text, language = message
            send(("query", qid, bm25.encode_query(text, language)))


def worker_command() -> list[str]:
    """How the worker is started: an isolated interpreter (``-I``: neither the current folder nor the
    ``PYTHON*`` variables on its path) given the parent's own import path less the current folder, so a
    ``queue.py`` or ``tokenizers.py`` in the folder being ingested (or run from) is never imported."""
    here = os.path.abspath(os.getcwd())
    path = [entry for entry in sys.path if entry and os.path.abspath(entry) != here]
    boot = f"import sys; sys.path[:0] = {path!r}; from legalrag.ingest.prepare import main; main()"
    return [sys.executable, "-I", "-c", boot]


def main() -> None:
    """The worker: pickled messages in on stdin, out on stdout (nothing else may print there)."""
    import warnings

    warnings.simplefilter("ignore")  # the parent warns about the same settings once
    inbox, outbox = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print goes to stderr, not into the stream
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        _serve(inbox, outbox)


if __name__ == "__main__":
    main()
