"""The root package is the one place users import from, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import legalrag

pytestmark = pytest.mark.unit

USER_NAMES = (
    "LegalRetriever",
    "Settings",
    "ingest_paths",
    "ingest_documents",
    "evaluate_collection",
    "train_model",
    "open_store",
    "open_searcher",
    "IngestOptions",
    "EvalOptions",
    "TrainOptions",
)


def test_every_user_name_imports_from_the_root() -> None:
    for name in USER_NAMES:
        assert name in legalrag.__all__
        assert getattr(legalrag, name) is not None
    assert sorted(dir(legalrag)) == sorted(legalrag.__all__)


def test_root_names_are_the_library_objects_themselves() -> None:
    from legalrag.ingest.service import ingest_paths
    from legalrag.plugin.langchain.retriever import LegalRetriever
    from legalrag.plugin.settings import Settings

    assert legalrag.ingest_paths is ingest_paths
    assert legalrag.LegalRetriever is LegalRetriever
    assert legalrag.Settings is Settings


def test_an_unknown_root_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'ingest_path'"):
        legalrag.ingest_path  # type: ignore[attr-defined]  # noqa: B018 - a typo of ingest_paths


def test_importing_the_root_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, legalrag; print(sorted(m for m in ('torch', 'qdrant_client', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_job_takes_few_parameters() -> None:
    import inspect

    for name in ("ingest_paths", "ingest_documents", "evaluate_collection", "train_model", "chunk_paths"):
        assert len(inspect.signature(getattr(legalrag, name)).parameters) <= 12, name
