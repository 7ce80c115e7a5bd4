"""A live app and a nightly ingest on one embedded store: the reader never fails, sees the
new documents soon after the ingest ends, and keeps serving when the writer is killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, MINILM

READER = textwrap.dedent(
    """
    import json, sys, time
    from legalrag.plugin import LegalRetriever, Settings, open_searcher
    from legalrag.plugin.store import EdgeStore
    store = EdgeStore(sys.argv[1])
    retriever = LegalRetriever(searcher=open_searcher(Settings(collection="laws"), store, mode="sparse"), k=50)
    stop = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < stop:
        try:
            docs = retriever.invoke("개인정보 수집")
            found = sorted({d.metadata["doc_id"] for d in docs})
            row = {"t": time.time(), "points": store.count("laws"), "docs": found}
        except Exception as exc:  # every failure is reported, none stops the loop
            row = {"t": time.time(), "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(row, ensure_ascii=False), flush=True)
        time.sleep(0.05)
    store.close()
    """
)


def _ingest(corpus: Path, store: Path) -> list[str]:
    script = Path(sys.executable).with_name("legalrag")
    command = [str(script)] if script.is_file() else [sys.executable, "-c", "from legalrag.cli import app; app()"]
    return [*command, "ingest", str(corpus), "-c", "laws", "--model", MINILM, "--device", "cpu",
            "--qdrant-path", str(store), "--json"]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus" / "ko", folder / "ko")
    return folder


def _rows(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_reader_keeps_answering_while_an_ingest_writes_and_sees_its_documents(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "q"
    first = subprocess.run(_ingest(corpus, store), env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(store), "90"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(8)  # the reader is up and answering (Kiwi loaded)
        shutil.copytree(EXAMPLES / "corpus" / "vi", corpus / "vi")
        started = time.time()
        second = subprocess.run(_ingest(corpus, store), env=_env(), capture_output=True, text=True, timeout=300)
        finished = time.time()
        assert second.returncode == 0, second.stderr  # no lock error: the reader holds no writer lock
        report = json.loads(second.stdout)
        assert report["added"] == 1 and report["updated"] == report["deleted"] == 0
        time.sleep(6)
    finally:
        reader.send_signal(signal.SIGTERM)
        out, err = reader.communicate(timeout=60)
    rows = _rows(out)
    assert rows, err
    errors = [r for r in rows if "error" in r]
    assert errors == [], errors[:3]
    before = rows[0]["points"]
    after = [r for r in rows if r["points"] != before]
    assert after, "the reader never saw the new version"
    assert float(after[0]["t"]) - finished <= 5.0  # visible within 5 s of the ingest finishing
    # never a half-written version: only the finished one (published once every chunk is stored, before the
    # process's own close and exit, so possibly a little before `finished`), and only after the ingest began
    assert {r["points"] for r in after} == {before + report["upserted"]}, sorted({r["points"] for r in after})
    assert all(float(r["t"]) >= started for r in after)


def test_a_killed_writer_leaves_the_reader_serving(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "q"
    first = subprocess.run(_ingest(corpus, store), env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(store), "90"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(8)
        shutil.copytree(EXAMPLES / "corpus" / "vi", corpus / "vi")
        (corpus / "ko" / "개인정보보호법_발췌.md").write_text("제1조(목적) 바뀐 내용\n", encoding="utf-8")
        writer = subprocess.Popen(_ingest(corpus, store), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not (store / "laws" / ".lock").exists() or not _locked(store / "laws" / ".lock"):
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        time.sleep(4)
    finally:
        reader.send_signal(signal.SIGTERM)
        out, err = reader.communicate(timeout=60)
    rows = _rows(out)
    assert rows and [r for r in rows if "error" in r] == [], err
    assert {r["points"] for r in rows} == {rows[0]["points"]}  # the killed run published nothing
    rerun = subprocess.run(_ingest(corpus, store), env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr  # the next writer finishes the job


def _locked(path: Path) -> bool:
    import fcntl

    with open(path, "rb") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def _appendable(root: Path, tmp_path: Path) -> None:
    """The example corpus ingested by the CLI into collection ``laws`` (small: appendable segments)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus", corpus)
    ingest = [str(Path(sys.executable).with_name("legalrag")), "ingest", str(corpus), "-c", "laws", "--model", MINILM]
    subprocess.run([*ingest, "--qdrant-path", str(root), "--json"], check=True, capture_output=True, timeout=600)


def test_readers_keep_answering_while_a_recreate_runs(tmp_path: Path) -> None:
    from legalrag.plugin.collection import ensure_collection
    from legalrag.plugin.store import EdgeStore

    root = tmp_path / "store"
    _appendable(root, tmp_path)
    reader = EdgeStore(root)
    before = reader.count("laws")
    writer = EdgeStore(root)
    writer.claim("laws")
    ensure_collection(writer, "laws", dimension=384, distance="Cosine", model=MINILM, sparse=True, recreate=True)
    assert writer.count("laws") == 0  # the writer works on an empty collection...
    time.sleep(1.1)  # past the reader's refresh interval
    assert reader.count("laws") == before  # ...while the reader still answers from the last published one
    writer.optimize("laws")  # publishing the (empty) new collection
    writer.close()
    deadline = time.monotonic() + 10
    while reader.count("laws") != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reader.count("laws") == 0
    reader.close()


def test_reader_copies_are_removed_on_every_exit_path(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _appendable(root, tmp_path)
    readers = root / "laws" / "readers"
    unclosed = f"from legalrag.plugin.store import EdgeStore; print(EdgeStore({str(root)!r}).count('laws'))"
    raised = unclosed + "; raise SystemExit('an app that fails')"
    for code in (unclosed, raised):  # a store never closed, a normal and a failing exit
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert int(proc.stdout.split()[0]) > 0
        assert "Traceback" not in proc.stderr and "NoneType" not in proc.stderr, proc.stderr
        assert not list(readers.iterdir()), "a reader copy was left behind"
    hold = (
        f"from legalrag.plugin.store import EdgeStore; store = EdgeStore({str(root)!r}); print(store.count('laws'), "
        "flush=True); import time; time.sleep(60)"
    )
    killed = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    assert killed.stdout is not None and int(killed.stdout.readline()) > 0
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert len(list(readers.iterdir())) == 1  # a killed reader cannot clean up after itself...
    subprocess.run([sys.executable, "-c", unclosed], check=True, capture_output=True, timeout=120)
    assert not list(readers.iterdir())  # ...the next process to open the collection does


def test_a_reader_during_the_first_ingest_is_told_there_is_no_published_version_yet(tmp_path: Path) -> None:
    from legalrag.plugin.errors import NotPublishedError, StoreLockedError
    from legalrag.plugin.store import EdgeStore

    root = tmp_path / "store"
    first_run = (
        "import sys, time\n"
        "from legalrag.plugin.store import EdgeStore, CollectionSpec, PointRecord\n"
        f"store = EdgeStore({str(root)!r})\n"
        "store.create_collection('fresh', CollectionSpec(dense_size=4, sparse_name=None))\n"
        "store.upsert('fresh', [PointRecord(id=f'00000000-0000-0000-0000-{i:012d}', dense=[1.0, 0.0, 0.0, float(i)],"
        " payload={'doc_id': str(i)}) for i in range(3)])\n"
        "print('stored', flush=True); time.sleep(120)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", first_run], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "stored", writer.stderr
        reader = EdgeStore(root)
        with pytest.raises(NotPublishedError, match=rf"no published version yet.*pid {writer.pid}") as caught:
            reader.count("fresh")
        assert isinstance(caught.value, StoreLockedError)  # what callers catching the lock error already handle
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert reader.count("fresh") == 3  # a killed first run: what it stored is published by the next opener
    reader.close()


def _optimized(root: Path, tmp_path: Path) -> None:
    """3,000 1024-d points: enough for the engine to build an optimized segment (matrix, HNSW graph)."""
    import uuid

    import numpy as np

    from legalrag.plugin.store import CollectionSpec, EdgeStore, PointRecord

    vectors = np.random.default_rng(0).standard_normal((3000, 1024)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with EdgeStore(root) as store:
        store.create_collection("laws", CollectionSpec(dense_size=1024, sparse_name=None))
        for start in range(0, len(vectors), 500):
            store.upsert(
                "laws",
                [
                    PointRecord(
                        id=str(uuid.UUID(int=start + i + 1)), dense=v.tolist(), payload={"doc_id": str(start + i)}
                    )
                    for i, v in enumerate(vectors[start : start + 500])
                ],
            )
        store.optimize("laws")
    assert list((root / "laws" / "published").rglob("matrix.dat"))


@pytest.mark.parametrize("build", [_appendable, _optimized], ids=["appendable", "optimized"])
def test_a_reader_links_the_published_data_pages_and_never_changes_them(tmp_path: Path, build: Any) -> None:
    import hashlib

    from legalrag.plugin.store import EdgeStore
    from legalrag.plugin.store.base import SearchRequest
    from legalrag.plugin.store.edge.versions import shareable

    root = tmp_path / "store"
    build(root, tmp_path)
    (published,) = [p for p in (root / "laws" / "published").iterdir() if p.name.isdigit()]

    def digests() -> dict[str, str]:
        return {
            str(p.relative_to(published)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(published.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }

    before = digests()
    reader = EdgeStore(root)
    count = reader.count("laws")
    (copy,) = list((root / "laws" / "readers").iterdir())
    linked = [p for p in copy.rglob("*") if p.is_file() and shareable(p.name)]
    assert linked and all(p.stat().st_nlink >= 2 for p in linked)  # shared with the published version
    copied = [p for p in copy.rglob("*") if p.is_file() and not shareable(p.name)]
    assert copied and all(p.stat().st_nlink == 1 for p in copied)  # what the engine rewrites is private
    dense = next(iter(reader.scroll("laws", with_vectors=True))).dense
    for exact in (False, True, False):
        assert reader.query("laws", SearchRequest(limit=5, dense=dense, exact=exact))
    reader.close()
    assert not (root / "laws" / "readers").exists() or not list((root / "laws" / "readers").iterdir())
    assert digests() == before  # loads, searches and close left the published version as it was
    again = EdgeStore(root)
    assert again.count("laws") == count
    again.close()
