"""Regression tests for hostile and broken input: each fails on the code before its fix.

Tenant injection, doc_id collisions, terminal output, special files, partial key leaks, the exit-code
and one-JSON contract, and silent corruption; restore and indexes are in ``test_restore_hardening.py``.
The last test throws a list of hostile inputs at the CLI and checks the contract every time: exit
0, 1 or 2, and with ``--json`` exactly one JSON document.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from qdrant_client.http.exceptions import UnexpectedResponse
from typer.testing import CliRunner

from legalrag.cli import app
from legalrag.plugin.errors import ConfigError, InputError
from legalrag.plugin.settings import validate_collection_name
from legalrag.plugin.store import EdgeStore
from tests.conftest import EXAMPLES, MINILM

runner = CliRunner()


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print one JSON document, got: {result.stdout!r}"
    return result.exit_code, json.loads(lines[0])


def _common(store: Path, collection: str = "laws") -> list[str]:
    return ["-c", collection, "--model", MINILM, "--device", "cpu", "--qdrant-path", str(store)]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "corpus" / "vi", folder)
    return folder


# -- a document's own metadata cannot set a reserved key ------------------------------------------
def test_front_matter_cannot_put_a_document_in_another_tenants_view(corpus: Path, tmp_path: Path) -> None:
    (corpus / "evil.md").write_text("---\ntenant: B\nversion: x\n---\nĐiều 1. Nội dung.\n", encoding="utf-8")
    (corpus / "evil.jsonl").write_text(json.dumps({"text": "Điều 2. Khác.", "tenant": "B"}) + "\n", encoding="utf-8")
    store = tmp_path / "q"
    code, first = _cli("ingest", str(corpus), *_common(store))
    assert code == 0 and first["added"] == 3
    assert {w["reason"] for w in first["warnings"]} >= {
        "metadata key 'tenant' is reserved for legalrag: stored as 'meta_tenant'"
    }
    with EdgeStore(store) as edge:
        payloads = [h.payload for h in edge.scroll("laws")]
    assert all("tenant" not in p for p in payloads)  # nobody's view but the tenant-less one
    assert {p.get("meta_tenant") for p in payloads} >= {"B"}
    code, again = _cli("ingest", str(corpus), "--sync", *_common(store))
    assert code == 0 and (again["added"], again["unchanged"]) == (0, 3)  # the run owns what it wrote


# -- two files never share a doc_id silently --------------------------------------------------------
def test_same_named_files_are_refused_before_any_write(tmp_path: Path) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "doc.md").write_text(f"제1조(목적) {folder} 문서입니다.\n", encoding="utf-8")
    store = tmp_path / "q"
    code, refused = _cli("ingest", str(tmp_path / "x" / "doc.md"), str(tmp_path / "y" / "doc.md"), *_common(store))
    assert code == 2 and "both be stored as doc_id 'doc.md'" in refused["error"]
    assert str(tmp_path / "x" / "doc.md") in refused["error"] and str(tmp_path / "y" / "doc.md") in refused["error"]
    assert not (store / "laws").exists()
    code, done = _cli("ingest", str(tmp_path / "x"), *_common(store))
    assert code == 0 and done["added"] == 1
    code, other = _cli("ingest", str(tmp_path / "y"), *_common(store))  # another live file, same doc_id
    assert code == 2 and "every file failed" in other["error"] and "already stored from" in other["error"]
    code, rooted = _cli("ingest", str(tmp_path / "y"), "--doc-id-root", str(tmp_path), *_common(store))
    assert code == 0 and rooted["added"] == 1  # y/doc.md: its own id under the common root
    with EdgeStore(store) as edge:
        assert {h.payload["doc_id"] for h in edge.scroll("laws")} == {"doc.md", "y/doc.md"}


# -- untrusted text never drives the terminal ------------------------------------------------------
def test_markup_and_escape_sequences_in_documents_and_names_are_printed_inert(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "[bold red]x.md").write_text(
        "제1조(목적) [/bold] 닫는 태그 \x1b[2J 화면 지우기 \x1b]0;title\x07\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["chunk", str(corpus), "--model", MINILM])
    assert result.exit_code == 0, result.output
    assert "\x1b[2J" not in result.output and "\x1b]0;" not in result.output
    assert "[/bold]" in result.output  # shown as text, not parsed (it used to crash with MarkupError)
    store = tmp_path / "q"
    assert runner.invoke(app, ["ingest", str(corpus), *_common(store)]).exit_code == 0
    shown = runner.invoke(app, ["search", "닫는 태그", "--mode", "sparse", *_common(store)])
    assert shown.exit_code == 0 and "[/bold]" in shown.output and "\x1b[2J" not in shown.output


# -- only regular files are read ---------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_links_to_devices_are_failures_not_hangs(corpus: Path, tmp_path: Path) -> None:
    os.mkfifo(corpus / "pipe.md")
    (corpus / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "outside.md").write_text("제1조(목적) 밖의 파일\n", encoding="utf-8")
    (corpus / "outside.md").symlink_to(tmp_path / "outside.md")
    (corpus / "big.txt").write_text("가" * 300_000, encoding="utf-8")  # ~0.9 MB
    store = tmp_path / "q"
    code, report = _cli("ingest", str(corpus), "--max-file-mb", "0.5", *_common(store))
    assert code == 0 and report["added"] == 1
    reasons = {Path(f["source"]).name: f["reason"] for f in report["failed"]}
    assert "FIFO" in reasons["pipe.md"] and "regular file" in reasons["zero.txt"]
    assert "outside" in reasons["outside.md"] and "larger than 0.5 MB" in reasons["big.txt"]
    code, followed = _cli("ingest", str(corpus), "--follow-symlinks", *_common(store))
    assert code == 0 and followed["added"] == 2  # the link out, now followed, and the big file (default limit)


# -- a key in a server's error body is redacted before the body is cut -------------------------------
def test_a_key_straddling_the_cut_is_never_printed_in_part() -> None:
    import httpx

    from legalrag.plugin.redact import register_secret
    from legalrag.plugin.store.retry import describe_error

    key = "sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    register_secret(key)
    body = ("x" * 150 + key + " tail").encode()
    error = UnexpectedResponse(status_code=500, reason_phrase="Internal", content=body, headers=httpx.Headers())
    text = describe_error(error)
    assert key[:10] not in text and "ABCDEFGH" not in text


# -- every failure keeps the exit-code and one-JSON contract -------------------------------------------
def test_hostile_search_inputs_keep_the_contract(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "q"
    assert _cli("ingest", str(corpus), *_common(store))[0] == 0
    deep: Any = {"language": "vi"}
    for _ in range(900):
        deep = {"$not": deep}
    code, result = _cli("search", "hàng hóa", "--filter", json.dumps(deep), *_common(store))
    assert code == 2 and "nested" in result["error"]
    code, result = _cli("search", "hàng hóa", "--group-by", "tags", "--mode", "sparse", *_common(store))
    assert code == 2 and "no stored point has" in result["error"]  # refused, never a TypeError

    # readers use the published copy: a damaged working document stops the next writer, with the fix
    (store / "laws" / "collection.json").write_text("", encoding="utf-8")
    assert _cli("collections", "--qdrant-path", str(store))[0] == 0
    code, result = _cli("ingest", str(corpus), *_common(store))
    assert code == 1 and "collection.json is damaged" in result["error"] and "--recreate" in result["error"]
    for published in (store / "laws" / "published").glob("*/collection.json"):
        published.write_text("[]", encoding="utf-8")
    code, result = _cli("search", "hàng hóa", *_common(store))
    assert code == 1 and "damaged" in result["error"]


def test_grouping_by_a_list_valued_field_never_raises() -> None:
    from legalrag.plugin.search.searcher import best_per_group
    from legalrag.plugin.store.base import Hit

    hits = [Hit(str(i), 1.0 - i / 10, {"doc_id": "d", "tags": ["a", "b"] if i < 2 else ["c"]}) for i in range(4)]
    assert [h.id for h in best_per_group(hits, "tags")] == ["0", "2"]


def test_a_server_answering_garbage_is_retried_then_a_runtime_error() -> None:
    import http.server
    import socketserver
    import threading

    from legalrag.plugin.settings import Settings
    from legalrag.plugin.store import open_store

    class Garbage(http.server.BaseHTTPRequestHandler):
        hits = 0

        def do_GET(self) -> None:
            Garbage.hits += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"<html>proxy error</html>")

        do_POST = do_PUT = do_GET

        def log_message(self, *args: Any) -> None:
            return None

    server = socketserver.TCPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = open_store(Settings(qdrant_url=f"http://127.0.0.1:{server.server_address[1]}", qdrant_retry_seconds=1))
        from legalrag.plugin.errors import StoreError

        with pytest.raises(StoreError) as err:
            store.count("laws")
        assert not isinstance(err.value, InputError) and Garbage.hits > 1  # retried, then exit 1
    finally:
        server.shutdown()


# -- silent corruption and lax names ---------------------------------------------------------------------
def test_a_collection_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ConfigError):
        validate_collection_name("laws\n")


def test_an_ingest_where_every_file_fails_writes_nothing_and_says_so(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.md").write_text("", encoding="utf-8")
    (corpus / "broken.json").write_text("{nope", encoding="utf-8")
    store = tmp_path / "q"
    code, result = _cli("ingest", str(corpus), *_common(store))
    assert code == 2 and "every file failed (2)" in result["error"]
    with EdgeStore(store) as edge:
        assert edge.list_collections() == []


HOSTILE = [
    ["search", ""],
    ["search", "q", "-k", "0"],
    ["search", "q", "--filter", "[1, 2]"],
    ["search", "q", "--filter", '{"a": {"$gte": [1]}}'],
    ["search", "q", "--mode", "fuzzy"],
    ["search", "q", "-c", "../../etc"],
    ["search", "q", "-c", "bad\nname"],
    ["search", "q", "--score-threshold", "nan"],
    ["ingest", "/nonexistent/path"],
    ["chunk", "/dev/null"],
    ["eval", "/nonexistent"],
    ["collections", "inspect", "nope"],
    ["collections", "snapshot", "restore", "laws", "/etc/passwd", "--yes"],
    ["collections", "drop", "laws"],
]


@pytest.mark.parametrize("args", HOSTILE, ids=[" ".join(a)[:40] for a in HOSTILE])
def test_hostile_cli_inputs_keep_the_contract(args: list[str], tmp_path: Path) -> None:
    extra = ["--qdrant-path", str(tmp_path / "q")] if args[0] != "chunk" else []
    result = runner.invoke(app, [*args, *extra, "--json"])
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    document = json.loads(lines[0])
    if result.exit_code:
        assert document["exit_code"] == result.exit_code and document["error"]
    assert "Traceback" not in result.output


# -- recreate with input that does not load leaves the collection as it was --------------------------
def test_recreate_with_only_broken_input_keeps_the_collection(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "q"
    code, first = _cli("ingest", str(corpus), *_common(store))
    assert code == 0 and first["added"] >= 1
    with EdgeStore(store) as edge:
        before = edge.count("laws")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    code, refused = _cli("ingest", str(bad / "broken.pdf"), "--recreate", *_common(store))
    assert code == 2 and "left as it was" in refused["error"]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, refused = _cli("ingest", str(empty), "--recreate", *_common(store))
    assert code == 2 and "nothing was changed" in refused["error"]
    with EdgeStore(store) as edge:
        assert edge.count("laws") == before


# -- exit codes and --json: one clean document, the documented code -----------------------------------
def test_every_file_failing_into_an_existing_collection_exits_2(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "q"
    assert _cli("ingest", str(corpus), *_common(store))[0] == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    code, refused = _cli("ingest", str(bad), *_common(store))
    assert code == 2 and "every file failed" in refused["error"]
    with EdgeStore(store) as edge:
        assert edge.count("laws") > 0  # the existing collection is kept


@pytest.mark.parametrize(
    "args",
    [
        ["search", "x", "--bogus-flag"],
        ["search"],
        ["search", "x", "-k", "many"],
        ["ingest"],
    ],
    ids=["unknown-flag", "missing-argument", "bad-value", "no-paths"],
)
def test_usage_errors_with_json_print_one_json_document(args: list[str]) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("legalrag")), *args, "--json"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and json.loads(lines[0])["exit_code"] == 2


def test_non_finite_numbers_and_lone_surrogates_stay_valid_json() -> None:
    from legalrag.output import to_json

    text = to_json({"score": float("nan"), "name": "bad\udcff.md", "ok": [1.0, float("-inf")]})
    assert json.loads(text) == {"score": None, "name": "bad\ufffd.md", "ok": [1.0, None]}
    text.encode("utf-8")  # valid UTF-8, no lone surrogate


@pytest.mark.parametrize(
    "filter_json",
    ['{"chunk_index": 1180591620717411303424}', '{"": 1}', '{"chunk_index": {"$gt": 1e400}}'],
    ids=["int-2^70", "empty-key", "infinite"],
)
def test_filters_qdrant_cannot_hold_exit_2_not_a_traceback(corpus: Path, tmp_path: Path, filter_json: str) -> None:
    store = tmp_path / "q"
    assert _cli("ingest", str(corpus), *_common(store))[0] == 0
    code, result = _cli("search", "hàng hóa", "--mode", "sparse", "--filter", filter_json, *_common(store))
    assert code == 2 and result["type"] == "InputError"


# -- doc_id collisions inside one run: every document counted is a document stored ---------------------
def test_record_ids_that_collide_are_told_apart_or_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    rows = [
        {"id": "a", "text": "Điều 1. Một."},
        {"id": "a~2", "text": "Điều 2. Hai."},
        {"id": "a", "text": "Điều 3. Ba."},
    ]
    (corpus / "r.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (corpus / "x.json").write_text(json.dumps([{"id": "y.md", "text": "Điều 4. Bốn."}]), encoding="utf-8")
    (corpus / "x.json#y.md").write_text("Điều 5. Năm.\n", encoding="utf-8")
    store = tmp_path / "q"
    code, report = _cli("ingest", str(corpus), *_common(store))
    assert code == 0
    with EdgeStore(store) as edge:
        stored = {h.payload["doc_id"] for h in edge.scroll("laws")}
    assert {"r.jsonl#a", "r.jsonl#a~2"} <= stored and len([d for d in stored if d.startswith("r.jsonl#")]) == 3
    assert report["added"] == len(stored)  # what the report counts is what the store holds
    assert [f for f in report["failed"] if "already given in this run" in f["reason"]]


def test_one_poison_record_does_not_stop_the_ingest(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    lines = [json.dumps({"id": str(i), "text": f"Điều {i}. Nội dung {i}.", "note": "ok"}) for i in range(20)]
    lines[7] = '{"id": "7", "text": "Điều 7. Nội dung.", "note": "\\udcff broken"}'  # a lone surrogate
    (corpus / "r.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = tmp_path / "q"
    code, report = _cli("ingest", str(corpus), *_common(store))
    assert code == 0 and report["added"] == 20 and report["failed"] == []
    with EdgeStore(store) as edge:
        notes = {h.payload["doc_id"]: h.payload.get("note") for h in edge.scroll("laws")}
    assert len(notes) == 20 and notes["r.jsonl#7"] == "\ufffd broken"


def test_a_file_name_that_is_not_utf8_keeps_json_valid(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    name = os.fsencode(corpus) + b"/bad\xff.md"
    with open(name, "wb") as handle:
        handle.write("Điều 1. Nội dung.\n".encode())
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("legalrag")), "ingest", str(corpus), *_common(tmp_path / "q"), "--json"],
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.decode("utf-8"))  # valid UTF-8 and valid JSON
    assert report["added"] == 1


def test_two_runs_from_different_folders_never_replace_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder / "a").mkdir(parents=True)
        (tmp_path / folder / "a" / "doc.md").write_text(f"제1조(목적) {folder} 문서입니다.\n", encoding="utf-8")
    store = tmp_path / "q"
    monkeypatch.chdir(tmp_path / "x")
    assert _cli("ingest", "a", *_common(store))[0] == 0
    monkeypatch.chdir(tmp_path / "y")  # the same relative path, another file
    code, refused = _cli("ingest", "a", *_common(store))
    assert code == 2 and "already stored from" in refused["error"] and str(tmp_path / "x") in refused["error"]
    with EdgeStore(store) as edge:
        assert [h.payload["text"].count("x") for h in edge.scroll("laws")] == [1]


# -- damaged stored vectors are reported, never answered with -----------------------------------------
def test_bit_flips_in_stored_vectors_fail_the_search_instead_of_scoring_nan(corpus: Path, tmp_path: Path) -> None:
    import struct

    store = tmp_path / "q"
    assert _cli("ingest", str(corpus), *_common(store))[0] == 0
    chunks = list((store / "laws").rglob("vector_storage-dense/vectors/chunk_0.mmap"))
    assert chunks
    for chunk in chunks:  # every copy: the writer's shard and the published one readers load
        data = bytearray(chunk.read_bytes())
        for offset in range(0, len(data) - 3, 4):  # flipped exponent bits: every value ~1e36
            data[offset : offset + 4] = struct.pack("<f", 1.5e36)
        chunk.write_bytes(bytes(data))
    code, result = _cli("search", "hàng hóa", "--mode", "dense", *_common(store))
    assert code == 1 and "impossible score" in result["error"] and "--recreate" in result["error"]


def test_a_damaged_working_shard_is_not_published_to_readers(tmp_path: Path) -> None:
    import struct
    import uuid

    from legalrag.plugin.errors import StoreError
    from legalrag.plugin.store import CollectionSpec, PointRecord

    root = tmp_path / "q"
    with EdgeStore(root) as store:
        store.create_collection("laws", CollectionSpec(dense_size=4))
        points = [
            PointRecord(id=str(uuid.UUID(int=i)), payload={"doc_id": str(i)}, dense=[1.0, 0, 0, 0]) for i in range(3)
        ]
        store.upsert("laws", points)
    published = next((root / "laws" / "published").glob("[0-9]*"))
    for chunk in (root / "laws" / "shard").rglob("vector_storage-dense/vectors/chunk_0.mmap"):
        data = bytearray(chunk.read_bytes())
        data[0:16] = struct.pack("<4f", 1.5e36, 1.5e36, 1.5e36, 1.5e36)  # the first point's vector
        chunk.write_bytes(bytes(data))
    store = EdgeStore(root)
    store.upsert("laws", [PointRecord(id=str(uuid.UUID(int=9)), payload={"doc_id": "9"}, dense=[0, 1.0, 0, 0])])
    with pytest.raises(StoreError, match=r"damaged vectors.*not published"):
        store.optimize("laws")
    assert sorted(p.name for p in (root / "laws" / "published").glob("[0-9]*")) == [published.name]


def test_sync_deletes_what_is_gone_never_what_was_excluded(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "keep.txt").write_text("Điều 1. Văn bản giữ lại.\n", encoding="utf-8")
    (corpus / "law.md").write_text("Điều 2. Luật.\n", encoding="utf-8")
    (corpus / "gone.md").write_text("Điều 3. Sẽ bị xóa.\n", encoding="utf-8")
    rows = [{"id": "r1", "text": "Điều 4. Một."}, {"id": "r2", "text": "Điều 5. Hai."}]
    (corpus / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = tmp_path / "q"
    assert _cli("ingest", str(corpus), *_common(store))[0] == 0
    (corpus / "gone.md").unlink()
    (corpus / "r.jsonl").write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")  # a record removed
    code, report = _cli("ingest", str(corpus), "--sync", "--exclude", "*.txt", *_common(store))
    assert code == 0 and report["deleted"] == 2
    with EdgeStore(store) as edge:
        assert {h.payload["doc_id"] for h in edge.scroll("laws")} == {"keep.txt", "law.md", "r.jsonl#r1"}
