"""Incremental, idempotent and crash-safe ingestion on the embedded store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES
from tests.helpers.cli_args import cli_args

runner = CliRunner()


def ingest(corpus: Path, store: Path, *extra: str, collection: str = "laws") -> tuple[int, dict]:
    args = cli_args("ingest", str(corpus), *extra, store=store, collection=collection)
    result = runner.invoke(app, args, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def snapshot(store: Path, collection: str = "laws") -> dict[str, tuple[str, str, str]]:
    """Every point: id → (doc_id, version, content_hash)."""
    with EdgeStore(store) as s:
        return {
            h.id: (h.payload["doc_id"], h.payload["version"], h.payload["content_hash"]) for h in s.scroll(collection)
        }


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus", target)
    return target


def test_unchanged_corpus_embeds_and_writes_nothing(corpus: Path, store_path: Path) -> None:
    ingest(corpus, store_path)
    before = snapshot(store_path)
    _, second = ingest(corpus, store_path)
    assert (second["added"], second["updated"], second["unchanged"], second["upserted"]) == (0, 0, 3, 0)
    assert second["tokens"] == 0, "nothing may be embedded on an unchanged corpus"
    assert snapshot(store_path) == before


def test_editing_one_document_replaces_exactly_its_chunks(corpus: Path, store_path: Path) -> None:
    ingest(corpus, store_path)
    before = snapshot(store_path)
    edited = corpus / "vi" / "luat_bao_ve_quyen_loi_nguoi_tieu_dung_trich.md"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("1.000.000.000 đồng", "2.000.000.000 đồng"), encoding="utf-8"
    )
    _, stats = ingest(corpus, store_path)
    assert (stats["added"], stats["updated"], stats["unchanged"]) == (0, 1, 2)
    after = snapshot(store_path)
    edited_doc = next(d for d, _, _ in after.values() if d.endswith(edited.name))
    untouched_before = {i: v for i, v in before.items() if v[0] != edited_doc}
    untouched_after = {i: v for i, v in after.items() if v[0] != edited_doc}
    assert untouched_after == untouched_before, "other documents' points must not change"
    versions = {v for _, v, _ in (x for x in after.values() if x[0] == edited_doc)}
    assert len(versions) == 1, "no stale chunk of the old version may remain"
    old_versions = {v for d, v, _ in before.values() if d == edited_doc}
    assert versions.isdisjoint(old_versions)
    assert stats["upserted"] == sum(1 for x in after.values() if x[0] == edited_doc)


def test_removed_files_are_deleted_only_with_sync(corpus: Path, store_path: Path) -> None:
    ingest(corpus, store_path)
    gone = corpus / "ko" / "여신전문금융업법_발췌.md"
    gone.unlink()
    _, plain = ingest(corpus, store_path)
    assert plain["deleted"] == 0
    assert any(d.endswith(gone.name) for d, _, _ in snapshot(store_path).values())
    _, synced = ingest(corpus, store_path, "--sync")
    assert synced["deleted"] == 1
    assert not any(d.endswith(gone.name) for d, _, _ in snapshot(store_path).values())


def test_bad_files_are_reported_and_the_rest_ingests(corpus: Path, store_path: Path) -> None:
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.txt").write_bytes(bytes(range(256)) * 8)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a pdf")
    (corpus / "cp949.txt").write_bytes("제1조(목적) 이 규정은 카드 회원의 보호를 목적으로 한다.".encode("cp949"))
    code, stats = ingest(corpus, store_path)
    assert code == 0
    failed = {Path(f["source"]).name for f in stats["failed"]}
    assert {"empty.txt", "blob.txt", "broken.pdf"} <= failed
    assert "cp949.txt" not in failed
    assert stats["added"] == 4
    code, _ = ingest(corpus, store_path, "--strict")
    assert code == 1


def _big_corpus(folder: Path, docs: int = 12, articles: int = 12) -> Path:
    folder.mkdir(parents=True)
    for d in range(docs):
        lines = [f"# 시험 규정 {d}", ""]
        for a in range(1, articles + 1):
            lines.append(f"### 제{a}조(시험 조항 {a})")
            lines.append(f"① 카드회사는 회원 {d}-{a}의 개인정보를 동의 없이 제3자에게 제공하여서는 아니 된다. " * 3)
            lines.append(f"② 제1항에도 불구하고 법령에 따른 경우 {a}일 이내에 통지하여야 한다.")
        (folder / f"reg_{d:02d}.md").write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_sigkill_mid_ingest_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    corpus = _big_corpus(tmp_path / "corpus")
    clean_store, killed_store = tmp_path / "clean", tmp_path / "killed"
    code, clean = ingest(corpus, clean_store, "--batch-size", "16")
    assert code == 0 and clean["failed"] == []
    exe = Path(sys.executable).with_name("legalrag")
    cmd = [str(exe), *cli_args("ingest", str(corpus), "--batch-size", "16", store=killed_store)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # the kill lands while batches are written: the collection exists (the model is loaded), and the
    # embedding has run for about a third of what the whole corpus took the clean run
    deadline = time.monotonic() + 120
    while not any(killed_store.rglob("segments")):
        assert proc.poll() is None and time.monotonic() < deadline, "the ingest ended before its collection existed"
        time.sleep(0.05)
    time.sleep(clean["timings"]["pipeline"] / 3)
    assert proc.poll() is None, "the ingest finished before it could be killed: make the corpus larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["failed"] == [] and report["added"] + report["updated"] + report["unchanged"] == clean["added"]
    assert report["unchanged"] > 0, "the documents stored before the kill are kept, not embedded again"
    assert snapshot(killed_store) == snapshot(clean_store)


def test_chunker_has_its_own_tokenizer(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    """Regression: the chunker (producer thread) and the encoder (embed thread) shared one fast
    tokenizer, whose padding/truncation state the encoder changes, and ingest failed at random
    with "Unable to create tensor ... padding=True"."""
    from legalrag.ingest.service import make_chunker, tokenizer_info
    from legalrag.plugin.settings import Settings

    chunker = make_chunker(tokenizer_info(minilm_encoder), Settings())
    assert chunker.counter._tokenizer is not minilm_encoder.tokenizer  # type: ignore[attr-defined]
    text = "제1조(목적) 이 법은 개인정보의 처리 및 보호에 관한 사항을 정한다."
    assert chunker.counter.count(text) == len(minilm_encoder.tokenizer(text, add_special_tokens=False)["input_ids"])
