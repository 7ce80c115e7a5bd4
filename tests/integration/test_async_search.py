"""The truly-async path: ``AsyncClientStore`` over ``AsyncQdrantClient`` (local mode), ``Searcher.asearch``,
``LegalRetriever.ainvoke`` and ``LegalVectorStore``'s ``a*`` methods give what the sync path gives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from langchain_core.embeddings import DeterministicFakeEmbedding
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from legalrag.plugin.errors import CollectionNotFoundError, InputError, StoreError
from legalrag.plugin.langchain.embeddings import LegalEmbeddings
from legalrag.plugin.langchain.retriever import LegalRetriever
from legalrag.plugin.langchain.vectorstore import LegalVectorStore
from legalrag.plugin.search.searcher import Searcher
from legalrag.plugin.store import ClientStore, CollectionSpec, PointRecord, RetryPolicy, SearchRequest, Store
from legalrag.plugin.store.client.aio import AsyncClientStore, AsyncStore, retrying
from legalrag.plugin.store.retry import RetriesExhausted
from legalrag.plugin.text.bm25 import BM25Encoder
from tests.helpers.legal_corpus import LAWS, async_copy, copy_schema

pytestmark = [
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

QUERIES = ["consent to the processing of personal data", "개인정보 제3자 제공", "分离 个人信息 同意"]


@pytest_asyncio.fixture()
async def alaws(client_laws: Store, points: list[PointRecord]) -> AsyncIterator[AsyncClientStore]:
    """The same collection in an async local-mode client (a second database: filled the same way)."""
    astore = await async_copy(client_laws, LAWS, points)
    yield astore
    await astore.close()


def _ranked(hits: list[Any]) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 4)) for h in hits]


# -- AsyncClientStore ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_async_store_reads_what_the_sync_store_reads(
    client_laws: Store, alaws: AsyncClientStore, points: list[PointRecord]
) -> None:
    assert isinstance(alaws, AsyncStore)
    info, ainfo = client_laws.get_collection(LAWS), await alaws.get_collection(LAWS)
    assert info == ainfo
    assert await alaws.get_collection("missing") is None
    gdpr = models.Filter(must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value="gdpr"))])
    assert await alaws.count(LAWS, gdpr) == client_laws.count(LAWS, gdpr) == 4
    ids = [points[3].id, "00000000-0000-0000-0000-000000000000", points[0].id]
    assert await alaws.retrieve(LAWS, ids, with_vectors=True) == client_laws.retrieve(LAWS, ids, with_vectors=True)
    request = SearchRequest(limit=5, dense=points[5].dense, sparse=points[5].sparse, filter=gdpr)
    assert _ranked(await alaws.query(LAWS, request)) == _ranked(client_laws.query(LAWS, request))


@pytest.mark.asyncio
async def test_async_store_writes_and_deletes(alaws: AsyncClientStore, points: list[PointRecord]) -> None:
    moved = PointRecord(id=points[0].id, payload={"text": "rewritten"}, dense=points[0].dense)
    await alaws.upsert(LAWS, [moved])
    [hit] = await alaws.retrieve(LAWS, [moved.id])
    assert hit.payload == {"text": "rewritten"}
    await alaws.delete_ids(LAWS, [moved.id, points[1].id])
    assert await alaws.retrieve(LAWS, [moved.id, points[1].id]) == []
    assert await alaws.count(LAWS) == len(points) - 2


@pytest.mark.asyncio
async def test_async_store_errors_say_what_to_do(alaws: AsyncClientStore, points: list[PointRecord]) -> None:
    with pytest.raises(CollectionNotFoundError, match=r"'nope' does not exist \(existing: laws\)"):
        await alaws.query("nope", SearchRequest(limit=1, dense=points[0].dense))
    with pytest.raises(InputError, match="dim 384 but got dim 3"):
        await alaws.query(LAWS, SearchRequest(limit=1, dense=[0.1, 0.2, 0.3]))
    with pytest.raises(InputError, match="already exists"):
        await alaws.create_collection(LAWS, CollectionSpec(dense_size=384))


@pytest.mark.asyncio
async def test_retrying_waits_out_transient_failures() -> None:
    now = [0.0]
    policy = RetryPolicy(budget=5.0, clock=lambda: now[0], random=lambda: 0.0)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        now[0] += 1.0
        if calls < 3:
            raise httpx.ConnectError("connection refused")
        return "ok"

    assert await retrying(policy, flaky) == "ok" and calls == 3

    async def down() -> str:
        now[0] += 1.0
        raise httpx.ConnectError("connection refused")

    with pytest.raises(RetriesExhausted):
        await retrying(policy, down)

    async def bad() -> str:
        raise ValueError("malformed")

    with pytest.raises(ValueError, match="malformed"):
        await retrying(policy, bad)


@pytest.mark.asyncio
async def test_unreachable_server_is_a_store_error_naming_it() -> None:
    client = AsyncQdrantClient(url="http://127.0.0.1:9", timeout=1, check_compatibility=False)
    store = AsyncClientStore(client, retry=RetryPolicy(budget=0.0))
    with pytest.raises(StoreError, match=r"Qdrant at http://127\.0\.0\.1:9.*is the server up"):
        await store.count(LAWS)
    await store.close()


# -- Searcher.asearch / LegalRetriever.ainvoke ---------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "arguments",
    [
        {"mode": "hybrid"},
        {"mode": "dense", "score_threshold": 0.3},
        {"mode": "sparse"},
        {"mode": "hybrid", "filter": {"language": "ko"}, "group_by": "article"},
    ],
)
async def test_asearch_equals_search(
    client_laws: Store,
    alaws: AsyncClientStore,
    embeddings: LegalEmbeddings,
    bm25: BM25Encoder,
    arguments: dict[str, Any],
) -> None:
    searcher = Searcher(client_laws, LAWS, embeddings, bm25, astore=alaws)
    for query in QUERIES:
        expected = searcher.search(query, 5, **arguments)
        assert expected
        assert _ranked(await searcher.asearch(query, 5, **arguments)) == _ranked(expected)


@pytest.mark.asyncio
async def test_asearch_without_an_async_store_runs_the_sync_search(
    client_laws: Store, embeddings: LegalEmbeddings, bm25: BM25Encoder
) -> None:
    searcher = Searcher(client_laws, LAWS, embeddings, bm25)
    assert _ranked(await searcher.asearch(QUERIES[0], 4)) == _ranked(searcher.search(QUERIES[0], 4))


@pytest.mark.asyncio
async def test_asearch_checks_input_before_encoding(
    client_laws: Store, alaws: AsyncClientStore, embeddings: LegalEmbeddings, bm25: BM25Encoder
) -> None:
    searcher = Searcher(client_laws, LAWS, embeddings, bm25, astore=alaws)
    with pytest.raises(InputError, match="query is empty"):
        await searcher.asearch("   ")
    with pytest.raises(InputError, match="k must be"):
        await searcher.asearch(QUERIES[0], 0)


@pytest.mark.asyncio
async def test_ainvoke_uses_only_the_async_store(
    alaws: AsyncClientStore, client_laws: Store, embeddings: LegalEmbeddings, bm25: BM25Encoder
) -> None:
    empty = ClientStore(QdrantClient(":memory:"))  # no collection at all: a sync call would fail
    retriever = LegalRetriever(searcher=Searcher(empty, LAWS, embeddings, bm25, astore=alaws), k=3)
    with pytest.raises(CollectionNotFoundError):
        retriever.invoke(QUERIES[0])
    docs = await retriever.ainvoke(QUERIES[0], filter={"doc_id": "gdpr"})
    reference = LegalRetriever(searcher=Searcher(client_laws, LAWS, embeddings, bm25), k=3)
    assert_same_docs(docs, reference.invoke(QUERIES[0], filter={"doc_id": "gdpr"}))


@pytest.mark.asyncio
async def test_concurrent_ainvokes_both_complete(
    client_laws: Store, alaws: AsyncClientStore, embeddings: LegalEmbeddings, bm25: BM25Encoder
) -> None:
    retriever = LegalRetriever(searcher=Searcher(client_laws, LAWS, embeddings, bm25, astore=alaws), k=3)
    first, second = await asyncio.wait_for(
        asyncio.gather(retriever.ainvoke(QUERIES[0]), retriever.ainvoke(QUERIES[1], k=2)), timeout=60
    )
    assert_same_docs(first, retriever.invoke(QUERIES[0]))
    assert_same_docs(second, retriever.invoke(QUERIES[1], k=2))
    batched = await retriever.abatch(QUERIES)
    assert_same(batched, [retriever.invoke(q) for q in QUERIES])


# -- LegalVectorStore with an async store --------------------------------------------------------
@pytest_asyncio.fixture()
async def twin_stores() -> AsyncIterator[tuple[LegalVectorStore, LegalVectorStore]]:
    """Two vector stores with the same content: one sync-only, one whose ``a*`` calls use an async client."""
    embedding = DeterministicFakeEmbedding(size=16)
    sync = LegalVectorStore(ClientStore(QdrantClient(":memory:")), "docs", embedding)
    astore = AsyncClientStore(AsyncQdrantClient(":memory:"))
    twin = LegalVectorStore(ClientStore(QdrantClient(":memory:")), "docs", embedding, astore=astore)
    await copy_schema(twin.store, astore, "docs")
    texts = ["duplicate clause", "duplicate clause", "termination clause", "liability cap", "governing law"]
    metadatas = [{"n": i} for i in range(len(texts))]
    ids = ["a", "b", "c", "d", "e"]
    assert sync.add_texts(texts, metadatas, ids=ids) == await twin.aadd_texts(texts, metadatas, ids=ids) == ids
    yield sync, twin
    await astore.close()


@pytest.mark.asyncio
async def test_vector_store_async_methods_equal_the_sync_ones(
    twin_stores: tuple[LegalVectorStore, LegalVectorStore],
) -> None:
    sync, twin = twin_stores
    assert twin.store.count("docs") == 0  # every write above went through the async store
    query = "liability cap"
    assert_same(await twin.asimilarity_search(query, k=3), sync.similarity_search(query, k=3))
    assert_same(
        await twin.asimilarity_search_with_score(query, k=3, filter={"n": {"$gte": 2}}),
        sync.similarity_search_with_score(query, k=3, filter={"n": {"$gte": 2}}),
    )
    assert_same(
        await twin.asimilarity_search_with_relevance_scores(query, k=5),
        sync.similarity_search_with_relevance_scores(query, k=5),
    )
    vector = sync.embedding.embed_query(query)
    assert_same(await twin.asimilarity_search_by_vector(vector, k=2), sync.similarity_search_by_vector(vector, k=2))
    mmr = {"k": 2, "fetch_k": 5, "lambda_mult": 0.25}
    assert_same(
        await twin.amax_marginal_relevance_search("duplicate clause", **mmr),
        sync.max_marginal_relevance_search("duplicate clause", **mmr),
    )
    assert await twin.aget_by_ids(["e", "a", "zz"]) == sync.get_by_ids(["e", "a", "zz"])
    retriever, reference = (
        twin.as_retriever(search_kwargs={"k": 2}),
        sync.as_retriever(search_kwargs={"k": 2}),
    )
    assert_same_docs(await retriever.ainvoke(query), reference.invoke(query))
    await twin.adelete(["a", "d"])
    sync.delete(["a", "d"])
    assert await twin.aget_by_ids(["a", "b", "d"]) == sync.get_by_ids(["a", "b", "d"]) != []
    assert_same(await twin.asimilarity_search(query, k=5), sync.similarity_search(query, k=5))


def assert_same(ours: Any, theirs: Any) -> None:
    """Equal, with floats (scores) equal up to rounding: two local-mode databases holding the same points
    may round DBSF's normalised scores differently in the last bits."""
    if isinstance(ours, (list, tuple)):
        assert isinstance(theirs, (list, tuple)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_same(a, b)
    elif isinstance(ours, float):
        assert ours == pytest.approx(theirs, rel=1e-6)
    elif hasattr(ours, "page_content"):
        assert (ours.id, ours.page_content) == (theirs.id, theirs.page_content)
        mine, other = dict(ours.metadata), dict(theirs.metadata)
        assert mine.pop("score", 0.0) == pytest.approx(other.pop("score", 0.0), rel=1e-6)
        assert mine == other
    else:
        assert ours == theirs


assert_same_docs = assert_same
