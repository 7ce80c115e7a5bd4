"""Shared helpers for the benchmarks: the card-legal-data corpus, subprocess workers, peak RSS."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

__all__ = ["DATA", "RESULTS", "ROOT", "corpus_root", "doc_root", "legal_files", "peak_rss_mb", "run_worker"]

#: the repository (benchmarks run from here: ``python -m bench.<kind>.<name>``)
ROOT = Path(__file__).resolve().parent.parent
#: data sets the benchmarks build (git-ignored), and their raw JSON results (git-ignored)
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"


def corpus_root() -> Path:
    spec = importlib_util.find_spec("card_legal_data")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the benchmark corpus is missing: pip install 'legalrag[bench]' (card-legal-data)")
    return Path(next(iter(spec.submodule_search_locations)))


def doc_root(files: list[Path]) -> Path:
    """The folder every file lies under: document ids are paths below it (two files of one name in
    different folders of the corpus stay two documents)."""
    return Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path()


def legal_files(max_mb: float | None = None, parts: tuple[str, ...] = ("law_api",)) -> list[Path]:
    """Statutes (``law_api/**/*.md``) and self-regulations (``*/self_regulations/*.json``), sorted.

    With ``max_mb`` an evenly spaced, deterministic sample is taken until that many MB are reached.
    """
    root = corpus_root()
    files: list[Path] = []
    if "law_api" in parts:
        files += sorted((root / "law_api").rglob("*.md"))
    if "self_regulations" in parts:
        files += sorted(root.glob("*/self_regulations/*.json"))
    if max_mb is None:
        return files
    budget = max_mb * 1e6
    step = max(1, round(sum(f.stat().st_size for f in files) / budget))
    picked: list[Path] = []
    total = 0
    for f in files[::step] + [f for i, f in enumerate(files) if i % step]:
        if total >= budget:
            break
        picked.append(f)
        total += f.stat().st_size
    return sorted(picked)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def run_worker(module: str, args: list[str]) -> dict[str, Any]:
    """Run ``python -m module ...`` in a fresh process (so peak RSS is its own) and read its JSON."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
