"""Statute-aware, token-aware chunking of :class:`SourceDocument` s into :class:`Chunk` s.

An article stays whole when it fits; a long one splits at clause boundaries (항/khoản/款), then
items (호/điểm/项, 목), paragraphs, lines and sentences, and only as a last resort into token
windows that overlap by ``overlap_tokens``. Neighbouring pieces of one article merge back up to
the limit; articles never merge with each other. Text outside articles (preambles, Q&A, contracts)
splits by paragraphs, lines, sentences, windows.

``max_tokens`` bounds the tokens of ``embed_text`` (contextual header included) as the real
tokenizer counts them. Each block is tokenized once (batched) and split on those offsets; a piece
cut at whitespace by a whitespace-splitting tokenizer (BERT WordPiece) keeps that count, which is
exact; every other piece is counted again, and one the tokenizer counts over the limit is re-split.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legalrag.ingest.structure import Block, clause_label, parse_structure
from legalrag.plugin.errors import IngestError, InputError
from legalrag.plugin.models.tokens import (
    BatchTokenCounter,
    HFTokenCounter,
    SimpleTokenCounter,
    TokenCounter,
    tiktoken_count,
    tiktoken_counts,
)
from legalrag.plugin.schema import RESERVED_KEYS, Chunk, SourceDocument, content_hash
from legalrag.plugin.text.language import detect_language

__all__ = [
    "BatchTokenCounter",
    "Chunker",
    "HFTokenCounter",
    "SimpleTokenCounter",
    "TokenCounter",
    "effective_date",
    "tiktoken_count",
]

_PARAGRAPH = re.compile(r"\n[ \t\u3000]*\n\s*")
_LINE = re.compile(r"\n")
_CONTENT = re.compile(r"\S")
_SENTENCE = re.compile(r"(?<=[^\d\s])[.!?;](?=\s)|[。！？；]")
_COARSE_CHARS = 50_000  # longest span tokenized at once; bounds memory on huge unstructured files
_BATCH_CHARS = 200_000


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    window: bool = False


class _Tokens:
    """Token spans of one stretch of text (absolute offsets); counts any sub-span by bisection."""

    def __init__(self, offsets: list[tuple[int, int]], base: int) -> None:
        self.starts = [s + base for s, _ in offsets]
        self.ends = [e + base for _, e in offsets]
        if sorted(self.starts) != self.starts:  # fast tokenizers emit offsets in order; be safe anyway
            pairs = sorted(zip(self.starts, self.ends, strict=True))
            self.starts, self.ends = [s for s, _ in pairs], [e for _, e in pairs]

    def count(self, start: int, end: int) -> int:
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def clean(self, text: str, k: int) -> bool:
        """Whether cutting between token k-1 and token k keeps words whole."""
        prev_end, nxt = self.ends[k - 1], self.starts[k]
        if nxt < prev_end or prev_end <= 0:
            return nxt >= prev_end
        return nxt > prev_end or not (text[prev_end - 1].isalnum() and text[nxt].isalnum())


def _windows(text: str, tokens: _Tokens, start: int, end: int, budget: int, overlap: int) -> list[_Span]:
    """Cut ``[start, end)`` into windows of at most ``budget`` tokens, overlapping by ``overlap``."""
    first, stop = bisect_left(tokens.starts, start), bisect_left(tokens.starts, end)
    budget, overlap = max(1, budget), min(overlap, max(0, budget // 2))
    out: list[_Span] = []
    i = first
    while i < stop:
        j = min(i + budget, stop)
        if j < stop:
            j = next((k for k in range(j, i + max(1, budget // 2), -1) if tokens.clean(text, k)), j)
        out.append(_Span(max(tokens.starts[i], start), min(tokens.ends[j - 1], end), True))
        if j >= stop:
            break
        nxt = max(j - overlap, i + 1)
        i = next((k for k in range(nxt, j) if tokens.clean(text, k)), nxt)
    return out


class _Splitter:
    """Splits one span along the provision tree until every piece fits ``budget`` tokens."""

    def __init__(self, text: str, tokens: _Tokens, budget: int, overlap: int, floor: int) -> None:
        self.text, self.tokens, self.budget, self.overlap = text, tokens, budget, overlap
        self.floor = floor  # no cut at or before this offset: a heading stays with the text after it

    def fits(self, start: int, end: int) -> bool:
        return self.tokens.count(start, end) <= self.budget

    def split(self, start: int, end: int, markers: Sequence[Any], stage: int = 0) -> list[_Span]:
        if self.fits(start, end):
            return [_Span(start, end)]
        cuts: list[int] = []
        while stage < 4 and not (cuts := self._cuts(start, end, markers, stage)):
            stage += 1
        if not cuts:
            return _windows(self.text, self.tokens, start, end, self.budget, self.overlap)
        out: list[_Span] = []
        for a, b in itertools.pairwise([start, *cuts, end]):
            for span in self.split(a, b, markers if stage == 0 else (), stage):
                if out and not span.window and not out[-1].window and self.fits(out[-1].start, span.end):
                    out[-1] = _Span(out[-1].start, span.end)  # neighbours of one block merge up to the limit
                elif self.text[span.start : span.end].strip():
                    out.append(span)
        return out

    def _cuts(self, start: int, end: int, markers: Sequence[Any], stage: int) -> list[int]:
        return [c for c in self._candidates(start, end, markers, stage) if c > self.floor]

    def _candidates(self, start: int, end: int, markers: Sequence[Any], stage: int) -> list[int]:
        if stage == 0:
            inner = [m for m in markers if start < m.start < end]
            level = min((m.level for m in inner), default=0)
            return [m.start for m in inner if m.level == level]
        if stage == 1:
            return [m.end() for m in _PARAGRAPH.finditer(self.text, start, end) if m.end() < end]
        pattern = _LINE if stage == 2 else _SENTENCE
        return [m.end() for m in pattern.finditer(self.text, start, end) if start < m.end() < end]


@dataclass(frozen=True, slots=True)
class _Piece:
    block: Block
    start: int
    end: int
    header: str
    window: bool
    estimate: int | None = None  # header + span tokens, when provably what the tokenizer will count


class Chunker:
    """Cuts documents into chunks that follow statute structure and fit the embedding model.

    Args:
        counter: counts tokens as the embedding model will (:class:`HFTokenCounter`).
        max_tokens: upper bound on tokens of every chunk's ``embed_text`` (header included).
        overlap_tokens: overlap between consecutive token windows (only window splits overlap);
            capped at half of a window.
        contextual_header: prefix ``embed_text`` with the law title and article heading.

    Example:
        >>> doc = SourceDocument("law.md", "law.md", "제1조(목적) 이 법은 ...", title="이자제한법")
        >>> chunk = Chunker(SimpleTokenCounter(), max_tokens=64).chunk(doc)[0]
        >>> chunk.metadata["citation"], chunk.embed_text.splitlines()[0]
        ('이자제한법 제1조', '이자제한법 제1조(목적)')
    """

    def __init__(
        self, counter: TokenCounter, max_tokens: int, overlap_tokens: int = 32, contextual_header: bool = True
    ) -> None:
        if max_tokens < 16:
            raise InputError(f"max_tokens={max_tokens} is too small: use at least 16 (typically the model's limit)")
        if not 0 <= overlap_tokens < max_tokens:
            raise InputError(f"overlap_tokens={overlap_tokens} must be >= 0 and below max_tokens={max_tokens}")
        self.counter, self.max_tokens, self.overlap_tokens = counter, max_tokens, overlap_tokens
        self.contextual_header = contextual_header

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        """Chunks of ``doc`` in document order; ``doc.text[char_start:char_end] == chunk.text``."""
        text = doc.text
        if not text.strip():
            return []
        language = doc.language or detect_language(text)
        blocks = [b for b in parse_structure(text, language, doc.title) if not b.heading_only]
        headers = {id(b): self._header(doc.title, b, language) for b in blocks}
        unique = list(dict.fromkeys(headers.values()))
        header_tokens = dict(zip(unique, self._count(unique), strict=True))
        for block in blocks:  # a header may use at most half the budget, else shorten or drop it
            while header_tokens[headers[id(block)]] > self.max_tokens // 2:
                headers[id(block)] = shorter = _shorten(headers[id(block)], block)
                if shorter not in header_tokens:
                    header_tokens[shorter] = self._count([shorter])[0]
        pieces = list(self._pieces(text, blocks, headers, header_tokens))
        return self._build(doc, language, self._enforce_limit(text, pieces, header_tokens))

    def _header(self, title: str | None, block: Block, language: str) -> str:
        if not self.contextual_header:
            return ""
        tail = block.heading if block.kind == "article" else block.chapter
        parts = [p for p in (title, tail) if p]
        return (" " if language in ("ko", "zh", "ja") else ", ").join(parts) + "\n" if parts else ""

    def _count(self, texts: list[str]) -> list[int]:
        if isinstance(self.counter, BatchTokenCounter):
            return self.counter.count_batch(texts)
        return [self.counter.count(t) for t in texts]

    def _offsets(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        if isinstance(self.counter, BatchTokenCounter):
            return self.counter.offsets_batch(texts)
        return [self.counter.offsets(t) for t in texts]

    def _pieces(
        self, text: str, blocks: list[Block], headers: dict[int, str], header_tokens: dict[str, int]
    ) -> Iterator[_Piece]:
        work = [(b, s, e) for b in blocks for s, e in _coarse(text, b.start, b.end)]
        additive, n = bool(getattr(self.counter, "additive", False)), len(text)
        for batch in _batches(work):
            offsets = self._offsets([text[s:e] for _, s, e in batch])
            for (block, s, e), offs in zip(batch, offsets, strict=True):
                header = headers[id(block)]
                budget = self.max_tokens - header_tokens[header]
                floor = _CONTENT.search(text, block.head_end, e)
                floor_at = floor.start() if floor else e
                splitter = _Splitter(text, _Tokens(offs, s), budget, self.overlap_tokens, floor_at)
                markers = block.markers if block.kind == "article" else ()
                for span in splitter.split(s, e, markers):
                    a, b = _trim(text, span.start, span.end)
                    if a >= b:
                        continue
                    # a whitespace-splitting tokenizer counts a slice cut at whitespace exactly as the
                    # tokens of the document inside it, so those pieces need no second tokenizer call
                    exact = additive and (a == 0 or text[a - 1].isspace()) and (b == n or text[b].isspace())
                    estimate = header_tokens[header] + splitter.tokens.count(a, b) if exact else None
                    yield _Piece(block, a, b, header, span.window, estimate)

    def _enforce_limit(
        self, text: str, pieces: list[_Piece], header_tokens: dict[str, int]
    ) -> list[tuple[_Piece, int]]:
        unknown = [p for p in pieces if p.estimate is None]
        counted = iter(self._count([p.header + text[p.start : p.end] for p in unknown]))
        out: list[tuple[_Piece, int]] = []
        for piece in pieces:
            count = piece.estimate if piece.estimate is not None else next(counted)
            if count <= self.max_tokens:
                out.append((piece, count))
            else:  # the tokenizer sees this slice differently from the document: re-split it exactly
                out.extend(self._refit(text, piece, header_tokens[piece.header], count))
        return out

    def _refit(self, text: str, piece: _Piece, header_count: int, count: int) -> list[tuple[_Piece, int]]:
        budget = self.max_tokens - header_count - (count - self.max_tokens)
        tokens = _Tokens(self.counter.offsets(text[piece.start : piece.end]), piece.start)
        for _ in range(16):
            spans = [_trim(text, w.start, w.end) for w in _windows(text, tokens, piece.start, piece.end, budget, 0)]
            subs = [_Piece(piece.block, a, b, piece.header, True) for a, b in spans if a < b]
            counts = self._count([p.header + text[p.start : p.end] for p in subs])
            if all(c <= self.max_tokens for c in counts):
                return list(zip(subs, counts, strict=True))
            budget = max(1, budget - max(counts) + self.max_tokens - 1)
        raise IngestError(f"cannot fit text at {piece.start}:{piece.end} into max_tokens={self.max_tokens}")

    def _build(self, doc: SourceDocument, language: str, pieces: list[tuple[_Piece, int]]) -> list[Chunk]:
        text, doc_hash, title = doc.text, doc.doc_hash, doc.title
        effective = effective_date(doc.metadata)
        per_block: dict[int, int] = {}
        for piece, _ in pieces:
            per_block[id(piece.block)] = per_block.get(id(piece.block), 0) + 1
        tik = tiktoken_counts([text[p.start : p.end] for p, _ in pieces])
        chunks: list[Chunk] = []
        for index, ((piece, count), tk) in enumerate(zip(pieces, tik, strict=True)):
            block, body = piece.block, text[piece.start : piece.end]
            whole = per_block[id(block)] == 1
            clause = None if whole or block.kind != "article" else clause_label(block, piece.start, piece.end, language)
            meta: dict[str, Any] = {
                "doc_id": doc.doc_id,
                "source": doc.source,
                "title": title,
                "chapter": block.chapter,
                "article": block.article,
                "article_title": block.article_title,
                "part": block.part,
                "clause": clause,
                "citation": _citation(language, title or doc.doc_id, block, clause),
                "chunk_index": index,
                "chunk_count": len(pieces),
                "char_start": piece.start,
                "char_end": piece.end,
                "language": language,
                "content_hash": content_hash(body),
                "doc_hash": doc_hash,
                "token_count": count,
                "tiktoken_count": tk,
            }
            if effective:
                meta["effective_date"] = effective
            for key, value in doc.metadata.items():
                meta.setdefault(f"meta_{key}" if key in RESERVED_KEYS else key, value)
            chunks.append(Chunk(text=body, embed_text=piece.header + body, metadata=meta))
        return chunks


#: metadata keys that carry a statute's effective date (law_api front matter, common English/Vietnamese names)
_DATE_KEYS = ("시행일자", "시행일", "effective_date", "effective", "ngày hiệu lực", "ngay_hieu_luc", "施行日期")
_DATE = re.compile(r"^\s*(\d{4})[-./년\s]*(\d{1,2})[-./월\s]*(\d{1,2})\s*일?\s*$")


def effective_date(metadata: Mapping[str, Any]) -> str | None:
    """The effective date in the metadata as an ISO date (``20251002`` → ``2025-10-02``), else ``None``.

    Stored as ``effective_date`` with a datetime index, so ``{"effective_date": {"$gte": "2020-01-01"}}``
    filters by it.

    >>> effective_date({"시행일자": "20251002"}), effective_date({"effective_date": "2024.1.5"})
    ('2025-10-02', '2024-01-05')
    """
    for key in _DATE_KEYS:
        value = metadata.get(key)
        if value is None:
            continue
        match = _DATE.match(str(value))
        if match:
            year, month, day = (int(g) for g in match.groups())
            if 1 <= month <= 12 and 1 <= day <= 31:
                return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def _citation(language: str, title: str, block: Block, clause: str | None) -> str:
    """``개인정보 보호법 제15조 제1항``, ``Luật Doanh nghiệp 2020, Điều 5, khoản 2``, ``民法典 第五条``."""
    where = block.article or block.chapter
    if language in ("zh", "ja"):
        return f"{title} {where}{clause or ''}" if where else title
    sep = " " if language == "ko" else ", "
    return sep.join(p for p in (title, where, clause) if p)


def _shorten(header: str, block: Block) -> str:
    """A shorter header: the article heading alone, then nothing."""
    if block.heading and header.strip() != block.heading:
        return block.heading + "\n"
    return ""


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _coarse(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Split very long spans at paragraph/line/space breaks so no tokenizer call is huge."""
    while end - start > _COARSE_CHARS:
        limit = start + _COARSE_CHARS
        floor = start + _COARSE_CHARS // 2
        found = (text.rfind(sep, floor, limit) for sep in ("\n\n", "\n", " "))
        cut = next((c + 1 for c in found if c >= 0), limit)
        yield start, cut
        start = cut
    yield start, end


def _batches(work: list[tuple[Block, int, int]]) -> Iterator[list[tuple[Block, int, int]]]:
    batch: list[tuple[Block, int, int]] = []
    size = 0
    for item in work:
        batch.append(item)
        size += item[2] - item[1]
        if size >= _BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
