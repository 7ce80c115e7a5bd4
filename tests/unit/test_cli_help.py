"""Every command's --help names the environment variables its flags fall back to (rich markup once ate
``[env ...]`` as a style tag and printed "Collection name .")."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.cli._options import Connection, connected


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


CONNECTION = {"qdrant_url", "qdrant_api_key", "qdrant_path", "as_json"}


def _commands(command: object, path: str = "legalrag") -> list[tuple[str, object]]:
    found = [(path, command)]
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        found += _commands(sub, f"{path} {name}")
    return found


def test_every_store_command_takes_the_connection_flags_from_one_declaration() -> None:
    root = typer.main.get_command(app)
    for path, command in _commands(root)[1:]:
        if path == "legalrag chunk" or path == "legalrag collections snapshot":  # no store to connect to
            continue
        names = {p.name for p in command.params}  # type: ignore[attr-defined]
        assert names >= CONNECTION, path
        assert set(Connection.__dataclass_fields__) >= names & (CONNECTION | {"device"}), path


def test_a_connected_command_receives_one_connection() -> None:
    seen: list[Connection] = []

    @connected(device=False)
    def probe(name: str, *, conn: Connection) -> None:
        seen.append(conn)

    small = typer.Typer()
    small.command()(probe)
    small.command("other")(lambda: None)
    result = CliRunner().invoke(small, ["probe", "x", "--qdrant-path", "store", "--json"])
    assert result.exit_code == 0, result.output
    assert seen == [Connection(qdrant_path=Path("store"), as_json=True)]
    help_text = CliRunner().invoke(small, ["probe", "--help"], terminal_width=200).output
    assert "--device" not in help_text and "--qdrant-url" in help_text
