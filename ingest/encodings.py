"""Decode the bytes of a text file whose encoding nobody wrote down.

Legal corpora in the target languages still ship in legacy code pages: Korean CP949/EUC-KR,
Vietnamese Windows-1258 and Chinese GB18030. Generic detectors mistake short Korean CP949 text
for Chinese (every CP949 byte pair is also a valid GB18030 character), so the order here is:

1. a byte-order mark decides (UTF-8, UTF-16, UTF-32);
2. NUL bytes without a BOM mean binary content;
3. a strict UTF-8 decode wins when it succeeds;
4. each legacy candidate that decodes strictly is scored by how plausible its text is for the
   language that code page serves (share of very frequent syllables/characters), which tells
   real Korean from Korean bytes read as Chinese and the other way round;
5. only when no candidate is plausible does charset-normalizer choose, restricted to the
   candidates first and then unrestricted, and its answer must still be printable text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from legalrag.plugin.errors import InputError

__all__ = ["LEGACY_ENCODINGS", "DecodedText", "UndecodableError", "decode_bytes"]

#: legacy code pages tried after UTF-8, in tie-break order (EUC-KR is a subset of CP949)
LEGACY_ENCODINGS = ("cp949", "gb18030", "cp1258")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Very frequent syllables of Korean (general and statutory prose). Real Korean text has a large
# share of them; Chinese GB bytes read as CP949 produce Hangul at random and almost never these.
_KO_FREQUENT = frozenset(
    "이다의는에하고을를한가지수정로기사자서리대인해시여보어도으적있것제법조항등및경우관장위따라"
    "그나무소할된함규금융회상부은과와비용신청령행성전공산업계약거래"
)
# Very frequent Chinese characters (general and statutory prose), same idea for GB18030.
_ZH_FREQUENT = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也对生能而子得于着下自之年发后作用"
    "行法所民经定事成方多其本规条第应当或者关权务部公及等利业理员管政机合同依照职责"
)
# Letters only Vietnamese (among Latin scripts) uses, plus the combining tone marks of CP1258.
_VI_LETTERS = frozenset(
    "àáâãèéêìíòóôõùúýăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
    "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝĂĐĨŨƠƯ\u0300\u0301\u0303\u0309\u0323"
)
_MIN_SCORE = {"cp949": 0.1, "gb18030": 0.08, "cp1258": 0.5}
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


class UndecodableError(InputError):
    """The bytes are binary or in no encoding legalrag can read."""


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Text decoded from bytes, and the encoding that decoded it."""

    text: str
    encoding: str


def decode_bytes(data: bytes) -> DecodedText:
    """Decode ``data`` as text, trying BOMs, strict UTF-8, then validated legacy code pages.

    Raises:
        UndecodableError: the bytes are empty, binary (NUL bytes) or no candidate is plausible.

    Example:
        >>> decode_bytes("개인정보 보호법 제15조".encode("cp949")).encoding
        'cp949'
    """
    if not data:
        raise UndecodableError("empty file (0 bytes)")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return DecodedText(data.decode(encoding), encoding)
            except UnicodeDecodeError as exc:
                raise UndecodableError(
                    f"starts with a {encoding} byte-order mark but is not {encoding}: {exc}"
                ) from exc
    if b"\x00" in data:
        raise UndecodableError("binary content (NUL bytes); not a text file")
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    best: tuple[float, int, str, str] | None = None
    for rank, encoding in enumerate(LEGACY_ENCODINGS):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _plausibility(encoding, text)
        if score >= _MIN_SCORE[encoding] and (best is None or (score, -rank) > (best[0], -best[1])):
            best = (score, rank, encoding, text)
    if best is not None:
        return DecodedText(_finish(best[2], best[3]), best[2])
    return _normalizer_fallback(data)


def _plausibility(encoding: str, text: str) -> float:
    """Share of frequent characters of the language ``encoding`` serves (0 when implausible)."""
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return 1.0
    if encoding == "cp949":
        hangul = [ch for ch in non_ascii if "\uac00" <= ch <= "\ud7a3"]
        if len(hangul) < 0.5 * len(non_ascii):
            return 0.0
        return sum(ch in _KO_FREQUENT for ch in hangul) / len(hangul)
    if encoding == "gb18030":
        han = [ch for ch in non_ascii if "\u4e00" <= ch <= "\u9fff"]
        if len(han) < 0.5 * len(non_ascii):
            return 0.0
        return sum(ch in _ZH_FREQUENT for ch in han) / len(han)
    letters = sum(ch.isalpha() or unicodedata.combining(ch) > 0 for ch in text)
    viet = sum(ch in _VI_LETTERS for ch in non_ascii)
    if len(non_ascii) > 0.5 * max(letters, 1):
        return 0.0
    return viet / len(non_ascii)


def _finish(encoding: str, text: str) -> str:
    # CP1258 spells tones as combining marks; NFC gives the precomposed letters everyone else uses.
    return unicodedata.normalize("NFC", text) if encoding == "cp1258" else text


def _normalizer_fallback(data: bytes) -> DecodedText:
    from charset_normalizer import from_bytes

    for isolation in (list(LEGACY_ENCODINGS), None):
        match = from_bytes(data, cp_isolation=isolation).best()
        if match is None:
            continue
        text = str(match)
        if _printable(text):
            return DecodedText(_finish(match.encoding, text), match.encoding)
    raise UndecodableError(
        "undecodable bytes: not UTF-8/UTF-16 and no plausible legacy encoding "
        f"({', '.join(LEGACY_ENCODINGS)}); convert the file to UTF-8"
    )


def _printable(text: str) -> bool:
    bad = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in _ALLOWED_CONTROLS)
    return bad <= 0.01 * max(len(text), 1)
