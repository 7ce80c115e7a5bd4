"""The searcher: one query in, ranked hits out, in dense, sparse or hybrid mode.

The LangChain retriever and vector store are thin adapters over this class.

Every hit carries its raw ``score`` and a 0–1 ``relevance`` (:mod:`legalrag.plugin.search.relevance`);
``score_threshold`` compares against the relevance unless ``SearchSettings.threshold_on`` is ``score``.

Raw score meaning:
- ``dense``: the model's similarity (cosine in [-1, 1], or dot product for dot models);
- ``sparse``: the BM25 score (sum over query terms of IDF × saturated term frequency);
- ``hybrid``: the fused score — DBSF (the default): the sum over the two lists of each score
  normalised by its list's mean ± 3 standard deviations; RRF: the sum over the lists of
  ``1 / (rank / weight + rrf_k - 1)`` (Qdrant's weighted RRF).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.runnables.config import run_in_executor
from qdrant_client import models

from legalrag.plugin.errors import InputError, StoreError
from legalrag.plugin.models.loading import as_dense_model
from legalrag.plugin.models.protocol import DenseModel
from legalrag.plugin.schema import TENANT_KEY, without_surrogates
from legalrag.plugin.search.diagnose import FilterDoctor, check_threshold, score_ceiling
from legalrag.plugin.search.filters import and_filters, to_qdrant_filter
from legalrag.plugin.search.relevance import Scale, with_relevance
from legalrag.plugin.settings import SearchSettings
from legalrag.plugin.store.base import Hit, SearchRequest, Store

if TYPE_CHECKING:
    from legalrag.plugin.search.rerank import Reranker
    from legalrag.plugin.store.client.aio import AsyncStore
    from legalrag.plugin.text.bm25 import BM25Encoder

__all__ = ["MAX_K", "Mode", "SearchConfig", "Searcher"]

Mode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "sparse", "hybrid")
MAX_K = 10_000


#: the one search configuration type (fusion, depth, exactness); also ``Settings.search``
SearchConfig = SearchSettings


class Searcher:
    """Search one collection; ``astore`` (the same collection through an async client) makes
    :meth:`asearch` truly async.

    ``dense`` is a :class:`~legalrag.plugin.models.protocol.DenseModel` (a LangChain ``Embeddings`` is
    adapted to one); ``None`` allows sparse search only.

    Example:
        >>> searcher = Searcher(store, "laws", encoder, bm25)  # doctest: +SKIP
        >>> hits = searcher.search("개인정보 수집 동의", k=5, filter={"title": "개인정보 보호법"})  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        collection: str,
        dense: DenseModel | Any | None,
        sparse: BM25Encoder | None = None,
        *,
        config: SearchConfig | None = None,
        reranker: Reranker | None = None,
        tenant: str | None = None,
        tenant_key: str = TENANT_KEY,
        astore: AsyncStore | None = None,
        strict_filters: bool = False,
        dense_loader: Callable[[], DenseModel] | None = None,
    ) -> None:
        self.store = store
        self.astore = astore
        self.collection = collection
        self.dense: DenseModel | None = as_dense_model(dense) if dense is not None else None
        self.sparse = sparse
        self.config = config or SearchConfig()
        self.reranker = reranker
        self.tenant = tenant
        self.tenant_key = tenant_key
        #: checks filters, thresholds and groupings against what the collection holds
        self.doctor = FilterDoctor(store, collection, strict=strict_filters)
        self._distance: str | None = None
        #: loads the dense model the first time a query needs it (a searcher opened in sparse mode)
        self._dense_loader = dense_loader
        self._dense_lock = threading.Lock()

    def _ensure_dense(self) -> bool:
        if self.dense is None and self._dense_loader is not None:
            with self._dense_lock:
                if self.dense is None:
                    self.dense = as_dense_model(self._dense_loader())
        return self.dense is not None

    def resolve_mode(self, mode: str | None = None) -> Mode:
        """The mode a search with ``mode`` (``None``: the configured one) runs in.

        Raises:
            InputError: the mode is unknown, or needs a part this searcher lacks.
        """
        chosen = mode or self.config.mode
        if chosen not in MODES:
            raise InputError(f"unknown search mode {chosen!r}: use dense, sparse or hybrid")
        if chosen in ("sparse", "hybrid") and self.sparse is None:
            if mode is None and (self.dense is not None or self._dense_loader is not None):
                self._ensure_dense()
                return "dense"  # collection without sparse vectors: default quietly to dense
            raise InputError(
                f"mode {chosen!r} needs sparse vectors, but collection {self.collection!r} has none: "
                "search with mode='dense', or re-ingest the collection with sparse vectors"
            )
        if chosen in ("dense", "hybrid") and not self._ensure_dense():
            raise InputError(
                f"mode {chosen!r} needs a dense model, but this searcher has none: pass dense= "
                "(open_searcher loads the collection's own model), or search with mode='sparse'"
            )
        return chosen  # type: ignore[return-value]

    @property
    def embeddings(self) -> DenseModel | None:
        """The dense model (the older name of :attr:`dense`)."""
        return self.dense

    def filter_for(self, filter: Mapping[str, Any] | models.Filter | None) -> models.Filter | None:
        """The caller's filter, always ANDed with the tenant condition when bound to a tenant."""
        user = to_qdrant_filter(filter)
        if self.tenant is None:
            return user
        tenant = models.Filter(
            must=[models.FieldCondition(key=self.tenant_key, match=models.MatchValue(value=self.tenant))]
        )
        return and_filters(tenant, user)

    def request(
        self,
        query: str,
        k: int,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | models.Filter | None = None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
        dense_vector: Sequence[float] | None = None,
    ) -> SearchRequest:
        """Build the store request for ``query`` (encoding it as the mode needs)."""
        _check_query(query, k)
        query = without_surrogates(query)  # undecodable bytes from a command line or a form
        chosen = self.resolve_mode(mode)
        score_threshold = self.raw_threshold(score_threshold, chosen)
        dense = None
        sparse = None
        if chosen in ("dense", "hybrid"):
            dense = dense_vector if dense_vector is not None else self.encode_query(query)
        if chosen in ("sparse", "hybrid"):
            sparse = self.sparse.encode_query(query)  # type: ignore[union-attr]
        cfg = self.config
        return SearchRequest(
            # a few more than asked, so a tie at the k-th place is seen whole (see _tie_depth); the fused
            # candidates stay those of k, so asking for more never changes the scores of the first k
            limit=min(MAX_K, k + _TIE_MARGIN),
            dense=dense,
            sparse=sparse,
            fusion=cfg.fusion,
            rrf_k=cfg.rrf_k,
            weights=cfg.weights,
            prefetch_limit=cfg.prefetch_limit or max(4 * k, 50),
            filter=self.filter_for(filter),
            score_threshold=score_threshold,
            exact=cfg.exact,
            hnsw_ef=cfg.hnsw_ef,
            with_vectors=with_vectors,
            rescore=cfg.rescore,
            oversampling=cfg.oversampling,
        )

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | models.Filter | None = None,
        score_threshold: float | None = None,
        group_by: str | None = None,
    ) -> list[Hit]:
        """Top ``k`` hits; with ``group_by`` ("article", "doc_id", ...) the best chunk per group.

        Deterministic: hits with equal scores are ordered by id, and the search goes deep enough that
        a tie is never cut at ``k`` in an order the engine chose (RRF ties often). With a reranker, its
        ``top_n`` candidates are the hits this search returns without one, and hits it scores the same
        keep that order.
        """
        _check_query(query, k)  # k itself, not only the (clamped) depth fetched for grouping/reranking
        query = without_surrogates(query)  # undecodable bytes from a command line or a form
        self.doctor.before(filter, group_by)
        depth = self._depth(k, group_by)
        request = self.request(query, depth, mode=mode, filter=filter, score_threshold=score_threshold)
        hits = self.store.query(self.collection, request)
        while (deeper := _tie_depth(request, hits, depth)) is not None:
            request = replace(request, limit=deeper)
            hits = self.store.query(self.collection, request)
        hits = self._relevant(request, hits, score_threshold)
        reranker = self.reranker if _matchable(request) else None
        if reranker is not None:
            hits = with_relevance(reranker.rerank(query, _ties_by_id(hits)), Scale("reranked", 1.0))
        found = _finish(request, hits, k, group_by, reranked=reranker is not None)
        self.doctor.after(filter, len(found))
        return found

    async def asearch(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str | None = None,
        filter: Mapping[str, Any] | models.Filter | None = None,
        score_threshold: float | None = None,
        group_by: str | None = None,
    ) -> list[Hit]:
        """:meth:`search` for an event loop: same arguments, same hits.

        With ``astore`` the query is encoded by :meth:`aencode_query` and the store awaited;
        without one, :meth:`search` runs in a worker thread.
        """
        if self.astore is None:
            call = partial(
                self.search,
                query,
                k,
                mode=mode,
                filter=filter,
                score_threshold=score_threshold,
                group_by=group_by,
            )
            return await run_in_executor(None, call)
        _check_query(query, k)  # before encoding: a bad query fails without a model call
        query = without_surrogates(query)  # undecodable bytes from a command line or a form
        known = await self.doctor.afields(self.astore) if self.doctor.needed(filter, group_by) else None
        self.doctor.before(filter, group_by, known)
        if self._distance is None:
            info = await self.astore.get_collection(self.collection)
            dense = info.vectors.get("dense") if info is not None else None
            self._distance = dense.distance if dense is not None else ""
        depth = self._depth(k, group_by)
        dense_vector = None
        if self.resolve_mode(mode) in ("dense", "hybrid"):
            dense_vector = await self.aencode_query(query)
        request = self.request(
            query, depth, mode=mode, filter=filter, score_threshold=score_threshold, dense_vector=dense_vector
        )
        hits = await self.astore.query(self.collection, request)
        while (deeper := _tie_depth(request, hits, depth)) is not None:
            request = replace(request, limit=deeper)
            hits = await self.astore.query(self.collection, request)
        hits = self._relevant(request, hits, score_threshold)
        reranker = self.reranker if _matchable(request) else None
        if reranker is not None:
            reranked = await run_in_executor(None, reranker.rerank, query, _ties_by_id(hits))
            hits = with_relevance(reranked, Scale("reranked", 1.0))
        found = _finish(request, hits, k, group_by, reranked=reranker is not None)
        if not found and isinstance(filter, Mapping):
            self.doctor.after(filter, 0, await self.doctor.afields(self.astore))
        return found

    @property
    def distance(self) -> str:
        """The collection's dense distance (``Cosine``, ...; ``""`` without dense vectors), read once."""
        if self._distance is None:
            info = self.store.get_collection(self.collection)
            dense = info.vectors.get("dense") if info is not None else None
            self._distance = dense.distance if dense is not None else ""
        return self._distance

    def scale(self, mode: str) -> Scale:
        """How ``mode``'s raw scores map to relevance under this searcher's fusion and distance."""
        cfg = self.config
        distance = self.distance if mode == "dense" else None
        return Scale.of(mode, fusion=cfg.fusion, rrf_k=cfg.rrf_k, weights=cfg.weights, distance=distance or None)

    def raw_threshold(self, threshold: Any, mode: str) -> float | None:
        """The raw score Qdrant is given for ``score_threshold`` (``None``: none, or applied after the search)."""
        if threshold is None:
            return None
        if self.config.threshold_on == "score":
            return self.check_threshold(threshold, mode)
        return self.scale(mode).raw_threshold(threshold)

    def _relevant(self, request: SearchRequest, hits: list[Hit], threshold: Any) -> list[Hit]:
        """``hits`` with their relevance, less those under a relevance threshold Qdrant could not be given."""
        mode = "hybrid" if request.dense is not None and request.sparse is not None else "sparse"
        mode = "dense" if request.sparse is None else mode
        _sound(hits)
        scale = self.scale(mode)
        after = threshold if self.config.threshold_on == "relevance" and not scale.before_search else None
        return with_relevance(hits, scale, after)

    def check_threshold(self, threshold: Any, mode: str | None = None) -> float | None:
        """``threshold`` as a raw score, refused when it is not a number or ``mode`` can never score that high."""
        chosen = self.resolve_mode(mode) if mode is None else mode
        if threshold is None:
            return None
        cfg = self.config
        ceiling = score_ceiling(chosen, distance=self.distance, fusion=cfg.fusion, rrf_k=cfg.rrf_k, weights=cfg.weights)
        return check_threshold(threshold, ceiling, chosen)

    def warmup(self, mode: str | None = None) -> Searcher:
        """Load now what the first query in ``mode`` (default: the configured one) would load lazily:
        the dense model and its first pass, the language analysers BM25 uses (Korean's takes seconds),
        the store's copy of the collection. Parts another mode needs load at its first query. Returns self."""
        chosen = self.resolve_mode(mode)
        if chosen != "sparse":
            self.encode_query("warm-up")
        if chosen != "dense" and self.sparse is not None:
            for text in ("개인정보 보호", "Điều khoản bảo vệ", "个人信息保护", "personal data"):
                self.sparse.encode_query(text)
        self.store.count(self.collection)
        return self

    def encode_query(self, query: str) -> list[float]:
        """The query's dense vector (the model's query prompt applied)."""
        return self.dense.encode_queries([query])[0].tolist()  # type: ignore[union-attr,no-any-return]

    async def aencode_query(self, query: str) -> list[float]:
        """:meth:`encode_query` for an event loop: awaited when the model is async (an embeddings API),
        else in a worker thread."""
        native = getattr(self.dense, "aencode_queries", None)
        if native is not None:
            return (await native([query]))[0].tolist()  # type: ignore[no-any-return]
        return await run_in_executor(None, self.encode_query, query)

    def _depth(self, k: int, group_by: str | None) -> int:
        """How many hits to fetch for ``k`` results: more when grouping drops some; a reranker's ``top_n`` at
        least, fetched as a search for that many would (hybrid fusion's candidates depend on the depth asked:
        a reranker re-scores the hits the searcher itself returns)."""
        least = self.reranker.top_n if self.reranker is not None else 0
        if group_by is None:
            return min(MAX_K, max(k, least))
        return min(MAX_K, max(k * 4, least))

    def with_config(self, **changes: Any) -> Searcher:
        """A copy with some :class:`SearchConfig` fields changed (used by tuning)."""
        clone = Searcher.__new__(Searcher)
        clone.__dict__.update(self.__dict__)
        clone.config = self.config.with_changes(**changes) if changes else self.config
        return clone


#: hits fetched beyond the depth asked for, so a score tied at the cut is seen whole
_TIE_MARGIN = 10


def _tie_depth(request: SearchRequest, hits: list[Hit], depth: int) -> int | None:
    """A deeper limit when the hit at ``depth`` ties with the last one fetched (the tie may go on), else None."""
    if len(hits) < request.limit or len(hits) <= depth or request.limit >= MAX_K:
        return None
    if hits[depth - 1].score != hits[-1].score:
        return None
    return min(MAX_K, request.limit * 2)


#: the longest query searched: a question, or a paragraph of one; longer is a document pasted by mistake or
#: an attempt to exhaust the analysers and the encoder
MAX_QUERY_CHARS = 20_000


def _check_query(query: Any, k: Any) -> None:
    if not isinstance(query, str) or not query.strip():
        raise InputError("the query is empty: pass some text to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(
            f"the query has {len(query):,} characters, over {MAX_QUERY_CHARS:,}: search with the question, "
            "not a whole document"
        )
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InputError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")


def _matchable(request: SearchRequest) -> bool:
    """False for a sparse-only query with no term left after tokenisation: nothing can match."""
    return not (request.sparse is not None and request.dense is None and not request.sparse.indices)


def _finish(
    request: SearchRequest, hits: list[Hit], k: int, group_by: str | None, *, reranked: bool = False
) -> list[Hit]:
    """The post-query steps shared by the sync and async paths; ``reranked`` hits keep the reranker's order
    (its ties in the retriever's order, already made deterministic)."""
    if not _matchable(request):
        return []
    _sound(hits)
    if not reranked:
        hits = _ties_by_id(hits)
    if group_by is not None:
        hits = best_per_group(hits, group_by)
    return hits[:k]


#: no mode scores near this (cosine and dot of unit vectors stay within 1, BM25 within thousands, fusions
#: within a few): a score past it, or one that is not a number, comes from damaged stored vectors
IMPOSSIBLE_SCORE = 1e6


def _sound(hits: Sequence[Hit]) -> None:
    """Refuse to return scores only damaged vectors give, instead of answering with them (exit 0)."""
    for hit in hits:
        if not math.isfinite(hit.score) or abs(hit.score) > IMPOSSIBLE_SCORE:
            raise StoreError(
                f"the collection returned an impossible score ({hit.score!r} for point {hit.id}): its stored vectors "
                "are damaged; rebuild it (`legalrag ingest PATH --recreate`) or restore a snapshot"
            )


def _ties_by_id(hits: list[Hit]) -> list[Hit]:
    """Order hits with equal scores by id: engines return ties in arbitrary order (RRF ties often)."""
    out: list[Hit] = []
    start = 0
    for end in range(1, len(hits) + 1):
        if end == len(hits) or hits[end].score != hits[start].score:
            out.extend(sorted(hits[start:end], key=lambda h: h.id) if end - start > 1 else hits[start:end])
            start = end
    return out


def best_per_group(hits: Sequence[Hit], key: str) -> list[Hit]:
    """Keep the first (best) hit of each value of payload ``key``; hits without it stay as they are.

    Articles are grouped within their document (``doc_id`` + ``article``), since two laws both
    have a 제1조.
    """
    seen: set[tuple[Any, ...]] = set()
    out = []
    for hit in hits:
        value = hit.payload.get(key)
        if value is None:
            out.append(hit)
            continue
        if not isinstance(value, (str, int, float, bool)):  # a list or an object: compare its JSON
            value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        group = (hit.payload.get("doc_id"), value) if key != "doc_id" else (value,)
        if group in seen:
            continue
        seen.add(group)
        out.append(hit)
    return out
