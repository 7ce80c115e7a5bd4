"""Bad input at the CLI's edges: each gives exit 2, one line naming the fix, and writes nothing.

The store is a real embedded collection built with the real model (all-MiniLM-L6-v2, 384-d cosine)
and real BM25 vectors; every refusal is checked against the collections' contents afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.collection import ensure_collection
from legalrag.plugin.langchain.embeddings import LegalEmbeddings
from legalrag.plugin.schema import TEXT_KEY, point_id
from legalrag.plugin.store import CollectionSpec, EdgeStore, PointRecord
from legalrag.plugin.text.bm25 import BM25Encoder
from tests.conftest import EXAMPLES, MINILM
from tests.helpers.legal_corpus import populate

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, minilm_encoder: Any) -> tuple[Path, dict[str, Any]]:
    """``laws`` (MiniLM-shaped, with points), ``small`` (dim 8) and ``dotty`` (384-d, Dot); their contents."""
    path = tmp_path_factory.mktemp("edges") / "qdrant"
    bm25 = BM25Encoder()
    texts = [
        "Article 6. Processing shall be lawful only if the data subject has given consent.",
        "Article 7. The controller shall be able to demonstrate that the data subject has consented.",
        "Article 17. The data subject shall have the right to obtain the erasure of personal data.",
        "Section 16. The card issuer is liable for losses after the holder reports a lost card.",
    ]
    dense = LegalEmbeddings.from_encoder(minilm_encoder).embed_documents(texts)
    sparse = bm25.encode_documents(texts, ["en"] * len(texts))
    points = [
        PointRecord(
            point_id("act", "v1", i),
            {
                "doc_id": "act",
                "title": "Act",
                "article": text.split(".")[0],
                "year": 2016 + i,
                TEXT_KEY: text,
            },
            dense[i],
            sparse[i],
        )
        for i, text in enumerate(texts)
    ]
    with EdgeStore(path) as store:
        populate(store, "laws", points, bm25)
        store.set_metadata("laws", {"model": MINILM})
        for name, dimension, distance in (("small", 8, "Cosine"), ("dotty", 384, "Dot")):
            ensure_collection(store, name, dimension=dimension, distance=distance, model="other-model", sparse=False)
    return path, contents(path)


@pytest.fixture()
def store_path(built: tuple[Path, dict[str, Any]]) -> Iterator[Path]:
    path, before = built
    yield path
    assert contents(path) == before, "a refused command must not write"


def contents(path: Path) -> dict[str, Any]:
    """Every collection's point ids, payload hashes and metadata: what a write would change."""
    with EdgeStore(path) as store:
        return {
            name: (
                sorted((hit.id, json.dumps(hit.payload, sort_keys=True)) for hit in store.scroll(name)),
                dict(store.get_collection(name).metadata),  # type: ignore[union-attr]
            )
            for name in store.list_collections()
        }


def refuse(*args: str) -> str:
    """Run the CLI with --json; assert exit 2 and a one-line error on stdout and stderr; return it."""
    args = (*args[: args.index("--")], "--json", *args[args.index("--") :]) if "--" in args else (*args, "--json")
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    document = json.loads(lines[0])
    assert document["exit_code"] == 2 and "\n" not in document["error"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {document['error']}"]
    return str(document["error"])


def search(store_path: Path, query: str, *extra: str, collection: str = "laws") -> list[str]:
    return [
        "search",
        query,
        "-c",
        collection,
        "--model",
        MINILM,
        "--device",
        "cpu",
        "--qdrant-path",
        str(store_path),
        *extra,
    ]


def test_the_fixture_searches(store_path: Path) -> None:
    result = runner.invoke(app, [*search(store_path, "personal data consent", "-k", "3"), "--json"])
    assert result.exit_code == 0, result.stdout
    assert len(json.loads(result.stdout)["hits"]) == 3


def test_invalid_collection_names(store_path: Path) -> None:
    for name in ("bad/name", "../etc", ".hidden", "has space", "-x", "x" * 256):
        message = refuse(*search(store_path, "consent", collection=name))
        assert "invalid collection name" in message and "letters, digits" in message
        for command in (["inspect"], ["drop", "--yes"], ["snapshot", "create"], ["snapshot", "list"]):
            # "--" lets a name that starts with "-" through click as an argument
            message = refuse("collections", *command, "--qdrant-path", str(store_path), "--", name)
            assert "invalid collection name" in message
    assert sorted(p.name for p in store_path.iterdir()) == ["dotty", "laws", "small"]


def test_dimension_mismatch(store_path: Path) -> None:
    message = refuse(*search(store_path, "consent", collection="small"))
    assert "dim 8" in message and "384" in message and "--collection" in message


def test_distance_mismatch(store_path: Path) -> None:
    message = refuse(*search(store_path, "consent", collection="dotty"))
    assert "Dot" in message and "Cosine" in message and "--recreate" in message


def test_missing_collection(store_path: Path) -> None:
    message = refuse(*search(store_path, "consent", collection="nope"))
    assert "does not exist" in message and "laws" in message and "legalrag ingest" in message
    for command in (
        ["collections", "inspect", "nope"],
        ["collections", "drop", "nope", "--yes"],
        ["collections", "snapshot", "create", "nope"],
        ["collections", "snapshot", "list", "nope"],
    ):
        assert "does not exist" in refuse(*command, "--qdrant-path", str(store_path))
    assert not (store_path / "nope").exists()


def test_empty_query(store_path: Path) -> None:
    for query in ("", "   ", "\n\t"):
        assert "query is empty" in refuse(*search(store_path, query))


def test_absurd_k(store_path: Path) -> None:
    for k in ("0", "-1", str(10**9)):
        for extra in ([], ["--group-by", "article"]):
            message = refuse(*search(store_path, "consent", "-k", k, *extra))
            assert f"got {k}" in message and "between 1 and 10000" in message


def test_malformed_filter_json(store_path: Path) -> None:
    for text, expected in (
        ("{bad", "not valid JSON"),
        ("", "not valid JSON"),
        ('["title"]', "must be a JSON object"),
        ('"title"', "must be a JSON object"),
    ):
        assert expected in refuse(*search(store_path, "consent", "--filter", text))


MALFORMED_FILTERS = [
    ({"$or": "title"}, "$or takes a non-empty list"),
    ({"$and": []}, "$and takes a non-empty list"),
    ({"$foo": 1}, "unknown filter operator '$foo'"),
    ({"year": {"$gtx": 1}}, "unknown operator '$gtx'"),
    ({"title": []}, "filter list for 'title' is empty"),
    ({"title": None}, "must be a string, integer or bool"),
    ({"title": {"nested": {"deeper": 1}}}, "unknown operator 'nested'"),
    ({"year": {"$gte": 1, "$lt": "2020"}}, "mixes types"),
    ({"year": {"$gte": "not-a-date"}}, "ISO dates"),
    ({"$or": [{"title": 1.5}]}, "must be a string, integer or bool"),
]


def test_malformed_filter_structure(store_path: Path) -> None:
    for spec, expected in MALFORMED_FILTERS:
        assert expected in refuse(*search(store_path, "consent", "--filter", json.dumps(spec)))


def test_ingest_refusals_write_nothing(store_path: Path) -> None:
    corpus = str(EXAMPLES / "corpus" / "vi")
    common = ["--model", MINILM, "--device", "cpu", "--qdrant-path", str(store_path)]
    assert "invalid collection name" in refuse("ingest", corpus, "-c", "bad/name", *common)
    message = refuse("ingest", corpus, "-c", "small", *common)
    assert "dim 8" in message and "384" in message
    assert "Dot" in refuse("ingest", corpus, "-c", "dotty", *common)
    assert "not found" in refuse("ingest", str(EXAMPLES / "missing"), "-c", "laws", *common)


def test_spec_checks_refuse_before_writing(tmp_path: Path) -> None:
    from legalrag.plugin.errors import InputError

    with EdgeStore(tmp_path) as store:
        for spec in (
            CollectionSpec(dense_size=4, quantization="pq"),  # type: ignore[arg-type]
            CollectionSpec(dense_size=4, shard_number=0),
            CollectionSpec(dense_size=4, hnsw_m=-1),
        ):
            with pytest.raises(InputError, match=r"quantization|must be positive"):
                store.create_collection("c", spec)
        assert store.list_collections() == []
