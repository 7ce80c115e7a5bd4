"""Every command's --help names the environment variables its flags fall back to (rich markup once ate
``[env ...]`` as a style tag and printed "Collection name .")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from legalrag.cli import app


@pytest.mark.parametrize(
    ("command", "names"),
    [
        (["ingest"], ["LEGALRAG_COLLECTION", "LEGALRAG_MODEL", "LEGALRAG_QDRANT_PATH", "LEGALRAG_EMBEDDING__BACKEND"]),
        (["search"], ["LEGALRAG_COLLECTION", "LEGALRAG_SEARCH__K", "LEGALRAG_QDRANT_URL"]),
        (["eval"], ["LEGALRAG_DEVICE", "LEGALRAG_QDRANT_PATH"]),
        (["train"], ["LEGALRAG_COLLECTION", "LEGALRAG_QDRANT_API_KEY"]),
    ],
)
def test_help_names_the_environment(command: list[str], names: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "250"}, terminal_width=250)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for name in names:
        assert name in text, name
    assert " ." not in text.replace("...", "")
