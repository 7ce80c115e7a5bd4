"""The project speaks of itself: no text in the tree says how or when it was made.

Docs, code, comments, benchmarks and tests describe what the software does and why; a machine is
described by its spec. Numbered stretches of work, the names of the tools the work was organised with,
and the wording of what was asked for mean nothing to a user and go stale.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# The phrases are assembled from pieces so that this file does not itself hold the words it looks for.
_PHRASES = [
    "sess" + r"ion[ -]?\d+",
    "sess" + r"ions? \d+",
    "dev" + "ice tool",
    "the bri" + r"ef\b",
    "the se" + r"eds?\b",
    "se" + r"eds' (layout|cards)",
    "iss" + r"ue.s (target|numbers)",
    "qu" + r"iet (development )?machine",
    "develop" + "ment machine",
    r"\bcar" + r"ry \[",
    "work per" + "iod",
    "accept" + "ance (wording|criteria)",
    r"\biss" + r"ues? #?\d+",
    "att" + "ack run",
    r"\bfind" + r"ings? \d",
]
WORDS = re.compile("|".join(_PHRASES), re.IGNORECASE)
SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".sh", ".cfg", ".txt", ""}


def _tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    names = listed.stdout.splitlines() if listed.returncode == 0 else []
    if not names:  # not a git checkout (an sdist): every file under the project's folders
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return [ROOT / name for name in names]


def _offending(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if WORDS.search(line)]


def test_no_text_in_the_tree_says_how_the_project_was_made() -> None:
    found = []
    for path in _tracked():
        if path.suffix not in SUFFIXES or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {line[:120]}" for line in _offending(text)]
    assert not found, "describe the software and the machine's spec instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "measured in sess" + "ion 11 on the qu" + "iet machine",
        "run it with the dev" + "ice tool and car" + 'ry [".whl"]',
        "the model card in the se" + "eds' layout",
        "the iss" + "ue's target is met",
        "identical results (iss" + "ue 13)",
        "regression tests for the att" + "ack run (find" + "ings 1, 4)",
    ],
)
def test_the_check_catches_such_words(line: str) -> None:
    assert _offending(line)


@pytest.mark.parametrize(
    "line",
    ["Measured on a 2-core Intel Xeon with AMX-BF16", "documents carry BM25 term frequencies", "the issuer's card"],
)
def test_the_check_leaves_plain_descriptions_alone(line: str) -> None:
    assert not _offending(line)
