"""Cheap, deterministic language detection by script, enough to pick a tokenizer.

Legal corpora are monolingual per document almost always; counting scripts is fast and
needs no model. Returns ISO 639-1 codes: ``ko``, ``vi``, ``zh``, ``ja``, ``en`` (any other
Latin text), or ``und`` when there are no letters at all.
"""

from __future__ import annotations

import re

__all__ = ["SUPPORTED_LANGUAGES", "detect_language"]

SUPPORTED_LANGUAGES = ("ko", "vi", "zh", "ja", "en")

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
# letters that occur in Vietnamese and (almost) nowhere else: đ, ơ, ư and the stacked tone marks
_VIET = re.compile(r"[đĐơƠưƯăĂ\u1ea0-\u1ef9]")


def detect_language(text: str, sample: int = 4000) -> str:
    """Guess the language of ``text`` from the first ``sample`` characters.

    >>> detect_language("개인정보 보호법 제15조")
    'ko'
    >>> detect_language("Điều 5. Phạm vi điều chỉnh")
    'vi'
    >>> detect_language("第一条 为了规范")
    'zh'
    """
    head = text[:sample]
    hangul = len(_HANGUL.findall(head))
    kana = len(_KANA.findall(head))
    han = len(_HAN.findall(head))
    latin = len(_LATIN.findall(head))
    if hangul == kana == han == latin == 0:
        return "und"
    if hangul >= max(kana, han, latin * 0.2):
        return "ko"
    if kana and kana + han >= latin:
        return "ja"
    if han >= latin:
        return "zh"
    viet = len(_VIET.findall(head))
    return "vi" if viet >= max(2, latin * 0.02) else "en"
