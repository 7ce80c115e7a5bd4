"""A search while another process writes the embedded store: a clear, quick refusal, never a hang.

qdrant-edge lets one process hold a collection; legalrag's ``EdgeStore`` takes an exclusive
``flock`` and a second opener gets :class:`StoreLockedError` naming the holder (pid and command
line). Here process A writes in a loop while process B runs ``legalrag search --json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from legalrag.plugin.errors import StoreLockedError
from legalrag.plugin.store import EdgeStore
from tests.conftest import MINILM

NAME = "laws"
DEADLINE_S = 20.0

WRITER = textwrap.dedent(
    """
    import random, sys, time, uuid
    from legalrag.plugin.store import CollectionSpec, EdgeStore, PointRecord

    path, ready = sys.argv[1], sys.argv[2]
    store = EdgeStore(path)
    store.create_collection("laws", CollectionSpec(dense_size=8, metadata={"model": "test"}))
    open(ready, "w").close()
    stop = time.monotonic() + 120  # never outlive a test that forgot us
    while time.monotonic() < stop:
        point = PointRecord(id=str(uuid.uuid4()), payload={"t": time.time()}, dense=[random.random()] * 8)
        store.upsert("laws", [point])
        time.sleep(0.005)
    """
)


@pytest.fixture()
def writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Process A: holds ``laws`` open in ``tmp_path/qdrant`` and upserts a point every few ms."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    ready = tmp_path / "ready"
    store = tmp_path / "qdrant"
    proc = subprocess.Popen([sys.executable, str(script), str(store), str(ready)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"writer did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
        yield proc, store
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("legalrag")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from legalrag.cli import app; app()"]


def test_search_while_ingest_writes_names_the_holder(writer: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, store = writer
    command = [
        *_cli(),
        "search",
        "개인정보 수집",
        "--collection",
        NAME,
        "--qdrant-path",
        str(store),
        "--model",
        MINILM,
        "--device",
        "cpu",
        "--json",
    ]
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=DEADLINE_S, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    error = json.loads(lines[0])
    # the collection's first ingest is running: nothing is published yet, and the error says so
    assert error["type"] == "NotPublishedError" and error["exit_code"] == 1
    assert "no published version yet" in error["error"]
    assert f"pid {proc.pid}" in error["error"] and "writer.py" in error["error"]
    assert "\n" not in error["error"]
    assert proc.poll() is None, "the writer must keep running"
    messages = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(messages) == 1 and f"pid {proc.pid}" in messages[0], result.stderr


def test_lock_is_released_when_the_writer_dies(writer: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, store = writer
    with pytest.raises(StoreLockedError, match=f"pid {proc.pid}"):
        EdgeStore(store).count(NAME)
    time.sleep(0.2)  # some writes
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with EdgeStore(store) as reopened:  # the kernel dropped the flock with the process
        assert reopened.count(NAME) > 0  # and the acknowledged writes survived the kill


def test_a_lock_collected_at_interpreter_exit_releases_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # regression: a store dropped without close() and collected during interpreter shutdown, when module
    # globals are already None, raised AttributeError ('NoneType' object has no attribute 'flock') there
    from legalrag.plugin.store.edge import files as _edge_files

    lock = _edge_files.DirLock.acquire(tmp_path, NAME)
    monkeypatch.setattr(_edge_files, "fcntl", None)
    monkeypatch.setattr(_edge_files, "os", None)
    lock.__del__()
    monkeypatch.undo()
    _edge_files.DirLock.acquire(tmp_path, NAME).release()  # free again
