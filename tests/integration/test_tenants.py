"""Tenant isolation: a searcher, retriever or vector store bound to a tenant never sees another's chunks.

Two tenants ingest the *same* ``doc_id``s (one with identical text) into one collection, on both
stores (qdrant-edge and qdrant-client's in-memory local mode); then every escape we could think of
is tried: crafted dict and raw filters (``$or``, ``$not``, ``$ne``, ``should``, ``min_should``,
``must_not``, nested filters, ``has_id`` with the other tenant's ids, ``is_empty``), group_by,
an absurd score threshold, the three modes, the LangChain vector store and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from legalrag.ingest.service import make_ingestor
from legalrag.plugin.components import open_searcher
from legalrag.plugin.errors import InputError
from legalrag.plugin.langchain.embeddings import LegalEmbeddings
from legalrag.plugin.langchain.retriever import LegalRetriever
from legalrag.plugin.langchain.vectorstore import LegalVectorStore
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.search.searcher import Searcher
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import ClientStore, EdgeStore, Store
from tests.conftest import MINILM

pytestmark = [
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

NAME = "shared"
QUERY = "개인정보 처리 동의 책임"
MODES = ("dense", "sparse", "hybrid")
TENANTS = ("acme", "globex")


def _cond(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _article(number: int, name: str, body: str) -> str:
    return f"제{number}조({name}) {body} 개인정보 처리에 관한 동의와 책임을 정한다."


def corpus(tenant: str, root: Path) -> list[SourceDocument]:
    """The tenant's documents: same doc_ids for both tenants, ``law-3`` with identical text."""
    marker = tenant.upper()
    texts = {
        "law-1": "\n".join(_article(n, "목적", f"{marker} 회사의 신용카드 회원 보호 {n}") for n in (1, 2, 3)),
        "law-2": "\n".join(_article(n, "정의", f"{marker} 전자금융 거래의 안전 {n}") for n in (1, 2)),
        "law-3": _article(1, "공통", "두 회사가 같은 본문을 가진 약관"),
    }
    docs = [
        SourceDocument(doc_id=d, source=str(root / f"{d}.md"), text=t, title=f"{d} 약관", language="ko")
        for d, t in texts.items()
    ]
    if tenant == "acme":  # a document that claims another tenant: ingest must overwrite the claim
        docs.append(
            SourceDocument(
                doc_id="law-4",
                source=str(root / "law-4.md"),
                text=_article(1, "위장", "다른 테넌트를 주장하는 문서"),
                language="ko",
                metadata={"tenant": "globex"},
            )
        )
    return docs


def ingest(
    store: Store, settings: Settings, encoder: Any, tenant: str | None, root: Path, collection: str = NAME
) -> None:
    docs = corpus(tenant or "public", root)
    make_ingestor(settings, store, encoder, collection, tenant=tenant).run(docs)


def points(store: Store, collection: str = NAME, tenant: str | None = None) -> dict[str, dict[str, Any]]:
    scope = models.Filter(must=[_cond("tenant", tenant)]) if tenant else None
    return {hit.id: hit.payload for hit in store.scroll(collection, scope)}


def tenant_index(store: Store, collection: str) -> bool | None:
    """``is_tenant`` of the collection's ``tenant`` payload index, read from the engine itself.

    qdrant-client's local mode keeps no payload indexes (its ``payload_schema`` is always empty):
    there the test is skipped, a server reports it like qdrant-edge does.
    """
    if isinstance(store, EdgeStore):
        schema = store._read(collection).shard.info().payload_schema
    else:
        assert isinstance(store, ClientStore)
        schema = store.client.get_collection(collection).payload_schema
        if not schema:
            pytest.skip("qdrant-client local mode reports no payload indexes")
    index = schema.get("tenant")
    return None if index is None or index.params is None else index.params.is_tenant


@dataclass
class World:
    store: Store
    settings: Settings
    root: Path
    kind: str


@pytest.fixture(scope="module", params=("edge", "client"))
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, minilm_encoder: Any
) -> Iterator[World]:
    """One collection holding acme, globex and tenant-less documents, on each store."""
    tmp = tmp_path_factory.mktemp(f"tenants-{request.param}")
    store: Store = EdgeStore(tmp / "qdrant") if request.param == "edge" else ClientStore(QdrantClient(":memory:"))
    settings = Settings(model=MINILM, device="cpu", collection=NAME, qdrant_path=tmp / "qdrant")
    root = tmp / "corpus"
    for tenant in TENANTS:
        ingest(store, settings, minilm_encoder, tenant, root)
    # tenant-less documents too (other doc_ids: see test_untenanted_ingest_leaves_tenants_alone)
    public = [replace(doc, doc_id=f"pub-{doc.doc_id}") for doc in corpus("public", root)]
    make_ingestor(settings, store, minilm_encoder, NAME).run(public)
    yield World(store, settings, root, request.param)
    store.close()


class OnceEmbeddings(Embeddings):
    """The real model, each distinct query encoded once: the attacks repeat one query many times."""

    def __init__(self, encoder: Any) -> None:
        self.inner = LegalEmbeddings.from_encoder(encoder)
        self.queries: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if text not in self.queries:
            self.queries[text] = self.inner.embed_query(text)
        return self.queries[text]


@pytest.fixture(scope="module")
def embeddings(minilm_encoder: Any) -> OnceEmbeddings:
    return OnceEmbeddings(minilm_encoder)


@pytest.fixture(scope="module")
def bound(world: World, minilm_encoder: Any, embeddings: OnceEmbeddings) -> Searcher:
    """What ``open_searcher(..., tenant="acme")`` builds, with the query embedded once."""
    built = open_searcher(world.settings, world.store, dense=minilm_encoder, tenant="acme")
    assert built.tenant == "acme"
    return Searcher(world.store, NAME, embeddings, built.sparse, config=built.config, tenant="acme")


# -- what ingest wrote --------------------------------------------------------------------------------
def test_same_doc_ids_do_not_collide(world: World) -> None:
    acme, globex = points(world.store, tenant="acme"), points(world.store, tenant="globex")
    assert acme and globex and not set(acme) & set(globex)
    assert {p["doc_id"] for p in acme.values()} == {"law-1", "law-2", "law-3", "law-4"}
    assert {p["doc_id"] for p in globex.values()} == {"law-1", "law-2", "law-3"}
    everything = points(world.store)
    assert all(p["tenant"] == "acme" for p in acme.values())  # law-4 claimed globex: overwritten
    public = [p for p in everything.values() if "tenant" not in p]
    assert {p["doc_id"] for p in public} == {"pub-law-1", "pub-law-2", "pub-law-3"}


def test_collection_has_a_tenant_index(world: World) -> None:
    assert tenant_index(world.store, NAME) is True


def test_tenant_ingest_adds_the_index_to_an_existing_collection(world: World, minilm_encoder: Any) -> None:
    make_ingestor(world.settings, world.store, minilm_encoder, "late-tenants")  # created without a tenant
    make_ingestor(world.settings, world.store, minilm_encoder, "late-tenants", tenant="acme")
    assert tenant_index(world.store, "late-tenants") is True


# -- the searcher ---------------------------------------------------------------------------------------
#: name -> (filter, whether acme chunks may come back); "none": the filter can only match others
EXCEPT_ACME = models.MatchExcept(**{"except": ["acme"]})
GLOBEX, ACME, LAW_1 = _cond("tenant", "globex"), _cond("tenant", "acme"), _cond("doc_id", "law-1")
ATTACKS: dict[str, tuple[Any, str]] = {
    "dict-eq": ({"tenant": "globex"}, "none"),
    "dict-or": ({"$or": [{"tenant": "globex"}, {"tenant": "acme"}]}, "acme"),
    "dict-not": ({"$not": {"tenant": "acme"}}, "none"),
    "dict-ne": ({"tenant": {"$ne": "acme"}}, "none"),
    "dict-nin": ({"tenant": {"$nin": ["acme"]}}, "none"),
    "dict-in": ({"tenant": {"$in": ["globex", "acme"]}}, "acme"),
    "dict-list": ({"tenant": ["globex", "acme"]}, "acme"),
    "dict-and-or": ({"$and": [{"$or": [{"tenant": "globex"}, {"doc_id": "law-1"}]}]}, "acme"),
    "raw-should": (models.Filter(should=[_cond("tenant", "globex")]), "none"),
    "raw-should-either": (models.Filter(should=[_cond("tenant", "globex"), _cond("tenant", "acme")]), "acme"),
    "raw-min-should": (
        models.Filter(
            min_should=models.MinShould(conditions=[_cond("tenant", "globex"), _cond("doc_id", "law-1")], min_count=1)
        ),
        "acme",
    ),
    "raw-must-not": (models.Filter(must_not=[_cond("tenant", "acme")]), "none"),
    "raw-nested": (
        models.Filter(
            must=[models.Filter(should=[_cond("tenant", "globex"), models.Filter(must_not=[_cond("tenant", "acme")])])]
        ),
        "none",
    ),
    "raw-except": (
        models.Filter(must=[models.FieldCondition(key="tenant", match=models.MatchExcept(**{"except": ["acme"]}))]),
        "none",
    ),
    "raw-is-empty": (
        models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tenant"))]),
        "none",
    ),
}


def only_acme(payloads: list[dict[str, Any]], expect: str) -> None:
    tenants = [p.get("tenant") for p in payloads]
    assert all(t == "acme" for t in tenants), f"escaped the tenant: {tenants}"
    if expect == "none":
        assert payloads == []
    else:
        assert payloads, "the filter matches acme chunks, so some must come back"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_bound_searcher_cannot_escape(bound: Searcher, attack: str, mode: str) -> None:
    filter, expect = ATTACKS[attack]
    hits = bound.search(QUERY, 50, mode=mode, filter=filter, score_threshold=0.0)
    only_acme([h.payload for h in hits], expect)


@pytest.mark.parametrize("group_by", ["doc_id", "article"])
def test_group_by_and_threshold_stay_in_the_tenant(bound: Searcher, world: World, group_by: str) -> None:
    for filter, expect in (ATTACKS["dict-or"], ATTACKS["raw-should"], (None, "acme")):
        hits = bound.search(QUERY, 100, mode="dense", filter=filter, score_threshold=0.0, group_by=group_by)
        only_acme([h.payload for h in hits], expect)
    every = bound.search(QUERY, 1000, mode="dense", score_threshold=0.0)
    assert {h.id for h in every} == set(points(world.store, tenant="acme"))


def test_has_id_of_the_other_tenant_finds_nothing(bound: Searcher, world: World) -> None:
    theirs: list[Any] = list(points(world.store, tenant="globex"))
    for filter in (
        models.Filter(must=[models.HasIdCondition(has_id=theirs)]),
        models.Filter(should=[models.HasIdCondition(has_id=theirs), _cond("tenant", "globex")]),
    ):
        for mode in MODES:
            assert bound.search(QUERY, 50, mode=mode, filter=filter, score_threshold=0.0) == []


@pytest.mark.parametrize("attack", ["dict-eq", "dict-or", "raw-nested"])
def test_bound_retriever_cannot_escape(bound: Searcher, attack: str) -> None:
    filter, expect = ATTACKS[attack]
    retriever = LegalRetriever(searcher=bound.with_config(mode="dense"), k=50, filter={"tenant": "globex"})
    only_acme([d.metadata for d in retriever.invoke(QUERY, filter=filter, score_threshold=0.0)], expect)


def test_unbound_searcher_sees_everyone(world: World, minilm_encoder: Any) -> None:
    """Control: the attacks above would succeed without the binding, so the data is there."""
    searcher = open_searcher(world.settings, world.store, dense=minilm_encoder)
    hits = searcher.search(QUERY, 50, mode="dense", filter={"tenant": "globex"})
    assert hits and all(h.payload["tenant"] == "globex" for h in hits)


# -- the LangChain vector store ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vectorstore(world: World, embeddings: OnceEmbeddings) -> LegalVectorStore:
    return LegalVectorStore(world.store, NAME, embeddings, tenant="acme")


@pytest.mark.parametrize("attack", ["dict-eq", "dict-or", "dict-not", "raw-should", "raw-nested", "raw-min-should"])
def test_vectorstore_cannot_escape(vectorstore: LegalVectorStore, attack: str) -> None:
    filter, expect = ATTACKS[attack]
    vector = vectorstore.embeddings.embed_query(QUERY)
    for mode in MODES:
        docs = vectorstore.similarity_search(QUERY, 50, filter=filter, mode=mode, score_threshold=0.0)
        only_acme([d.metadata for d in docs], expect)
    scored = vectorstore.similarity_search_with_score(QUERY, 50, filter=filter, group_by="doc_id")
    only_acme([d.metadata for d, _ in scored], expect)
    only_acme([d.metadata for d in vectorstore.similarity_search_by_vector(vector, 50, filter=filter)], expect)
    mmr = vectorstore.max_marginal_relevance_search(QUERY, k=10, fetch_k=50, filter=filter)
    only_acme([d.metadata for d in mmr], expect)
    retriever = vectorstore.as_retriever(search_kwargs={"k": 50, "filter": filter})
    only_acme([d.metadata for d in retriever.invoke(QUERY)], expect)


def test_vectorstore_get_by_ids_hides_other_tenants(vectorstore: LegalVectorStore, world: World) -> None:
    theirs = list(points(world.store, tenant="globex"))
    ours = list(points(world.store, tenant="acme"))
    assert vectorstore.get_by_ids(theirs) == []
    got = vectorstore.get_by_ids([*theirs, *ours])
    assert len(got) == len(ours) and all(d.metadata["tenant"] == "acme" for d in got)


def test_vectorstore_writes_are_scoped_to_the_tenant(world: World, embeddings: OnceEmbeddings) -> None:
    acme = LegalVectorStore(world.store, "notes", embeddings, tenant="acme")
    acme.add_texts(["ACME 내부 메모"], metadatas=[{"tenant": "globex"}], ids=["memo-a"])
    (stored,) = acme.get_by_ids(["memo-a"])
    assert stored.metadata["tenant"] == "acme"  # a caller's metadata cannot pick the tenant
    assert tenant_index(world.store, "notes") is True


def test_vectorstore_same_id_in_two_tenants_is_two_points(world: World, embeddings: OnceEmbeddings) -> None:
    acme = LegalVectorStore(world.store, "notes", embeddings, tenant="acme")
    globex = LegalVectorStore(world.store, "notes", embeddings, tenant="globex")
    acme.add_texts(["ACME 메모"], ids=["1"])
    globex.add_texts(["GLOBEX 메모"], ids=["1"])
    assert [d.page_content for d in acme.get_by_ids(["1"])] == ["ACME 메모"]


def test_vectorstore_delete_cannot_touch_another_tenant(world: World, embeddings: OnceEmbeddings) -> None:
    acme = LegalVectorStore(world.store, "notes", embeddings, tenant="acme")
    globex = LegalVectorStore(world.store, "notes", embeddings, tenant="globex")
    acme.add_texts(["ACME 메모"], ids=["memo"])
    globex.delete(["memo"])
    assert [d.page_content for d in acme.get_by_ids(["memo"])] == ["ACME 메모"]


# -- ingest: re-runs and --sync of one tenant leave the other alone ------------------------------------
def test_reingest_and_sync_leave_the_other_tenant_alone(world: World, minilm_encoder: Any) -> None:
    name = "lifecycle"
    for tenant in TENANTS:
        ingest(world.store, world.settings, minilm_encoder, tenant, world.root, name)
    theirs = points(world.store, name, "globex")
    # acme re-ingests unchanged, then a changed law-1
    ingest(world.store, world.settings, minilm_encoder, "acme", world.root, name)
    changed = [
        SourceDocument(
            doc_id="law-1",
            source=str(world.root / "law-1.md"),
            text=_article(9, "개정", "ACME 개정"),
            language="ko",
        )
    ]
    stats = make_ingestor(world.settings, world.store, minilm_encoder, name, tenant="acme").run(changed)
    assert stats.updated == 1
    assert points(world.store, name, "globex") == theirs
    # acme --sync after law-2, law-3, law-4 disappeared from the same folder globex's sources live in
    ingestor = make_ingestor(world.settings, world.store, minilm_encoder, name, tenant="acme")
    assert ingestor.sync({"law-1"}, [world.root], set()) == 3
    assert {p["doc_id"] for p in points(world.store, name, "acme").values()} == {"law-1"}
    assert points(world.store, name, "globex") == theirs


def test_untenanted_ingest_leaves_tenants_alone(world: World, minilm_encoder: Any) -> None:
    """A tenant-less run into a shared collection must not replace tenants' documents of the same id."""
    name = "untenanted"
    ingest(world.store, world.settings, minilm_encoder, "acme", world.root, name)
    before = points(world.store, name, "acme")
    ingest(world.store, world.settings, minilm_encoder, None, world.root, name)
    assert points(world.store, name, "acme") == before


# -- the CLI ----------------------------------------------------------------------------------------------
#: sparse mode loads no dense model, so most CLI attacks run fast; one goes through hybrid
CLI_ATTACKS = [("dict-or", "hybrid"), *((a, "sparse") for a in ("dict-eq", "dict-or", "dict-not", "dict-ne"))]


@pytest.mark.parametrize(("attack", "mode"), CLI_ATTACKS)
def test_cli_search_cannot_escape(world: World, attack: str, mode: str) -> None:
    if world.kind != "edge":
        pytest.skip("the CLI opens the embedded store by path")
    world.store.close()  # release the lock; the fixture's store reopens lazily afterwards
    filter, expect = ATTACKS[attack]
    path = str(world.settings.qdrant_path)
    args = ["search", QUERY, "-c", NAME, "--qdrant-path", path, "--model", MINILM, "--device", "cpu"]
    args += ["--tenant", "acme", "-k", "50", "--score-threshold", "0", "--filter", json.dumps(filter)]
    result = CliRunner().invoke(_cli_app(), [*args, "--mode", mode, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    only_acme([hit["metadata"] for hit in json.loads(result.stdout)["hits"]], expect)


def _cli_app() -> Any:
    from legalrag.cli import app

    return app


def test_vectorstore_refuses_to_overwrite_another_tenants_uuid(vectorstore: LegalVectorStore, world: World) -> None:
    theirs = sorted(points(world.store, tenant="globex"))
    before = {h.id: h.payload for h in world.store.retrieve(NAME, theirs[:1])}
    with pytest.raises(InputError, match="another tenant"):
        vectorstore.add_texts(["hijacked text"], ids=[theirs[0]])
    vectorstore.delete([theirs[0]])
    after = {h.id: h.payload for h in world.store.retrieve(NAME, theirs[:1])}
    assert after == before, "a tenant-bound store may neither overwrite nor delete another tenant's point"


@pytest.mark.parametrize("key", ["tenant", "version", "source_path"])
def test_vectorstore_metadata_cannot_set_a_key_legalrag_writes(
    world: World, embeddings: OnceEmbeddings, key: str
) -> None:
    unbound = LegalVectorStore(world.store, "notes", embeddings)  # no tenant: metadata must not pick one
    unbound.add_texts(["제1조 본문"], metadatas=[{key: "B"}], ids=[f"reserved-{key}"])
    (stored,) = unbound.get_by_ids([f"reserved-{key}"])
    assert stored.metadata[f"meta_{key}"] == "B" and stored.metadata.get(key) != "B"
    assert not [h for h in world.store.scroll("notes") if h.payload.get("tenant") == "B"]
    with pytest.raises(InputError, match="reserved by legalrag"):
        unbound.add_texts(["제2조 본문"], metadatas=[{"text": "x"}])
