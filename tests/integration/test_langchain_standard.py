"""LangChain's own standard suites (langchain-tests) run against legalrag's LangChain classes.

- ``LegalEmbeddings``: ``EmbeddingsUnitTests`` and ``EmbeddingsIntegrationTests`` (real MiniLM);
- ``LegalVectorStore``: ``VectorStoreIntegrationTests`` on an ``EdgeStore``, on a ``ClientStore``
  (qdrant-client local mode), and on a ``ClientStore`` with an ``AsyncClientStore`` so the async
  tests run the truly-async path;
- ``LegalRetriever``: ``RetrieversIntegrationTests`` over a populated collection on each of those.

The suites' async tests carry no asyncio marker (LangChain's repositories run pytest-asyncio in auto
mode), so this module marks every test; the sync ones would warn about the mark, hence the filter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from legalrag.plugin.langchain.embeddings import LegalEmbeddings
from legalrag.plugin.langchain.retriever import LegalRetriever
from legalrag.plugin.langchain.vectorstore import LegalVectorStore
from legalrag.plugin.search.searcher import Searcher
from legalrag.plugin.store import ClientStore, EdgeStore, PointRecord, Store
from legalrag.plugin.store.client.aio import AsyncClientStore
from legalrag.plugin.text.bm25 import BM25Encoder
from tests.conftest import MINILM
from tests.helpers.legal_corpus import LAWS, async_copy, copy_schema, populate

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore:The test <Function .*> is marked with:pytest.PytestWarning"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

COLLECTION = "standard"


# -- embeddings ----------------------------------------------------------------------------------
class TestLegalEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return LegalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MINILM, "device": "cpu"}


class TestLegalEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return LegalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MINILM, "device": "cpu"}


# -- vector store --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def edge_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeStore]:
    with EdgeStore(tmp_path_factory.mktemp("edge-standard")) as store:
        yield store


class TestVectorStoreEdge(VectorStoreIntegrationTests):
    """One collection for the class, emptied after each test (an edge collection with its payload
    indexes takes ~0.2 s to create); the first test creates it, the others reopen it."""

    @pytest.fixture()
    def vectorstore(self, edge_store: EdgeStore) -> Iterator[VectorStore]:
        yield LegalVectorStore(edge_store, COLLECTION, self.get_embeddings())
        edge_store.delete(COLLECTION, models.Filter())


class TestVectorStoreClient(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Iterator[VectorStore]:
        store = ClientStore(QdrantClient(":memory:"))
        yield LegalVectorStore(store, COLLECTION, self.get_embeddings())
        store.close()


class TestVectorStoreAsyncClient(VectorStoreIntegrationTests):
    """Sync tests use the ``ClientStore``, async tests only the ``AsyncClientStore``."""

    @pytest_asyncio.fixture()
    async def vectorstore(self) -> AsyncIterator[VectorStore]:
        store = ClientStore(QdrantClient(":memory:"))
        astore = AsyncClientStore(AsyncQdrantClient(":memory:"))
        vs = LegalVectorStore(store, COLLECTION, self.get_embeddings(), astore=astore)
        await copy_schema(store, astore, COLLECTION)
        yield vs
        await astore.close()
        store.close()


# -- retriever -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def edge_laws(
    tmp_path_factory: pytest.TempPathFactory, points: list[PointRecord], bm25: BM25Encoder
) -> Iterator[Store]:
    with EdgeStore(tmp_path_factory.mktemp("laws")) as store:
        populate(store, LAWS, points, bm25)
        yield store


class _RetrieverSuite(RetrieversIntegrationTests):
    searcher: Searcher

    @property
    def retriever_constructor(self) -> type[LegalRetriever]:
        return LegalRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"searcher": self.searcher, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "consent to the processing of personal data"


class TestRetrieverEdge(_RetrieverSuite):
    @pytest.fixture(autouse=True)
    def _searcher(self, edge_laws: Store, embeddings: LegalEmbeddings, bm25: BM25Encoder) -> None:
        self.searcher = Searcher(edge_laws, LAWS, embeddings, bm25)


class TestRetrieverClient(_RetrieverSuite):
    @pytest.fixture(autouse=True)
    def _searcher(self, client_laws: Store, embeddings: LegalEmbeddings, bm25: BM25Encoder) -> None:
        self.searcher = Searcher(client_laws, LAWS, embeddings, bm25)


class TestRetrieverAsyncClient(_RetrieverSuite):
    @pytest_asyncio.fixture(autouse=True)
    async def _searcher(
        self, client_laws: Store, points: list[PointRecord], embeddings: LegalEmbeddings, bm25: BM25Encoder
    ) -> AsyncIterator[None]:
        astore = await async_copy(client_laws, LAWS, points)
        self.searcher = Searcher(client_laws, LAWS, embeddings, bm25, astore=astore)
        yield
        await astore.close()
