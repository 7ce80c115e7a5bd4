"""``LegalRetriever`` and ``LegalVectorStore`` as LangChain users use them: in runnable chains,
with per-call search arguments, and through ``as_retriever`` with every search type."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from qdrant_client import QdrantClient

from legalrag.plugin.langchain.embeddings import LegalEmbeddings
from legalrag.plugin.langchain.retriever import LegalRetriever
from legalrag.plugin.langchain.vectorstore import LegalVectorStore
from legalrag.plugin.schema import TEXT_KEY
from legalrag.plugin.search.searcher import Searcher
from legalrag.plugin.store import ClientStore, EdgeStore, PointRecord, Store
from legalrag.plugin.text.bm25 import BM25Encoder
from tests.helpers.legal_corpus import LAWS, PROVISIONS, populate

pytestmark = [
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

QUESTION = "consent to the processing of personal data"
PAYLOAD_KEYS = {"doc_id", "title", "article", "chunk_index", "language", "year"}


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(doc.page_content for doc in docs)


def paragraphs(context: str) -> set[str]:
    """The formatted documents as a set: hybrid (RRF) ties may come back in either order."""
    return set(context.split("\n\n"))


@pytest.fixture(scope="module", params=["edge", "client"])
def laws(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    points: list[PointRecord],
    bm25: BM25Encoder,
) -> Iterator[Store]:
    store: Store = (
        EdgeStore(tmp_path_factory.mktemp("chain"))
        if request.param == "edge"
        else ClientStore(QdrantClient(":memory:"))
    )
    populate(store, LAWS, points, bm25)
    yield store
    store.close()


@pytest.fixture()
def retriever(laws: Store, embeddings: LegalEmbeddings, bm25: BM25Encoder) -> LegalRetriever:
    return LegalRetriever(searcher=Searcher(laws, LAWS, embeddings, bm25), k=3)


# -- LegalRetriever in chains --------------------------------------------------------------------
def test_retriever_pipes_into_a_formatter(retriever: LegalRetriever) -> None:
    chain = retriever | format_docs
    context = chain.invoke(QUESTION)
    assert paragraphs(context) == {d.page_content for d in retriever.invoke(QUESTION)}
    assert len(paragraphs(context)) == 3
    assert "consent" in context


def test_retriever_in_a_parallel_rag_input(retriever: LegalRetriever) -> None:
    rag_input = RunnableParallel({"context": retriever | format_docs, "question": RunnablePassthrough()})
    out = rag_input.invoke(QUESTION)
    assert out["question"] == QUESTION
    assert paragraphs(out["context"]) == {d.page_content for d in retriever.invoke(QUESTION)}
    prompt = rag_input | RunnableLambda(lambda x: f"Context:\n{x['context']}\n\nQuestion: {x['question']}")
    assert prompt.invoke(QUESTION).endswith(f"Question: {QUESTION}")


@pytest.mark.asyncio
async def test_retriever_chain_ainvoke_and_batch(retriever: LegalRetriever) -> None:
    chain = retriever | format_docs
    assert paragraphs(await chain.ainvoke(QUESTION)) == paragraphs(chain.invoke(QUESTION))
    questions = [QUESTION, "erasure of personal data"]
    expected = [paragraphs(chain.invoke(q)) for q in questions]
    assert [paragraphs(c) for c in chain.batch(questions)] == expected
    assert [paragraphs(c) for c in await chain.abatch(questions)] == expected


def test_documents_carry_score_id_and_payload(retriever: LegalRetriever, laws: Store) -> None:
    docs = retriever.invoke(QUESTION, k=len(PROVISIONS))
    assert len(docs) == len(PROVISIONS)
    scores = [doc.metadata["score"] for doc in docs]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    for doc in docs:
        assert set(doc.metadata) >= PAYLOAD_KEYS
        assert TEXT_KEY not in doc.metadata
        assert doc.id == doc.metadata["id"] == str(uuid.UUID(doc.id))
        [hit] = laws.retrieve(LAWS, [doc.id])
        assert doc.page_content == hit.payload[TEXT_KEY]
        assert {k: doc.metadata[k] for k in PAYLOAD_KEYS} == {k: hit.payload[k] for k in PAYLOAD_KEYS}


def test_call_arguments_override_fields_for_one_call(retriever: LegalRetriever) -> None:
    assert len(retriever.invoke(QUESTION, k=5)) == 5
    assert len(retriever.invoke(QUESTION)) == 3
    dense = retriever.invoke(QUESTION, mode="dense")
    sparse = retriever.invoke(QUESTION, mode="sparse")
    assert [d.id for d in dense] != [d.id for d in sparse]


def test_filter_through_invoke(retriever: LegalRetriever) -> None:
    gdpr = retriever.invoke(QUESTION, k=10, filter={"doc_id": "gdpr"})
    assert gdpr and {d.metadata["doc_id"] for d in gdpr} == {"gdpr"}
    recent = retriever.invoke(QUESTION, k=10, filter={"year": {"$gte": 2020}, "language": {"$ne": "en"}})
    assert recent and all(d.metadata["year"] >= 2020 and d.metadata["language"] != "en" for d in recent)
    assert retriever.invoke(QUESTION, filter={"doc_id": "no-such-law"}) == []


def test_score_threshold_through_invoke(retriever: LegalRetriever) -> None:
    everything = retriever.invoke(QUESTION, k=len(PROVISIONS), mode="dense")
    assert all(0 <= d.metadata["relevance"] <= 1 for d in everything)
    threshold = (everything[3].metadata["relevance"] + everything[4].metadata["relevance"]) / 2
    kept = retriever.invoke(QUESTION, k=len(PROVISIONS), mode="dense", score_threshold=threshold)
    assert [d.id for d in kept] == [d.id for d in everything[:4]]


def test_group_by_article_through_invoke(retriever: LegalRetriever) -> None:
    ungrouped = retriever.invoke(QUESTION, k=len(PROVISIONS), mode="dense")
    articles = [(d.metadata["doc_id"], d.metadata["article"]) for d in ungrouped]
    assert len(set(articles)) < len(articles)  # GDPR Art. 6 and PIPA 제15조 have two chunks each
    grouped = retriever.invoke(QUESTION, k=len(PROVISIONS), mode="dense", group_by="article")
    keys = [(d.metadata["doc_id"], d.metadata["article"]) for d in grouped]
    assert len(keys) == len(set(keys)) == len(set(articles))
    best_first = list(dict.fromkeys(articles))  # each article's best chunk, in rank order
    assert keys == best_first


def test_fields_are_validated(laws: Store, embeddings: LegalEmbeddings, bm25: BM25Encoder) -> None:
    searcher = Searcher(laws, LAWS, embeddings, bm25)
    with pytest.raises(ValueError):
        LegalRetriever(searcher=searcher, k=0)
    with pytest.raises(ValueError):
        LegalRetriever(searcher=searcher, mode="semantic")
    with pytest.raises(ValueError):
        LegalRetriever(searcher=searcher, top_k=3)
    with pytest.raises(TypeError, match="top_k"):
        LegalRetriever(searcher=searcher).invoke(QUESTION, top_k=3)


@pytest.mark.asyncio
async def test_ainvoke_takes_call_arguments(retriever: LegalRetriever) -> None:
    # BaseRetriever's default async path drops keyword arguments; LegalRetriever's must not
    arguments: dict[str, Any] = {"k": 2, "filter": {"doc_id": "gdpr"}, "group_by": "article", "mode": "dense"}
    docs = await retriever.ainvoke(QUESTION, **arguments)
    assert docs == retriever.invoke(QUESTION, **arguments)
    assert len(docs) == 2 and {d.metadata["doc_id"] for d in docs} == {"gdpr"}


# -- LegalVectorStore.as_retriever ---------------------------------------------------------------
@pytest.fixture(scope="module", params=["edge", "client"])
def fake_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LegalVectorStore]:
    """A vector store with a non-legalrag ``Embeddings`` (hash-seeded random vectors); tests only read."""
    store: Store = (
        EdgeStore(tmp_path_factory.mktemp("fake")) if request.param == "edge" else ClientStore(QdrantClient(":memory:"))
    )
    vs = LegalVectorStore(store, "fake", DeterministicFakeEmbedding(size=16))
    vs.add_texts(
        ["duplicate clause", "duplicate clause", "termination clause", "liability cap", "governing law"],
        [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}],
        ids=["a", "b", "c", "d", "e"],
    )
    yield vs
    store.close()


def test_as_retriever_similarity_with_a_foreign_embeddings(fake_store: LegalVectorStore) -> None:
    docs = fake_store.as_retriever(search_kwargs={"k": 2}).invoke("liability cap")
    assert docs[0] == Document(id="d", page_content="liability cap", metadata={"n": 3})
    assert len(docs) == 2
    only = fake_store.as_retriever(search_kwargs={"k": 5, "filter": {"n": {"$gte": 3}}}).invoke("liability cap")
    assert sorted(d.id for d in only) == ["d", "e"]


def test_as_retriever_mmr_diversifies(fake_store: LegalVectorStore) -> None:
    similar = fake_store.similarity_search("duplicate clause", k=2)
    assert sorted(d.id for d in similar) == ["a", "b"]  # identical texts, identical vectors
    # the query is the duplicates' own vector, so lambda_mult=0.5 would tie; below it, diversity wins
    mmr = fake_store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 5, "lambda_mult": 0.25}).invoke(
        "duplicate clause"
    )
    assert len(mmr) == 2
    assert mmr[0].id in {"a", "b"} and mmr[1].id not in {"a", "b"}


def test_as_retriever_similarity_score_threshold(fake_store: LegalVectorStore) -> None:
    scored = fake_store.similarity_search_with_relevance_scores("liability cap", k=5, mode="dense")
    assert scored[0][0].id == "d" and scored[0][1] == pytest.approx(1.0)  # (1 + cosine) / 2 of the same text
    assert all(0.0 <= score <= 1.0 for _, score in scored)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
    strict = fake_store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.99, "k": 5, "mode": "dense"}
    )
    assert [d.id for d in strict.invoke("liability cap")] == ["d"]
    lenient = fake_store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.0, "k": 5}
    )
    assert len(lenient.invoke("liability cap")) == 5


@pytest.mark.parametrize("mode", ["hybrid", "sparse"])
def test_relevance_scores_of_fused_and_sparse_modes_lie_in_0_1(fake_store: LegalVectorStore, mode: str) -> None:
    scored = fake_store.similarity_search_with_relevance_scores("liability cap", k=5, mode=mode)
    assert scored and scored[0][0].id == "d"
    assert all(0.0 <= score <= 1.0 for _, score in scored)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)


@pytest.mark.asyncio
async def test_as_retriever_async_matches_sync(fake_store: LegalVectorStore) -> None:
    for search_type, kwargs in [
        ("similarity", {"k": 3}),
        ("mmr", {"k": 2, "fetch_k": 5}),
        ("similarity_score_threshold", {"score_threshold": 0.5, "k": 5}),
    ]:
        retriever = fake_store.as_retriever(search_type=search_type, search_kwargs=kwargs)
        assert await retriever.ainvoke("duplicate clause") == retriever.invoke("duplicate clause")


def test_vector_store_with_legal_embeddings_finds_the_provision(embeddings: LegalEmbeddings) -> None:
    vs = LegalVectorStore(ClientStore(QdrantClient(":memory:")), "provisions", embeddings)
    texts = [row[-1] for row in PROVISIONS]
    metadatas = [{"doc_id": row[0], "article": row[2]} for row in PROVISIONS]
    vs.add_documents([Document(page_content=t, metadata=m) for t, m in zip(texts, metadatas, strict=True)])
    for search_type in ("similarity", "mmr", "similarity_score_threshold"):
        kwargs: dict[str, Any] = (
            {"k": 1}
            if search_type != "similarity_score_threshold"
            else {
                "k": 1,
                "score_threshold": 0.5,
            }
        )
        [top] = vs.as_retriever(search_type=search_type, search_kwargs=kwargs).invoke(
            "the right to have personal data erased"
        )
        assert top.metadata == {"doc_id": "gdpr", "article": "Article 17"}
