"""Statute structure: which lines are division, article, appendix and clause headings.

One linear pass finds heading lines with a per-language grammar (Korean, Vietnamese,
Chinese/Japanese, English) and cuts the text into :class:`Block` s that partition it: an *article*
block runs from an article heading to the next structural heading; a *text* block holds a preamble,
a division heading with its text, or an appendix without articles. Inside an article,
:class:`Marker` s locate clauses (level 1: 항 / khoản / 款), items (level 2: 호 / điểm / 项) and
sub-items (level 3-4: 목, ``1)``), the provision tree the chunker splits along.

A heading is recognised only at the start of a line (after indentation or a Markdown ``#``) and
only in a heading's shape: ``제3조제1항에 따라``, ``theo khoản 2 Điều 5``, ``依照本法第十条``, a date
``01.01.2020`` or an amount ``1.000.000 đồng`` never start a provision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Block", "Heading", "Marker", "clause_label", "parse_structure", "zh_numeral"]

_IND = r"[ \t\u3000]*"
_MD = r"(?P<md>#{1,6}[ \t]+)?"
_ZH_NUM = r"[零〇一二两三四五六七八九十百千\d]+"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳㉑㉒㉓㉔㉕㉖㉗㉘㉙㉚㉛㉜㉝㉞㉟㊱㊲㊳㊴㊵㊶㊷㊸㊹㊺㊻㊼㊽㊾㊿"
_KO_MOK = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허"
_NOT_DATE = r"(?![ \t]*\d{1,2}\.)"  # "2020. 1. 1." is a date, not item 2020
_M = re.MULTILINE
_KO_INLINE = re.compile(rf"[ \t]*(?P<l1>[{_CIRCLED}])")
_EN_KEYWORDS = {"Art": "Article", "Sec": "Section"}


@dataclass(frozen=True, slots=True)
class Marker:
    """A clause/item marker inside an article: where it starts, its depth and its labels."""

    start: int
    level: int
    label: str  # as cited: 제1항, khoản 2, 第二款, (a)
    number: str  # the bare number or letter: 1, 2, a, 二


@dataclass(frozen=True, slots=True)
class Heading:
    """A recognised heading line (kind: article, division, appendix, annex, title)."""

    kind: str
    start: int
    heading_end: int
    body_start: int
    label: str
    title: str | None = None
    level: int = 0
    markdown: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A contiguous span of the document: one article, or text outside articles.

    ``chapter`` is the nearest division or appendix heading; ``article`` the citation label
    (``제5조의2``, ``부칙 제1조``, ``Điều 5``, ``第五条``); ``heading`` the article heading as a
    contextual header shows it; ``heading_only`` marks a text block with nothing but headings;
    ``head_end`` is where the heading line(s) end (a heading is never chunked apart from its text);
    ``part`` says whether the block is the statute's ``main`` text, its ``addenda`` (supplementary
    provisions: 부칙, 附则, a final chapter of điều khoản thi hành) or an ``annex`` (별표, Phụ lục).
    """

    kind: str
    start: int
    end: int
    chapter: str | None = None
    article: str | None = None
    article_title: str | None = None
    heading: str | None = None
    markers: tuple[Marker, ...] = ()
    heading_only: bool = False
    head_end: int = 0
    part: str = "main"  # main, addenda (부칙, 附则, điều khoản thi hành) or annex (별표, Phụ lục)


@dataclass(frozen=True, slots=True)
class _Grammar:
    candidate: re.Pattern[str]
    article: re.Pattern[str]
    article_rest: re.Pattern[str]
    division: re.Pattern[str]
    division_ok: Callable[[str], bool]
    levels: dict[str, int]
    markers: re.Pattern[str]
    label: Callable[[int, str], str]
    appendix: re.Pattern[str] | None = None
    annex: re.Pattern[str] | None = None
    appendix_prefix: str | None = None


def _en_title_ok(rest: str) -> bool:
    rest = rest.strip()
    return not rest or rest[0] in ".:-–—)" or (rest[0].isupper() and len(rest) <= 80 and rest[-1] not in ".;,:")


def _ko_label(level: int, number: str) -> str:
    if level == 1:
        return f"제{_CIRCLED.index(number) + 1}항"
    if level == 2 and "의" in number:
        main, sub = number.split("의")
        return f"제{main}호의{sub}"
    return {2: f"제{number}호", 3: f"{number}목"}.get(level, f"{number})")


_KO = _Grammar(
    candidate=re.compile("^" + _IND + r"(?:#|제|부[ \t]*칙|별표)", _M),
    article=re.compile(_IND + _MD + r"제[ \t]*(?P<num>\d+)[ \t]*조(?:[ \t]*의[ \t]*(?P<sub>\d+))?"),
    article_rest=re.compile(
        r"[ \t]*\((?P<title>[^()\n]{0,80}(?:\([^()\n]{0,40}\)[^()\n]{0,40})*)\)(?![에의을를은는과와로])"
        r"|[ \t]+(?:삭제|생략)(?![가-힣])|[ \t]*$",
        _M,
    ),
    division=re.compile(
        _IND + _MD + r"(?P<label>제[ \t]*\d+[ \t]*(?P<kw>편|장|절|관)(?:[ \t]*의[ \t]*\d+)?)(?=[ \t\u3000]|$)"
        r"(?P<rest>[^\n]*)",
        _M,
    ),
    division_ok=lambda rest: (
        len(rest) <= 80
        and not rest.rstrip().endswith("다.")
        and not re.match(r"[ \t]*(?:및|또는|부터|내지|중|에|의|을|를|[,ㆍ·])", rest)
    ),
    levels={"편": 1, "장": 2, "절": 3, "관": 4},
    markers=re.compile(
        "^" + _IND + rf"(?:(?P<l1>[{_CIRCLED}])|(?P<l2>\d{{1,3}}(?:의\d{{1,2}})?)\.(?=[ \t]){_NOT_DATE}"
        rf"|(?P<l3>[{_KO_MOK}])\.(?=[ \t])|(?P<l4>\d{{1,2}}|[{_KO_MOK}])\)(?=[ \t]))",
        _M,
    ),
    label=_ko_label,
    appendix=re.compile(_IND + _MD + r"부[ \t]*칙(?=[ \t\u3000]*(?:[(<〈\[【&]|$))(?P<rest>[^\n]*)", _M),
    annex=re.compile(
        _IND + _MD + r"별표[ \t]*(?P<num>\d+(?:[ \t]*의[ \t]*\d+)?)?(?P<rest>[ \t]*(?:\((?P<title>[^\n]*)\))?[^\n]*)",
        _M,
    ),
    appendix_prefix="부칙",
)

_VI = _Grammar(
    candidate=re.compile("^" + _IND + r"(?:#|Điều|ĐIỀU|Phần|PHẦN|Chương|CHƯƠNG|Mục|MỤC|Tiểu|TIỂU|Phụ|PHỤ)", _M),
    article=re.compile(_IND + _MD + r"(?:Điều|ĐIỀU)[ \t]+(?P<num>\d+[a-z]?)"),
    article_rest=re.compile(r"[ \t]*[.:][ \t]*(?P<title>[^\n]*)|[ \t]*$", _M),
    division=re.compile(
        _IND + _MD + r"(?P<label>(?P<kw>Phần|PHẦN|Chương|CHƯƠNG|Tiểu mục|TIỂU MỤC|Mục|MỤC)[ \t]+"
        r"(?:thứ[ \t]+\w+|THỨ[ \t]+\w+|[IVXLCDM]+|\d+))\b(?P<rest>[^\n]*)",
        _M,
    ),
    division_ok=lambda rest: (
        not rest.strip()
        or rest.lstrip()[0] in ".:-–—"
        or (rest.strip() == rest.strip().upper() and any(c.isalpha() for c in rest))
    ),
    levels={"phần": 1, "chương": 2, "mục": 3, "tiểu mục": 4},
    markers=re.compile(
        "^" + _IND + rf"(?:(?P<l1>\d{{1,3}})\.(?=[ \t]){_NOT_DATE}|(?P<l2>[a-zđ])\)(?=[ \t]))",
        _M,
    ),
    label=lambda level, number: f"khoản {number}" if level == 1 else f"điểm {number}",
    appendix=re.compile(
        _IND + _MD + r"(?:Phụ lục|PHỤ LỤC)(?:[ \t]+(?:[IVXLCDM]+|\d+[A-Za-z]?|[A-Z]))?[ \t]*"
        r"(?P<rest>(?:[.:\-–—][^\n]*)?)$",
        _M,
    ),
)

_ZH = _Grammar(
    candidate=re.compile("^" + _IND + r"(?:#|第|附)", _M),
    article=re.compile(_IND + _MD + rf"第[ \t]*(?P<num>{_ZH_NUM})[ \t]*条(?:之(?P<sub>{_ZH_NUM}))?"),
    article_rest=re.compile(r"【(?P<title>[^】\n]{1,40})】|(?=[ \t\u3000]|$)", _M),
    division=re.compile(
        _IND
        + _MD
        + rf"(?P<label>第[ \t]*{_ZH_NUM}[ \t]*(?P<kw>分编|编|章|节)"
        + r"|(?P<kw2>附[ \t\u3000]*则)(?=[ \t\u3000]*$))(?=[ \t\u3000]|$)(?P<rest>[^\n]*)",
        _M,
    ),
    division_ok=lambda rest: len(rest.strip()) <= 40 and not re.search(r"[，。；,;]", rest),
    levels={"编": 1, "分编": 2, "章": 3, "节": 4, "附则": 3},
    markers=re.compile("^" + _IND + r"(?:(?P<l2>[（(][一二三四五六七八九十]{1,3}[）)])|(?P<l1>\S))", _M),
    label=lambda level, number: f"第{number}款" if level == 1 else f"第{number}项",
)

_EN = _Grammar(
    candidate=re.compile(
        "^" + _IND + r"(?:#|Article|ARTICLE|Art\.|Section|SECTION|Sec\.|§|PART|Part|CHAPTER|Chapter|TITLE"
        r"|Annex|ANNEX|Appendix|APPENDIX|Schedule|SCHEDULE)",
        _M,
    ),
    article=re.compile(
        _IND + _MD + r"(?P<kw>Article|ARTICLE|Art\.|Section|SECTION|Sec\.|§)[ \t]*"
        r"(?P<num>\d+[A-Za-z]?(?:\.\d+)*|[IVXLC]+)\b"
    ),
    article_rest=re.compile(r"(?P<title>[^\n]*)", _M),
    division=re.compile(
        _IND + _MD + r"(?P<label>(?P<kw>PART|Part|CHAPTER|Chapter|TITLE)[ \t]+(?:[IVXLC]+|\d+|[A-Z]))\b"
        r"(?P<rest>[^\n]*)",
        _M,
    ),
    division_ok=_en_title_ok,
    levels={"part": 1, "title": 1, "chapter": 2},
    markers=re.compile(
        "^" + _IND + rf"(?:(?P<l1>\d{{1,3}}(?:\.\d{{1,3}})+\.?|\(\d{{1,3}}\)|\d{{1,3}}\.)(?=[ \t]){_NOT_DATE}"
        r"|(?P<l2>\([a-z]{1,3}\)|[a-z]\))(?=[ \t]))",
        _M,
    ),
    label=lambda level, number: number.rstrip("."),
    appendix=re.compile(
        _IND + _MD + r"(?:Annex|ANNEX|Appendix|APPENDIX|Schedule|SCHEDULE)(?:[ \t]+[A-Z0-9IVX]+)?[ \t]*"
        r"(?P<rest>(?:[.:\-–—][^\n]*)?)$",
        _M,
    ),
)

_MD_HEADING = re.compile(r" {0,3}(?P<hashes>#{1,6})[ \t]+(?P<label>[^\n]*?)[ \t#]*$", _M)
_SPACES = re.compile(r"\s+")
_GRAMMARS = {"ko": _KO, "vi": _VI, "zh": _ZH, "ja": _ZH}


def parse_structure(text: str, language: str, title: str | None = None) -> list[Block]:
    """Cut ``text`` into article and text blocks that partition it, in document order.

    Args:
        text: the document text.
        language: ISO code choosing the grammar (``ko``, ``vi``, ``zh``, ``ja``; anything else: English).
        title: the document title; a Markdown heading equal to it is not taken for a chapter.

    Example:
        >>> [b.article for b in parse_structure("제1조(목적) 이 법은 ...\\n제2조(정의) ...", "ko")]
        ['제1조', '제2조']
    """
    gram = _GRAMMARS.get(language, _EN)
    heads = list(_headings(text, gram, _norm(title) if title else None))
    blocks = [] if heads and heads[0].start == 0 else [_text_block(text, 0, heads[0].start if heads else len(text))]
    divisions: dict[int, str] = {}
    in_appendix = False
    act = ""  # the amending act of the current 부칙: "〈제12527호, 2014.3.24〉"
    part_of: dict[int, str] = {}  # division level -> part
    for i, head in enumerate(heads):
        end = heads[i + 1].start if i + 1 < len(heads) else len(text)
        if head.kind == "division":
            divisions = {lv: lab for lv, lab in divisions.items() if lv < head.level}
            divisions[head.level] = head.label
            part_of = {lv: p for lv, p in part_of.items() if lv < head.level}
            if _ADDENDA_DIVISION.search(head.label):
                part_of[head.level] = "addenda"
        elif head.kind in ("appendix", "annex"):
            in_appendix = head.kind == "appendix"
            divisions = {0: head.label} if in_appendix else {}
            act = _act_of(head.label) if in_appendix else ""
            part_of = {0: "addenda" if in_appendix and gram.appendix_prefix else "annex"}
        chapter = divisions[max(divisions)] if divisions else None
        part = next((part_of[lv] for lv in sorted(part_of, reverse=True)), "main")
        if head.kind in ("article", "annex"):
            label = head.label
            if in_appendix and gram.appendix_prefix and head.kind == "article":
                label = " ".join(p for p in (gram.appendix_prefix, act, label) if p)
            markers = tuple(_markers(text, gram, head, end))
            heading = _format_heading(language, label, head.title)
            blocks.append(
                Block(
                    "article",
                    head.start,
                    end,
                    chapter,
                    label,
                    head.title,
                    heading,
                    markers,
                    False,
                    head.heading_end,
                    part,
                )
            )
        else:
            only = not text[head.heading_end : end].strip()
            blocks.append(
                Block("text", head.start, end, chapter, heading_only=only, head_end=head.heading_end, part=part)
            )
    return blocks


def clause_label(block: Block, start: int, end: int, language: str) -> str | None:
    """The clause, or range of clauses, of ``block`` that the span ``[start, end)`` touches.

    Uses the outermost marker level that occurs after the article's start; None when the article
    has no clauses or the span holds only the text before the first clause.
    """
    inner = [m for m in block.markers if m.start > block.start]
    if not inner:
        return None
    level = min(m.level for m in inner)
    top = [m for m in block.markers if m.level == level]
    hits = [
        m for i, m in enumerate(top) if m.start < end and (top[i + 1].start if i + 1 < len(top) else block.end) > start
    ]
    if not hits:
        return None
    if len(hits) == 1:
        return hits[0].label
    last = hits[-1].label if language in ("ko", "zh", "ja") else hits[-1].number.rstrip(".")
    return f"{hits[0].label}-{last}"


def zh_numeral(n: int) -> str:
    """Chinese numeral for 1 <= n < 10000 (``12`` → ``十二``, ``105`` → ``一百零五``)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero and out else "") + digits[d] + unit
            zero = False
        else:
            zero = True
    return out


def _headings(text: str, gram: _Grammar, norm_title: str | None) -> Iterator[Heading]:
    for cand in gram.candidate.finditer(text):
        head = _heading_at(text, cand.start(), gram)
        if head is None:
            continue
        if head.kind == "division" and head.markdown and norm_title and _norm(head.label) == norm_title:
            head = Heading("title", head.start, head.heading_end, head.heading_end, head.label)
        yield head


def _heading_at(text: str, pos: int, gram: _Grammar) -> Heading | None:
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if line_end > pos and text[line_end - 1] == "\r":  # CRLF text: "$" must see the line's real end
        line_end -= 1
    if m := gram.article.match(text, pos, line_end):
        rest = gram.article_rest.match(text, m.end(), line_end)
        if rest is not None and gram is _EN and not _en_title_ok(rest.group(0)):
            rest = None
        return _article(m, rest, gram, line_end) if rest or m.group("md") else None
    if gram.annex and (m := gram.annex.match(text, pos, line_end)):
        tail = m.group("rest").strip()
        if m.group("md") or not tail or tail.startswith(("(", "[")):
            label, title = "별표" + _SPACES.sub("", m.group("num") or ""), m.group("title")
            md = bool(m.group("md"))
            return Heading("annex", pos, line_end, line_end, label, title and title.strip(), markdown=md)
    if gram.appendix and (m := gram.appendix.match(text, pos, line_end)) and line_end - pos <= 150:
        label = re.sub(r"^부[ \t]*칙", "부칙", _strip_md(text[pos:line_end]))
        return Heading("appendix", pos, line_end, line_end, label, markdown=bool(m.group("md")))
    if (m := gram.division.match(text, pos, line_end)) and gram.division_ok(m.group("rest")):
        keyword = _SPACES.sub("", m.group("kw") or m.groupdict().get("kw2") or "")
        return _division(text, pos, line_end, gram.levels.get(keyword.lower(), 2), m)
    if m := _MD_HEADING.match(text, pos, line_end):
        label, level = m.group("label"), len(m.group("hashes"))
        return Heading("division", pos, line_end, line_end, label, level=level, markdown=True)
    return None


def _article(m: re.Match[str], rest: re.Match[str] | None, gram: _Grammar, line_end: int) -> Heading:
    num, sub = m.group("num"), m.groupdict().get("sub")
    title = rest.group("title") if rest and "title" in rest.groupdict() else None
    if gram is _KO:
        label = f"제{num}조" + (f"의{sub}" if sub else "")
    elif gram is _ZH:
        label = f"第{num}条" + (f"之{sub}" if sub else "")
    elif gram is _VI:
        label = f"Điều {num}"
    else:
        kw = m.group("kw").rstrip(".").capitalize()
        label = f"{_EN_KEYWORDS.get(kw, kw)} {num}"
    if title is not None:
        title = title.strip() or None
        if gram is _EN and title:
            title = title.lstrip(".:-–—) ").strip() or None
    body_start = rest.end() if rest and gram is _KO else line_end
    return Heading("article", m.start(), line_end, body_start, label, title, markdown=bool(m.group("md")))


def _division(text: str, pos: int, line_end: int, level: int, m: re.Match[str]) -> Heading:
    label, end = _strip_md(text[pos:line_end]), line_end
    if not m.group("rest").strip(" \t.:-–—") and line_end < len(text):
        # "Chương I" with its title ("NHỮNG QUY ĐỊNH CHUNG") on the next line
        nxt_end = text.find("\n", line_end + 1)
        nxt_end = len(text) if nxt_end < 0 else nxt_end
        nxt = text[line_end + 1 : nxt_end].strip()
        if nxt and len(nxt) <= 120 and nxt == nxt.upper() and any(c.isalpha() and c.isupper() for c in nxt):
            label, end = f"{label.rstrip()} {nxt}", nxt_end
    return Heading("division", pos, end, end, label, level=level, markdown=bool(m.group("md")))


def _markers(text: str, gram: _Grammar, head: Heading, end: int) -> Iterator[Marker]:
    if gram is _ZH:
        yield Marker(head.start, 1, "第一款", "一")
        count = 1
        for m in gram.markers.finditer(text, head.heading_end, end):
            if m.group("l2"):
                number = m.group("l2")[1:-1]
                yield Marker(m.start(), 2, f"第（{number}）项", number)
            else:
                count += 1
                yield Marker(m.start(), 1, f"第{zh_numeral(count)}款", zh_numeral(count))
        return
    inline = _KO_INLINE.match(text, head.body_start, head.heading_end) if gram is _KO else None
    if inline is not None:
        yield Marker(inline.start("l1"), 1, gram.label(1, inline.group("l1")), inline.group("l1"))
    for m in gram.markers.finditer(text, head.heading_end, end):
        level = next(lv for lv in (1, 2, 3, 4) if m.groupdict().get(f"l{lv}"))
        number = m.group(f"l{level}")
        yield Marker(m.start(), level, gram.label(level, number), number)


def _format_heading(language: str, label: str, title: str | None) -> str:
    if not title:
        return label
    if language == "ko":
        return f"{label}({title})"
    if language in ("zh", "ja"):
        return f"{label}【{title}】"
    return f"{label}. {title}"


#: a division that holds a statute's supplementary provisions: 附则, a Vietnamese "điều khoản thi hành" chapter
_ADDENDA_DIVISION = re.compile(
    r"附[ \t\u3000]*则|điều khoản thi hành|quy định thi hành|hiệu lực thi hành", re.IGNORECASE
)
#: the amending act a 부칙 heading names: 〈제12527호, 2014.3.24〉, <법률 제8372호, 2007.4.11>, <2026. 3. 31.>
_ACT = re.compile(
    r"[〈<＜(\[]\s*(?:(?:법률|대통령령|총리령|[가-힣]+부령|[가-힣]+규칙)?\s*(제\s*[\d\-]+\s*호)\s*[,，]?)?"
    r"\s*(\d{4}\s*\.\s*\d{1,2}\s*\.\s*\d{1,2}\.?)?\s*[〉>＞)\]]"
)


def _act_of(heading: str) -> str:
    """The act a 부칙 heading belongs to, as cited: ``〈제12527호, 2014.3.24〉`` (``""`` when it names none)."""
    for m in _ACT.finditer(heading):
        number = re.sub(r"\s+", "", m.group(1) or "")
        date = re.sub(r"\s+", "", m.group(2) or "").rstrip(".")
        if number or date:
            return "〈" + ", ".join(p for p in (number, date) if p) + "〉"
    return ""


def _text_block(text: str, start: int, end: int) -> Block:
    return Block("text", start, end, heading_only=not text[start:end].strip(), head_end=start)


def _strip_md(line: str) -> str:
    return line.strip().lstrip("#").strip().rstrip("#").strip()


def _norm(value: str) -> str:
    return _SPACES.sub("", value).lower()
