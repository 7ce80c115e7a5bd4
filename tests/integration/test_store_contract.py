"""One contract for every store: the same calls on EdgeStore, ClientStore and AsyncClientStore
(qdrant-client's local mode, sync and async; the async one through a blocking bridge).

Like qdrant-client's congruence tests, the same small random data goes into both backends and
every query must give the same ranking (ids compared where scores are not tied). Edge-only tests
at the end cover what only an embedded store has: the process lock, durability across SIGKILL,
reopening, and on-disk metadata.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from legalrag.plugin.errors import CollectionNotFoundError, ConfigError, InputError, StoreLockedError
from legalrag.plugin.schema import SparseVector
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import (
    ClientStore,
    CollectionSpec,
    EdgeStore,
    Hit,
    PointRecord,
    SearchRequest,
    Store,
    VectorInfo,
    open_store,
)
from legalrag.plugin.store.client.aio import AsyncClientStore
from legalrag.plugin.store.edge.filters import to_edge_filter
from tests.helpers.async_bridge import BlockingStore

pytestmark = [
    pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning"),
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
    # open_store's client checks the (absent) server's version in a thread that may warn later
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
]

DIM = 8
N = 40
NAME = "laws"
LANGS = ("ko", "vi", "en")
SPEC = CollectionSpec(dense_size=DIM, metadata={"model": "test-model", "dim": DIM})


def _id(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"legalrag-test-{i}"))


def _payload(i: int) -> dict[str, object]:
    payload: dict[str, object] = {
        "doc_id": f"doc-{i % 5}",
        "lang": LANGS[i % 3],
        "n": i,
        "date": f"{2010 + i % 15}-03-0{1 + i % 9}T00:00:00Z",
        "text": f"article {i} {'penalty' if i % 4 == 0 else 'contract'}",
        "loc": {"lon": -10.0 + i, "lat": 40.0 + (i % 10) * 0.5},
        "refs": [{"law": f"L{(i + k) % 4}", "art": (i * k) % 5} for k in range(1 + i % 3)],
    }
    if i % 7 == 0:
        payload["note"] = None
    if i % 6 == 0:
        payload["tags"] = ["civil", "tax"] if i % 12 == 6 else ["civil"]
    return payload


def _points(n: int = N, seed: int = 0) -> list[PointRecord]:
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, DIM))
    points = []
    for i in range(n):
        indices = sorted(rng.choice(24, size=4, replace=False).tolist())
        # random float weights: no two documents score alike, so rankings have no ties
        values = rng.uniform(0.5, 2.0, size=4).tolist()
        points.append(PointRecord(_id(i), _payload(i), dense[i].tolist(), SparseVector(indices, values)))
    return points


POINTS = _points()
_RNG = np.random.default_rng(1)
QUERY_DENSE = _RNG.normal(size=DIM).tolist()
QUERY_SPARSE = SparseVector([1, 4, 9, 16, 22], [1.0, 0.7, 1.3, 0.9, 1.1])


def _match(key: str, value: str | int) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _make(kind: str, tmp_path: Path) -> Store:
    if kind == "edge":
        return EdgeStore(tmp_path / "qdrant")
    if kind == "async":
        return BlockingStore(AsyncClientStore(AsyncQdrantClient(":memory:")))  # type: ignore[return-value]
    return ClientStore(QdrantClient(":memory:"))


@pytest.fixture(params=["edge", "client", "async"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = _make(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture
def loaded(store: Store) -> Store:
    store.create_collection(NAME, SPEC)
    store.upsert(NAME, POINTS)
    return store


@pytest.fixture(scope="module", params=["client", "async"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    """The same data in the embedded store and a client store, shared by the read-only congruence tests."""
    stores = (EdgeStore(tmp_path_factory.mktemp("edge")), _make(request.param, tmp_path_factory.mktemp("other")))
    for made in stores:
        made.create_collection(NAME, SPEC)
        made.upsert(NAME, POINTS)
    yield stores
    for made in stores:
        made.close()


def _tie_groups(hits: list[Hit], tol: float) -> list[set[str]]:
    groups: list[set[str]] = []
    first = None
    for hit in hits:
        if first is None or abs(hit.score - first) > tol:
            groups.append(set())
            first = hit.score
        groups[-1].add(hit.id)
    return groups


def assert_same_ranking(a: list[Hit], b: list[Hit], tol: float = 1e-4) -> None:
    """Same scores in the same order, and the same ids wherever scores are not tied."""
    assert len(a) == len(b)
    assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=tol, abs=tol)
    # the last tie group may be cut by the limit at a different member in each backend
    assert _tie_groups(a, tol)[:-1] == _tie_groups(b, tol)[:-1]


# ---------------------------------------------------------------- congruence: both backends agree

REQUESTS: dict[str, SearchRequest] = {
    "dense": SearchRequest(limit=10, dense=QUERY_DENSE, exact=True),
    "sparse": SearchRequest(limit=10, sparse=QUERY_SPARSE),
    "rrf": SearchRequest(limit=10, dense=QUERY_DENSE, sparse=QUERY_SPARSE, exact=True),
    "rrf-weighted": SearchRequest(limit=10, dense=QUERY_DENSE, sparse=QUERY_SPARSE, weights=(3.0, 0.5), exact=True),
    "rrf-k-depth": SearchRequest(
        limit=5, dense=QUERY_DENSE, sparse=QUERY_SPARSE, rrf_k=10, prefetch_limit=12, exact=True
    ),
    "dbsf": SearchRequest(limit=10, dense=QUERY_DENSE, sparse=QUERY_SPARSE, fusion="dbsf", exact=True),
    "dense-threshold": SearchRequest(limit=20, dense=QUERY_DENSE, score_threshold=0.2, exact=True),
    "dense-filtered": SearchRequest(limit=10, dense=QUERY_DENSE, filter=models.Filter(must=[_match("lang", "ko")])),
    "hybrid-filtered": SearchRequest(
        limit=10,
        dense=QUERY_DENSE,
        sparse=QUERY_SPARSE,
        filter=models.Filter(must_not=[_match("doc_id", "doc-1")]),
    ),
}


@pytest.mark.parametrize("kind", REQUESTS)
def test_queries_agree_between_backends(pair: tuple[Store, Store], kind: str) -> None:
    edge, client = (s.query(NAME, REQUESTS[kind]) for s in pair)
    assert edge, "the query must find something for the comparison to mean anything"
    assert_same_ranking(edge, client)
    assert edge[0].payload == client[0].payload


def test_dense_and_sparse_rankings_have_no_ties(pair: tuple[Store, Store]) -> None:
    """Guard on the data: tie-free rankings make the congruence tests compare every id."""
    for kind in ("dense", "sparse"):
        hits = pair[0].query(NAME, REQUESTS[kind])
        assert len(_tie_groups(hits, 1e-4)) == len(hits)


FILTERS: dict[str, models.Filter] = {
    "keyword": models.Filter(must=[_match("lang", "ko")]),
    "match-any": models.Filter(
        must=[models.FieldCondition(key="doc_id", match=models.MatchAny(any=["doc-1", "doc-3"]))]
    ),
    "match-except": models.Filter(
        must=[models.FieldCondition(key="lang", match=models.MatchExcept(**{"except": ["ko"]}))]
    ),
    "range": models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=5, lt=20))]),
    "datetime": models.Filter(
        must=[models.FieldCondition(key="date", range=models.DatetimeRange(gte=dt.datetime(2016, 1, 1)))]
    ),
    "must-not": models.Filter(must_not=[_match("lang", "en")]),
    "nested-should": models.Filter(
        must=[models.Filter(should=[_match("lang", "ko"), models.FieldCondition(key="n", range=models.Range(lt=5))])],
        must_not=[_match("doc_id", "doc-0")],
    ),
    "min-should": models.Filter(
        min_should=models.MinShould(
            conditions=[
                _match("lang", "ko"),
                _match("doc_id", "doc-1"),
                models.FieldCondition(key="n", range=models.Range(lt=10)),
            ],
            min_count=2,
        )
    ),
    "is-null": models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="note"))]),
    "is-empty": models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tags"))]),
    "has-id": models.Filter(must=[models.HasIdCondition(has_id=[_id(i) for i in range(0, N, 4)])]),
    "array-value": models.Filter(must=[_match("tags", "tax")]),
    "text": models.Filter(must=[models.FieldCondition(key="text", match=models.MatchText(text="penalty"))]),
    "values-count": models.Filter(must=[models.FieldCondition(key="tags", values_count=models.ValuesCount(gte=2))]),
    "nested-objects": models.Filter(
        must=[
            models.NestedCondition(
                nested=models.Nested(key="refs", filter=models.Filter(must=[_match("law", "L1"), _match("art", 2)]))
            )
        ]
    ),
    "geo-box": models.Filter(
        must=[
            models.FieldCondition(
                key="loc",
                geo_bounding_box=models.GeoBoundingBox(
                    top_left=models.GeoPoint(lon=0, lat=42), bottom_right=models.GeoPoint(lon=20, lat=40)
                ),
            )
        ]
    ),
    "geo-radius": models.Filter(
        must=[
            models.FieldCondition(
                key="loc", geo_radius=models.GeoRadius(center=models.GeoPoint(lon=0, lat=42), radius=400_000)
            )
        ]
    ),
}


@pytest.mark.parametrize("kind", FILTERS)
def test_filters_agree_between_backends(pair: tuple[Store, Store], kind: str) -> None:
    flt = FILTERS[kind]
    edge, client = pair
    selected = {h.id for h in edge.scroll(NAME, flt)}
    assert 0 < len(selected) < N, "a filter that keeps all or nothing tests nothing"
    assert selected == {h.id for h in client.scroll(NAME, flt)}
    assert edge.count(NAME, flt) == client.count(NAME, flt) == len(selected)
    request = SearchRequest(limit=5, dense=QUERY_DENSE, sparse=QUERY_SPARSE, filter=flt, exact=True)
    assert_same_ranking(edge.query(NAME, request), client.query(NAME, request))


def test_with_vectors_agree_between_backends(pair: tuple[Store, Store]) -> None:
    request = SearchRequest(limit=3, dense=QUERY_DENSE, with_vectors=True, exact=True)
    edge, client = (s.query(NAME, request) for s in pair)
    for a, b in zip(edge, client, strict=True):
        assert a.dense is not None and b.dense is not None
        assert a.dense == pytest.approx(b.dense, abs=1e-5)
        assert np.linalg.norm(a.dense) == pytest.approx(1.0, abs=1e-5)  # cosine stores unit vectors


# ---------------------------------------------------------------- contract: each backend alone


def test_create_get_list_drop(store: Store) -> None:
    assert store.list_collections() == []
    assert store.get_collection(NAME) is None
    store.create_collection(NAME, SPEC)
    store.create_collection("other.v2", CollectionSpec(dense_size=4, distance="Dot", sparse_name=None))
    assert store.list_collections() == [NAME, "other.v2"]
    assert store.drop_collection("other.v2") is True
    assert store.drop_collection("other.v2") is False
    assert store.list_collections() == [NAME]
    with pytest.raises(InputError, match="already exists"):
        store.create_collection(NAME, SPEC)


def test_collection_info(loaded: Store) -> None:
    loaded.create_collection("plain", CollectionSpec(dense_size=4, distance="Euclid", sparse_name=None))
    info = loaded.get_collection(NAME)
    assert info is not None
    assert (info.name, info.points) == (NAME, N)
    assert info.vectors == {"dense": VectorInfo(size=DIM, distance="Cosine")}
    assert info.sparse_vectors == ("sparse",)
    assert info.metadata == {"model": "test-model", "dim": DIM}
    plain = loaded.get_collection("plain")
    assert plain is not None
    assert (plain.vectors["dense"].distance, plain.sparse_vectors, plain.metadata) == ("Euclid", (), {})


def test_upsert_is_idempotent_by_id(loaded: Store) -> None:
    loaded.upsert(NAME, POINTS)
    assert loaded.count(NAME) == N
    changed = PointRecord(POINTS[0].id, {"n": -1}, POINTS[0].dense, POINTS[0].sparse)
    loaded.upsert(NAME, [changed])
    assert loaded.count(NAME) == N
    assert loaded.retrieve(NAME, [POINTS[0].id])[0].payload == {"n": -1}


def test_count_with_filters(loaded: Store) -> None:
    assert loaded.count(NAME) == N
    assert loaded.count(NAME, FILTERS["keyword"]) == sum(1 for i in range(N) if i % 3 == 0)
    assert loaded.count(NAME, FILTERS["range"]) == 15


def test_delete_by_filter(loaded: Store) -> None:
    loaded.delete(NAME, models.Filter(must=[_match("doc_id", "doc-2")]))
    assert loaded.count(NAME) == N - N // 5
    assert loaded.count(NAME, models.Filter(must=[_match("doc_id", "doc-2")])) == 0


def test_delete_ids(loaded: Store) -> None:
    gone = [p.id for p in POINTS[:3]]
    loaded.delete_ids(NAME, [*gone, _id(999)])  # an unknown id is no error
    assert loaded.count(NAME) == N - 3
    assert loaded.retrieve(NAME, gone) == []


def test_scroll_paginates_past_batch_size(loaded: Store) -> None:
    hits = list(loaded.scroll(NAME, batch_size=7))
    assert len(hits) == N
    assert {h.id for h in hits} == {p.id for p in POINTS}
    assert all(h.score == 0.0 and h.dense is None for h in hits)
    ko = list(loaded.scroll(NAME, FILTERS["keyword"], batch_size=3, with_vectors=True))
    assert {h.payload["lang"] for h in ko} == {"ko"}
    assert all(h.dense is not None and len(h.dense) == DIM for h in ko)


def test_retrieve_keeps_request_order_and_skips_missing(loaded: Store) -> None:
    wanted = [POINTS[5].id, _id(999), POINTS[2].id.upper(), POINTS[5].id]
    hits = loaded.retrieve(NAME, wanted, with_vectors=True)
    assert [h.id for h in hits] == [POINTS[5].id, POINTS[2].id]
    assert hits[0].payload == POINTS[5].payload
    assert hits[0].dense is not None and len(hits[0].dense) == DIM
    assert loaded.retrieve(NAME, []) == []


def test_score_threshold(loaded: Store) -> None:
    everything = loaded.query(NAME, SearchRequest(limit=N, dense=QUERY_DENSE, exact=True))
    above = loaded.query(NAME, SearchRequest(limit=N, dense=QUERY_DENSE, exact=True, score_threshold=0.2))
    assert 0 < len(above) < len(everything)
    assert all(h.score >= 0.2 for h in above)
    assert [h.id for h in above] == [h.id for h in everything[: len(above)]]


def test_rrf_weights_change_the_ranking(loaded: Store) -> None:
    dense_top = loaded.query(NAME, SearchRequest(limit=1, dense=QUERY_DENSE, exact=True))[0].id
    sparse_top = loaded.query(NAME, SearchRequest(limit=1, sparse=QUERY_SPARSE))[0].id
    assert dense_top != sparse_top

    def hybrid(weights: tuple[float, float]) -> list[str]:
        # a small k lets the weights dominate; with k=60 every rank scores about the same
        request = SearchRequest(limit=10, dense=QUERY_DENSE, sparse=QUERY_SPARSE, weights=weights, rrf_k=1, exact=True)
        return [h.id for h in loaded.query(NAME, request)]

    dense_heavy, sparse_heavy = hybrid((5.0, 0.2)), hybrid((0.2, 5.0))
    assert dense_heavy[0] == dense_top
    assert sparse_heavy[0] == sparse_top
    assert dense_heavy != sparse_heavy


def test_dbsf_fuses_both_lists(loaded: Store) -> None:
    request = SearchRequest(limit=10, dense=QUERY_DENSE, sparse=QUERY_SPARSE, fusion="dbsf", exact=True)
    hits = loaded.query(NAME, request)
    assert len(hits) == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    rrf = loaded.query(NAME, SearchRequest(limit=10, dense=QUERY_DENSE, sparse=QUERY_SPARSE, exact=True))
    assert [h.score for h in hits] != pytest.approx([h.score for h in rrf])


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_hybrid_filter_reaches_the_prefetches(loaded: Store, fusion: str) -> None:
    request = SearchRequest(
        limit=N, dense=QUERY_DENSE, sparse=QUERY_SPARSE, fusion=fusion,  # type: ignore[arg-type]
        filter=FILTERS["keyword"],
    )  # fmt: skip
    hits = loaded.query(NAME, request)
    assert {h.payload["lang"] for h in hits} == {"ko"}
    assert len(hits) == loaded.count(NAME, FILTERS["keyword"])


def test_hnsw_search_params_are_accepted(loaded: Store) -> None:
    exact = loaded.query(NAME, SearchRequest(limit=5, dense=QUERY_DENSE, exact=True))
    approx = loaded.query(NAME, SearchRequest(limit=5, dense=QUERY_DENSE, hnsw_ef=128))
    assert [h.id for h in approx] == [h.id for h in exact]  # 40 points: below any HNSW threshold


def test_metadata_round_trip_and_merge(loaded: Store) -> None:
    loaded.set_metadata(NAME, {"weights": [0.7, 0.3], "dim": 9})
    info = loaded.get_collection(NAME)
    assert info is not None
    assert info.metadata == {"model": "test-model", "dim": 9, "weights": [0.7, 0.3]}


def test_payload_indexes(loaded: Store) -> None:
    for key, schema in [("doc_id", "keyword"), ("n", "integer"), ("date", "datetime"), ("text", "text")]:
        loaded.create_payload_index(NAME, key, schema)  # type: ignore[arg-type]
    loaded.create_payload_index(NAME, "lang", "keyword", is_tenant=True)
    assert loaded.count(NAME, FILTERS["keyword"]) == sum(1 for i in range(N) if i % 3 == 0)
    assert loaded.count(NAME, FILTERS["range"]) == 15
    with pytest.raises(InputError, match="unknown payload schema"):
        loaded.create_payload_index(NAME, "x", "geo")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="is_tenant"):
        loaded.create_payload_index(NAME, "n", "integer", is_tenant=True)


BAD_NAMES = ["", "../escape", "a/b", "-dash", "x" * 256, "has space"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_invalid_names_are_rejected(store: Store, bad: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.create_collection(bad, SPEC),
        lambda: store.get_collection(bad),
        lambda: store.drop_collection(bad),
        lambda: store.count(bad),
        lambda: store.upsert(bad, POINTS[:1]),
        lambda: store.query(bad, SearchRequest(limit=1, dense=QUERY_DENSE)),
        lambda: store.scroll(bad),
        lambda: store.set_metadata(bad, {}),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="invalid collection name"):
            call()


def test_missing_collection_errors_say_what_to_do(store: Store) -> None:
    store.create_collection("present", SPEC)
    assert store.get_collection("nope") is None
    assert store.drop_collection("nope") is False
    calls: list[Callable[[], object]] = [
        lambda: store.query("nope", SearchRequest(limit=1, dense=QUERY_DENSE)),
        lambda: store.upsert("nope", POINTS[:1]),
        lambda: store.count("nope"),
        lambda: store.scroll("nope"),
        lambda: store.retrieve("nope", [POINTS[0].id]),
        lambda: store.delete("nope", FILTERS["keyword"]),
        lambda: store.delete_ids("nope", [POINTS[0].id]),
        lambda: store.set_metadata("nope", {"a": 1}),
        lambda: store.create_payload_index("nope", "lang", "keyword"),
    ]
    for call in calls:
        with pytest.raises(CollectionNotFoundError) as err:
            call()
        assert "ingest_paths(..., collection='nope')" in str(err.value) and "collection=" in str(err.value)
        assert "present" in str(err.value)


def test_bad_input_is_an_input_error(loaded: Store) -> None:
    loaded.create_collection("dense-only", CollectionSpec(dense_size=DIM, sparse_name=None))
    calls: list[Callable[[], object]] = [
        lambda: loaded.upsert(NAME, [PointRecord("not-a-uuid", {}, QUERY_DENSE)]),
        lambda: loaded.upsert(NAME, [PointRecord(_id(1), {}, [1.0, 2.0])]),
        lambda: loaded.query(NAME, SearchRequest(limit=3, dense=[1.0, 2.0])),
        lambda: loaded.query(NAME, SearchRequest(limit=3)),
        lambda: loaded.query(NAME, SearchRequest(limit=0, dense=QUERY_DENSE)),
        lambda: loaded.query(NAME, SearchRequest(limit=3, dense=QUERY_DENSE, filter={"lang": "ko"})),  # type: ignore[arg-type]
        lambda: loaded.query("dense-only", SearchRequest(limit=3, sparse=QUERY_SPARSE)),
        lambda: loaded.scroll(NAME, batch_size=0),
        lambda: loaded.create_collection("bad-spec", CollectionSpec(dense_size=0)),
    ]
    for call in calls:
        with pytest.raises(InputError):
            call()


@pytest.mark.filterwarnings("ignore::UserWarning")  # no server at that URL, and an API key over http
def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    edge = open_store(Settings(qdrant_path=tmp_path / "q"))
    assert isinstance(edge, EdgeStore) and edge.root == tmp_path / "q"
    server = open_store(Settings(qdrant_url="http://127.0.0.1:9", qdrant_api_key="secret", qdrant_timeout=0.5))
    assert isinstance(server, ClientStore)
    server.close()


def test_client_metadata_lives_in_the_collection_config() -> None:
    client = QdrantClient(":memory:")
    ClientStore(client).create_collection(NAME, SPEC)
    assert client.get_collection(NAME).config.metadata == {"model": "test-model", "dim": DIM}


# ---------------------------------------------------------------- edge only

_HOLD = textwrap.dedent(
    """
    import sys
    from legalrag.plugin.store import EdgeStore, PointRecord
    store = EdgeStore(sys.argv[1])
    store.claim("laws")  # the writer
    store.upsert("laws", [PointRecord(sys.argv[2], {"n": 1}, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])])
    print("ready", flush=True)
    sys.stdin.readline()
    store.close()
    """
)

_TRY = textwrap.dedent(
    """
    import sys
    from legalrag.plugin.errors import StoreLockedError
    from legalrag.plugin.store import EdgeStore
    store = EdgeStore(sys.argv[1])
    print(store.count("laws"), flush=True)  # a reader: never blocked by the writer
    try:
        store.claim("laws")
    except StoreLockedError as exc:
        print(exc)
        sys.exit(3)
    """
)

_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from legalrag.plugin.store import CollectionSpec, EdgeStore, PointRecord
    store = EdgeStore(sys.argv[1])
    store.create_collection("laws", CollectionSpec(dense_size=4, sparse_name=None))
    ids = sys.argv[2:]
    store.upsert("laws", [PointRecord(i, {"n": n}, [1.0, 0.0, 0.5, float(n)]) for n, i in enumerate(ids)])
    store.delete_ids("laws", ids[:5])
    store.set_metadata("laws", {"tuned": True})
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def test_edge_second_writer_is_refused_and_readers_are_not(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    with EdgeStore(root) as setup:
        setup.create_collection(NAME, SPEC)
    holder = subprocess.Popen(
        _python(_HOLD, str(root), _id(1)), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        store = EdgeStore(root, refresh_seconds=0.0)
        assert store.count(NAME) == 0  # the published version: the writer's point is not published yet
        with pytest.raises(StoreLockedError) as err:
            store.upsert(NAME, POINTS[:1])
        message = str(err.value)
        assert f"pid {holder.pid}" in message and "store.claim" in message  # the holder's command line
        assert "LEGALRAG_QDRANT_URL" in message
        holder.communicate("\n", timeout=30)
        assert holder.returncode == 0
        assert store.count(NAME) == 1  # the writer published when it closed; the reader moved to it
        store.upsert(NAME, POINTS[:1])  # free again once the holder closed: this store is now the writer
        mine = subprocess.run(_python(_TRY, str(root)), capture_output=True, text=True, timeout=60)
        store.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert mine.returncode == 3, mine.stderr
    count, refusal = mine.stdout.split("\n", 1)
    assert count == "1" and f"pid {os.getpid()}" in refusal


def test_edge_writer_in_the_same_process(tmp_path: Path) -> None:
    with EdgeStore(tmp_path) as first:
        first.create_collection(NAME, SPEC)
        first.upsert(NAME, POINTS[:3])
        with pytest.raises(StoreLockedError, match="already open in this process"):
            EdgeStore(tmp_path).upsert(NAME, POINTS[:1])
        with pytest.raises(StoreLockedError):
            EdgeStore(tmp_path).drop_collection(NAME)
        first.optimize(NAME)  # publishes
        with EdgeStore(tmp_path) as reader:
            assert reader.count(NAME) == 3
    with EdgeStore(tmp_path) as second:
        assert second.count(NAME) == 3


def test_edge_writes_survive_sigkill(tmp_path: Path) -> None:
    ids = [_id(i) for i in range(30)]
    run = subprocess.run(_python(_KILLED_WRITER, str(tmp_path), *ids), capture_output=True, text=True, timeout=60)
    assert run.returncode == -signal.SIGKILL, run.stderr
    with EdgeStore(tmp_path) as store:  # the kernel dropped the dead writer's lock; its work was never published
        assert store.count(NAME) == 25  # a reader publishes the working shard of a writer that is gone
        assert store.retrieve(NAME, [ids[7]])[0].payload == {"n": 7}
        info = store.get_collection(NAME)
        assert info is not None and info.metadata == {"tuned": True}
    with EdgeStore(tmp_path) as store:
        store.upsert(NAME, [PointRecord(ids[0], {"n": -1}, [1.0, 0.0, 0.5, 0.0])])  # the writer resumes it
        assert store.count(NAME) == 26


def test_edge_reopen_after_close_keeps_points_and_metadata(tmp_path: Path) -> None:
    with EdgeStore(tmp_path) as store:
        store.create_collection(NAME, SPEC)
        store.upsert(NAME, POINTS)
        store.set_metadata(NAME, {"weights": [0.6, 0.4]})
        before = store.query(NAME, REQUESTS["rrf"])
    document = json.loads((tmp_path / NAME / "collection.json").read_text())
    assert document["metadata"] == {"model": "test-model", "dim": DIM, "weights": [0.6, 0.4]}
    with EdgeStore(tmp_path) as store:
        info = store.get_collection(NAME)
        assert info is not None and info.points == N
        assert info.metadata["weights"] == [0.6, 0.4]
        assert_same_ranking(store.query(NAME, REQUESTS["rrf"]), before)


def test_edge_optimize_then_query(tmp_path: Path) -> None:
    spec = CollectionSpec(dense_size=DIM, hnsw_m=8, hnsw_ef_construct=32, on_disk=True)
    with EdgeStore(tmp_path) as store:
        store.create_collection(NAME, spec)
        store.upsert(NAME, _points(n=300, seed=3))
        store.delete_ids(NAME, [_id(i) for i in range(50)])
        before = store.query(NAME, REQUESTS["dense"])
        store.optimize(NAME)
        assert store.count(NAME) == 250
        assert_same_ranking(store.query(NAME, REQUESTS["dense"]), before)
        assert_same_ranking(store.query(NAME, REQUESTS["rrf"]), store.query(NAME, REQUESTS["rrf"]))


def test_edge_lists_only_collections_and_drop_removes_the_folder(tmp_path: Path) -> None:
    (tmp_path / "stray").mkdir()
    (tmp_path / "file.txt").write_text("x")
    with EdgeStore(tmp_path) as store:
        store.create_collection(NAME, SPEC)
        assert store.list_collections() == [NAME]
        assert store.drop_collection(NAME) is True
        assert not (tmp_path / NAME).exists()
        assert store.list_collections() == []
        assert store.drop_collection("stray") is False  # not a collection: left alone
        assert (tmp_path / "stray").is_dir()


def test_edge_filter_translation_refuses_what_it_cannot_run() -> None:
    slice_filter = models.Filter(must=[models.SliceCondition(slice=models.Slice(index=0, total=2))])
    with pytest.raises(InputError, match="SliceCondition"):
        to_edge_filter(slice_filter)
    # qdrant-client validates datetimes itself; a constructed model shows the edge side's own check
    bad_range = models.DatetimeRange.model_construct(gte="nonsense", gt=None, lte=None, lt=None)
    with pytest.raises(InputError, match="datetime"):
        to_edge_filter(models.Filter(must=[models.FieldCondition(key="d", range=bad_range)]))
