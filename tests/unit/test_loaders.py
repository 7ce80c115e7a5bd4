"""Loaders: formats, encodings, JSON field mapping, stable ids, and bad input that never raises."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import unicodedata
from pathlib import Path

import pytest

from legalrag.ingest.encodings import UndecodableError, decode_bytes
from legalrag.ingest.loaders import JsonFields, LoadFailure, iter_documents
from legalrag.plugin.schema import SourceDocument

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KO = (
    "개인정보 보호법\n제15조(개인정보의 수집ㆍ이용) ① 개인정보처리자는 다음 각 호의 어느 하나에 "
    "해당하는 경우에는 개인정보를 수집할 수 있다."
)
VI = (
    "Luật Doanh nghiệp\nĐiều 1. Phạm vi điều chỉnh\n"
    "Luật này quy định về việc thành lập, tổ chức quản lý và giải thể doanh nghiệp."
)
ZH = "中华人民共和国民法典\n第一条　为了保护民事主体的合法权益，调整民事关系，维护社会和经济秩序，制定本法。"


def cp1258(text: str) -> bytes:
    """Encode Vietnamese as Windows-1258 does: base letters plus combining tone marks."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        tones = [m for m in marks if m in "\u0300\u0301\u0303\u0309\u0323"]
        out += unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in tones)).encode("cp1258")
        out += "".join(tones).encode("cp1258")
    return bytes(out)


def pdf_bytes(lines: list[str]) -> bytes:
    """A minimal one-page PDF showing ``lines`` in Helvetica (hand-written objects and xref)."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"] + [("T* " if i else "") + f"({t}) Tj" for i, t in enumerate(lines)]
    stream = "\n".join([*ops, "ET"]).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def load_all(*paths: Path | str, **kwargs: object) -> tuple[list[SourceDocument], list[LoadFailure]]:
    items = list(iter_documents(list(paths), **kwargs))  # type: ignore[arg-type]
    docs = [i for i in items if isinstance(i, SourceDocument)]
    failures = [i for i in items if isinstance(i, LoadFailure)]
    assert len(docs) + len(failures) == len(items)
    return docs, failures


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", KO),
        ("utf-8-sig", KO),
        ("utf-16", KO),
        ("utf-16", VI),
        ("cp949", KO),
        ("euc-kr", KO),
        ("cp949", "보호법"),  # short legacy text is where generic detectors go wrong
        ("cp1258", VI),
        ("gb18030", ZH),
        ("utf-8", VI),
        ("utf-8", ZH),
    ],
)
def test_text_encodings(tmp_path: Path, encoding: str, text: str) -> None:
    data = cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    if encoding == "cp1258":
        assert data.decode("cp1258") != text  # really decomposed: the loader must recompose
    (tmp_path / "law.txt").write_bytes(data)
    (doc,), failures = load_all(tmp_path / "law.txt")
    assert not failures
    assert doc.text == text and doc.title == "law" and doc.doc_id == "law.txt"


def test_legacy_markdown_with_front_matter(tmp_path: Path) -> None:
    body = (
        "---\n제목: 개인정보 보호법\n법령구분: 법률\n---\n\n"
        "# 개인정보 보호법\n\n### 제1조(목적)\n이 법은 목적을 정한다.\n"
    )
    (tmp_path / "pipa.md").write_bytes(body.encode("cp949"))
    (doc,), _ = load_all(tmp_path)
    assert doc.title == "개인정보 보호법" and doc.metadata == {"제목": "개인정보 보호법", "법령구분": "법률"}
    assert doc.text.startswith("\n# 개인정보 보호법") and "---" not in doc.text and doc.language == "ko"


def test_decode_bytes_refuses_binary() -> None:
    with pytest.raises(UndecodableError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UndecodableError, match="undecodable"):
        decode_bytes(bytes(range(1, 256)) * 4)
    with pytest.raises(UndecodableError, match="empty"):
        decode_bytes(b"")


def test_bad_files_fail_and_good_files_still_load(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.txt").write_bytes(os.urandom(512) + b"\x00\x00")
    (corpus / "sub" / "legacy.txt").write_bytes(KO.encode("cp949"))
    shutil.copy(FIXTURES / "ko" / "이자제한법.md", corpus / "sub" / "이자제한법.md")
    (corpus / "notes.xyz").write_text("skipped: unknown extension inside a folder")
    (corpus / ".hidden.md").write_text("skipped: hidden")
    docs, failures = load_all(corpus)
    assert [d.doc_id for d in docs] == ["sub/legacy.txt", "sub/이자제한법.md"]
    assert docs[0].text == KO and docs[1].title == "이자제한법"
    reasons = {Path(f.source).name: f.reason for f in failures}
    assert set(reasons) == {"broken.pdf", "empty.txt", "blob.txt"}
    assert "corrupt PDF" in reasons["broken.pdf"]
    assert "empty file" in reasons["empty.txt"] and "binary" in reasons["blob.txt"]
    assert docs[1].source == str(corpus / "sub" / "이자제한법.md")


def test_explicit_unknown_or_missing_paths_fail(tmp_path: Path) -> None:
    (tmp_path / "notes.xyz").write_text("x")
    _, failures = load_all(tmp_path / "notes.xyz", tmp_path / "missing.md")
    assert "unsupported file type '.xyz'" in failures[0].reason
    assert failures[1].reason == "no such file or directory"


def test_ids_are_stable_and_patterns_filter(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "ko", tmp_path / "laws" / "ko")
    shutil.copytree(FIXTURES / "json", tmp_path / "laws" / "json")
    first, _ = load_all(tmp_path / "laws")
    second, _ = load_all(str(tmp_path / "laws"))
    assert [(d.doc_id, d.doc_hash) for d in first] == [(d.doc_id, d.doc_hash) for d in second]
    assert first[0].doc_id.startswith("json/") and "ko/이자제한법.md" in [d.doc_id for d in first]
    only_md, _ = load_all(tmp_path / "laws", include=["*.md"], exclude=["ko/기간제*"])
    assert [d.doc_id for d in only_md] == ["ko/개인정보 보호법.md", "ko/이자제한법.md"]
    (single,), _ = load_all(tmp_path / "laws" / "ko" / "이자제한법.md")
    assert single.doc_id == "이자제한법.md"


def test_self_regulation_json_fixtures() -> None:
    docs, failures = load_all(FIXTURES / "json")
    assert not failures
    crefia, kfb = docs
    assert crefia.doc_id == "crefia_연대책임_모범규준.json#crefia_제3자에_대한_연대책임_부과_관행_개선을_위한_모범규준"
    assert crefia.title == "제3자에 대한 연대책임 부과 관행 개선을 위한 모범규준"
    assert crefia.metadata["law_kind"] == "모범규준" and "text" not in crefia.metadata
    assert "title" not in crefia.metadata and "doc_id" not in crefia.metadata
    assert kfb.doc_id == "kfb_32.json#kfb_자율규제_32"
    assert "attachments" not in kfb.metadata and "metadata" not in kfb.metadata  # not scalars
    assert kfb.text.startswith("제목: 워크아웃기업") and kfb.language == "ko"


def test_json_shapes_and_per_record_failures(tmp_path: Path) -> None:
    records = [
        {"id": 7, "title": "A", "text": "제1조(목적) 본문", "year": 2020},
        {"title": "no text"},
        "oops",
    ]
    (tmp_path / "list.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "wrapped.json").write_text(json.dumps({"data": [{"text": "첫째"}, {"text": "둘째"}]}), encoding="utf-8")
    (tmp_path / "bad.json").write_text('{"text": "unterminated', encoding="utf-8")
    (tmp_path / "odd.json").write_text('{"rows": 3}', encoding="utf-8")
    docs, failures = load_all(tmp_path)
    assert [d.doc_id for d in docs] == ["list.json#7", "wrapped.json#0", "wrapped.json#1"]
    assert docs[0].metadata == {"year": 2020} and docs[0].title == "A" and docs[1].title == "wrapped"
    reasons = sorted(f.reason for f in failures)
    assert any(r.startswith("invalid JSON") for r in reasons)
    assert any(r.startswith("no records") for r in reasons)
    assert "record 1: no text under key 'text'" in reasons and "record 2: not a JSON object" in reasons


def test_jsonl_field_mapping(tmp_path: Path) -> None:
    lines = [
        {"key": "a-1", "name": "판례 1", "body": "대법원 판결 본문", "court": "대법원", "year": 2021},
        {"key": "a-1", "name": "판례 2", "body": "같은 키, 다른 판결", "court": "서울고법"},
        {"name": "no key", "body": "키 없는 판결", "court": "부산지법"},
        {"key": "b", "name": "empty", "body": "   "},
    ]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in lines[:2]) + "\n\n{broken\n"
    text += "\n".join(json.dumps(r, ensure_ascii=False) for r in lines[2:]) + "\n"
    (tmp_path / "cases.jsonl").write_text(text, encoding="utf-8")
    fields = JsonFields(text="body", id="key", title="name", metadata=("court",))
    docs, failures = load_all(tmp_path / "cases.jsonl", json_fields=fields)
    assert [d.doc_id for d in docs] == ["cases.jsonl#a-1", "cases.jsonl#a-1~1", "cases.jsonl#3"]
    assert [d.title for d in docs] == ["판례 1", "판례 2", "no key"]
    assert docs[0].metadata == {"court": "대법원"} and docs[0].text == "대법원 판결 본문"
    assert [f.reason for f in failures] == [
        "line 4: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        "record b: no text under key 'body'",
    ]
    assert all(f.source == str(tmp_path / "cases.jsonl") for f in failures)
    with pytest.raises(ValueError):
        JsonFields(txt="body")  # type: ignore[call-arg]


def test_html(tmp_path: Path) -> None:
    html = (
        "<html><head><title>개인정보 보호법</title><style>p{color:red}</style></head><body>"
        "<script>var hidden = 1;</script><h2>제1장 총칙</h2>\n"
        "<p>제<b>1</b>조(목적) 이 법은\n  개인정보를 보호한다.</p><div>① 첫째 항<br>② 둘째 항</div>"
        "<table><tr><td>구분</td><td>금액</td></tr></table><!-- note --></body></html>"
    )
    (tmp_path / "law.html").write_text(html, encoding="utf-8")
    (tmp_path / "legacy.htm").write_bytes(
        '<html><head><meta charset="euc-kr"></head><body><p>제1조(목적) 본문</p></body></html>'.encode("cp949")
    )
    (doc, legacy), failures = load_all(tmp_path)
    assert not failures
    assert doc.title == "개인정보 보호법" and "hidden" not in doc.text and "color" not in doc.text
    assert doc.text == "## 제1장 총칙\n\n제1조(목적) 이 법은 개인정보를 보호한다.\n\n① 첫째 항\n② 둘째 항\n\n구분 금액"
    assert "note" not in doc.text and legacy.text == "제1조(목적) 본문" and legacy.title == "legacy"


def test_docx(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Luật Doanh nghiệp", level=1)
    document.add_paragraph("Điều 1. Phạm vi điều chỉnh")
    document.add_paragraph("1. Luật này quy định về doanh nghiệp.")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [("Mức phạt", "1.000.000 đồng"), ("Ngày", "01.01.2020")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.save(str(tmp_path / "law.docx"))
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (doc,), (failure,) = load_all(tmp_path / "law.docx", tmp_path / "broken.docx")
    assert doc.title == "Luật Doanh nghiệp" and doc.language == "vi"
    assert doc.text.split("\n") == [
        "# Luật Doanh nghiệp",
        "Điều 1. Phạm vi điều chỉnh",
        "1. Luật này quy định về doanh nghiệp.",
        "Mức phạt | 1.000.000 đồng",
        "Ngày | 01.01.2020",
    ]
    assert failure.source.endswith("broken.docx") and failure.reason


def test_pdf_plain_and_encrypted(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    lines = ["Article 1. Purpose", "This Act governs card loans.", "Article 2. Definitions"]
    plain = pdf_bytes(lines)
    (tmp_path / "a.pdf").write_bytes(plain)
    for name, user in (("locked.pdf", "secret"), ("owner_only.pdf", "")):
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(plain)))
        writer.encrypt(user, owner_password="owner", algorithm="RC4-128")
        buffer = io.BytesIO()
        writer.write(buffer)
        (tmp_path / name).write_bytes(buffer.getvalue())
    (tmp_path / "scan.pdf").write_bytes(pdf_bytes([]))
    docs, failures = load_all(tmp_path)
    assert [d.doc_id for d in docs] == ["a.pdf", "owner_only.pdf"]
    assert docs[0].text == "\n".join(lines) and docs[0].metadata == {"pages": 1} and docs[0].language == "en"
    reasons = {Path(f.source).name: f.reason for f in failures}
    assert reasons["locked.pdf"].startswith("encrypted PDF") and "OCR" in reasons["scan.pdf"]


def test_missing_parser_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.pdf").write_bytes(pdf_bytes(["x"]))
    (tmp_path / "b.html").write_text("<p>x</p>")
    monkeypatch.setitem(sys.modules, "pypdf", None)
    monkeypatch.setitem(sys.modules, "lxml.html", None)
    _, failures = load_all(tmp_path)
    assert len(failures) == 2
    assert all("pip install 'legalrag[parsers]'" in f.reason for f in failures)
    assert "'pypdf'" in failures[0].reason and "'lxml'" in failures[1].reason


def test_fixtures_load_with_titles_and_languages() -> None:
    docs, failures = load_all(FIXTURES / "ko", FIXTURES / "vi", FIXTURES / "zh")
    assert not failures
    assert {d.title: d.language for d in docs} == {
        "개인정보 보호법": "ko",
        "기간제 및 단시간근로자 보호 등에 관한 법률": "ko",
        "이자제한법": "ko",
        "Luật Doanh nghiệp 2020": "vi",
        "中华人民共和国民法典": "zh",
    }
    assert all(len(p.read_bytes()) < 40_000 for p in FIXTURES.glob("*/*") if p.parent.name != "zalo_tiny")


# -- markup that would take the machine: refused or read in linear time ------------------------------
def test_a_docx_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    from legalrag.ingest import loaders

    monkeypatch.setattr(loaders, "MAX_DOCX_UNPACKED", 2 << 20)  # the same rule at a size a test can build
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", " " * (8 << 20))
    assert (tmp_path / "bomb.docx").stat().st_size < 100_000
    docs, failures = load_all(tmp_path / "bomb.docx")
    assert not docs and "zip bomb" in failures[0].reason
    (tmp_path / "not-a-zip.docx").write_bytes(b"PK\x03\x04 broken")
    assert "corrupt Word file" in load_all(tmp_path / "not-a-zip.docx")[1][0].reason


def test_deeply_nested_html_is_refused_and_flat_html_reads_in_one_pass(tmp_path: Path) -> None:
    nested = "<html><body>" + "<div>x" * 100_000 + "</div>" * 100_000 + "</body></html>"
    (tmp_path / "nested.html").write_text(nested, encoding="utf-8")
    docs, failures = load_all(tmp_path / "nested.html")
    assert not docs and "nested more than" in failures[0].reason
    flat = "<html><body>" + "".join(f"<p>제{i}조 본문</p>" for i in range(40_000)) + "</body></html>"
    (tmp_path / "flat.html").write_text(flat, encoding="utf-8")
    docs, failures = load_all(tmp_path / "flat.html")
    assert not failures and docs[0].text.count("\n") == 2 * (40_000 - 1) and "제39999조 본문" in docs[0].text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_file_swapped_for_a_fifo_after_listing_is_a_failure_not_a_hang(tmp_path: Path) -> None:
    import threading

    from legalrag.ingest.loaders import plan_files

    (tmp_path / "a.md").write_text("제1조 본문\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("제2조 본문\n", encoding="utf-8")
    assert len(plan_files([tmp_path])) == 2
    items = iter_documents([tmp_path])
    first = next(items)  # the folder is listed and a.md read; now b.md becomes a FIFO nobody writes to
    (tmp_path / "b.md").unlink()
    os.mkfifo(tmp_path / "b.md")
    rest: list[object] = []
    reader = threading.Thread(target=lambda: rest.extend(items), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "reading a FIFO blocked the run"
    assert isinstance(first, SourceDocument) and "not a regular file" in rest[0].reason  # type: ignore[attr-defined]


def test_pypdf_messages_are_folded_into_the_failure_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    good = pdf_bytes(["x"])
    at = good.rfind(b"startxref")
    (tmp_path / "recovered.pdf").write_bytes(good[:at] + b"startxref\n12\n%%EOF\n")  # a wrong xref offset
    (tmp_path / "broken.pdf").write_bytes(good[: len(good) // 2] + b"startxref\n12\n%%EOF\n")
    docs, failures = load_all(tmp_path)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""  # pypdf's "incorrect startxref pointer" not printed raw
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]  # nor handed to the app's logging
    assert [d.text for d in docs] == ["x"]  # pypdf recovers the first
    assert failures[0].reason.startswith("corrupt PDF")
