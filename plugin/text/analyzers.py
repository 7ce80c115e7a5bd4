"""Language-aware word tokenizers for BM25: kiwipiepy (ko), pyvi (vi), character bigrams (zh), Unicode fallback.

Every tokenizer turns text into index terms: lowercased content words with particles, endings and
punctuation dropped. Statute references become one term in every language (``제15조``, ``제28조의8``,
``điều_5``, ``第15条``) because they are what legal queries most often name exactly.

Tokenizers are built lazily, once per process (kiwipiepy's model takes seconds to load), and are safe
to share between threads.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

from legalrag.plugin.errors import MissingExtraError

__all__ = [
    "ChineseBigramTokenizer",
    "ChineseTokenizer",
    "KoreanTokenizer",
    "Tokenizer",
    "UnicodeTokenizer",
    "VietnameseTokenizer",
    "analyzer_for",
    "get_tokenizer",
    "normalize_language",
    "tokenizer_versions",
]

#: bump when a rule below changes the terms produced, so stored encoder configs can tell
RULES_VERSION = "r1"
#: Korean's own rules on top of :data:`RULES_VERSION` (k2: kiwipiepy without its multi-word dictionary)
KO_RULES_VERSION = f"{RULES_VERSION}.k2"

_WORD = re.compile(r"[^\W_]+")
_HAS_WORD = re.compile(r"[^\W_]")
# Han ideographs and kana: scripts written without spaces, split into character bigrams
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# a string keeps the list readable; ruff would spread a literal over 37 lines
_EN_STOPWORDS = frozenset(
    "a an and are as at be been by for from has have if in into is it its of on or such that the "  # noqa: SIM905
    "their then there these this those to was were which will with".split()
)


@runtime_checkable
class Tokenizer(Protocol):
    """Turns text into index terms; ``tokenize_batch`` may be faster than a loop."""

    @property
    def version(self) -> str: ...

    def tokenize(self, text: str) -> list[str]: ...

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]: ...


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class UnicodeTokenizer:
    """Fallback for English, Japanese, mixed or unknown text: NFKC + casefold ``\\w+`` words.

    Runs of Han/kana become overlapping character bigrams (one unigram for a 1-character run).

    Example:
        >>> UnicodeTokenizer().tokenize("The GDPR and 個人情報")
        ['gdpr', '個人', '人情', '情報']
    """

    def __init__(self, stopwords: frozenset[str] = _EN_STOPWORDS) -> None:
        self._stopwords = stopwords

    @property
    def version(self) -> str:
        return f"unicode+{RULES_VERSION}"

    def tokenize(self, text: str) -> list[str]:
        terms: list[str] = []
        for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
            start = 0
            for run in _CJK_RUN.finditer(word):
                self._add_word(word[start : run.start()], terms)
                terms.extend(_bigrams(run.group()))
                start = run.end()
            self._add_word(word[start:], terms)
        return terms

    def _add_word(self, word: str, terms: list[str]) -> None:
        if word and word not in self._stopwords:
            terms.append(word)

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


class KoreanTokenizer:
    """Korean morphemes from kiwipiepy, keeping what carries meaning.

    Kept: nouns (NNG, NNP), adjacent noun pairs joined (``개인`` + ``정보`` also gives ``개인정보``,
    so spaced and unspaced compounds match), roots (XR), foreign words (SL), hanja (SH), numbers with
    their counter (``14세``), verb/adjective stems in dictionary form (``받다``), URLs and serials, and
    statute references as one term (``제15조``, ``제1항``, ``제28조의8``). Dropped: particles, endings,
    suffixes, bound nouns, determiners, adverbs and punctuation.

    Example:
        >>> KoreanTokenizer().tokenize("개인정보를 수집하는 경우 제15조제1항에 따른다")  # doctest: +SKIP
        ['개인', '개인정보', '정보', '수집', '경우', '제15조', '제1항', '따르다']
    """

    @property
    def version(self) -> str:
        return f"kiwipiepy-{_package_version('kiwipiepy')}+{KO_RULES_VERSION}"

    def tokenize(self, text: str) -> list[str]:
        return _korean_terms(_kiwi().tokenize(text)) if text.strip() else []

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        # kiwipiepy spreads an iterable of texts over its worker threads
        return [_korean_terms(tokens) for tokens in _kiwi().tokenize(list(texts))]


_kiwi_lock = threading.Lock()
_kiwi_state: dict[str, Any] = {}


def _kiwi() -> Any:
    """The process's Kiwi, rebuilt after a fork (its worker threads do not survive one)."""
    pid = os.getpid()
    if _kiwi_state.get("pid") != pid:
        with _kiwi_lock:
            if _kiwi_state.get("pid") != pid:
                try:
                    from kiwipiepy import Kiwi
                except ImportError as exc:
                    raise MissingExtraError("kiwipiepy", "all", "Korean BM25 tokenization") from exc
                # Without the WikiData multi-word dictionary (a proper noun of several words becomes its
                # nouns, which the compound rule pairs up again) and the typo dictionary (informal
                # endings, which are dropped anyway): 0.7 s to load instead of 2.1 s, most of it holding
                # the GIL beside the model load; BM25 MRR@10 unchanged on both Q&A benchmarks.
                kiwi = Kiwi(num_workers=-1, load_multi_dict=False, load_typo_dict=False)
                kiwi.tokenize("")  # Kiwi finishes loading on first use; do it here, under the lock
                _kiwi_state.update(kiwi=kiwi, pid=pid)
    return _kiwi_state["kiwi"]


_KO_NOUNS = frozenset({"NNG", "NNP"})
_KO_KEEP = frozenset({"XR", "SH", "W_URL", "W_EMAIL", "W_HASHTAG", "W_SERIAL"})


def _korean_terms(tokens: Sequence[Any]) -> list[str]:
    terms: list[str] = []
    prev_noun: str | None = None  # last noun of the current noun run, for compound pairs
    prev_end = -1
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        tag, form = tok.tag, tok.form
        joined = _korean_reference(tokens, i) if tag in ("XPN", "SN") else None
        if joined is not None:
            term, i = joined
            terms.append(term)
            prev_noun = None
            continue
        if tag in _KO_NOUNS or (tag == "XSN" and prev_noun is not None and tok.start == prev_end):
            # nouns separated by at most one space still form a compound: 개인정보 보호 == 개인정보보호
            if prev_noun is not None and tok.start - prev_end <= 1:
                terms.append(prev_noun + form)
            if tag != "XSN":
                terms.append(form)
            prev_noun = form if tag != "XSN" else (prev_noun or "") + form
            prev_end = tok.end
        else:
            prev_noun = None
            if tag in ("SL", "SN") or tag in _KO_KEEP:
                terms.append(form.casefold())
            elif tag[:2] in ("VV", "VA"):
                terms.append(form + "다")
        i += 1
    return terms


def _korean_reference(tokens: Sequence[Any], i: int) -> tuple[str, int] | None:
    """``제`` + number + counter (+ ``의`` + number)..., or number + bound noun, as one term."""
    tok = tokens[i]
    if tok.tag == "XPN" and tok.form == "제" and _follows(tokens, i + 1, ("SN",)):
        term, j = "제" + tokens[i + 1].form, i + 2
        if _follows(tokens, j, ("NNB", "NNG")) and len(tokens[j].form) == 1:
            term, j = term + tokens[j].form, j + 1
            while _follows(tokens, j, ("JKG",), "의") and _follows(tokens, j + 1, ("SN",)):
                term, j = f"{term}의{tokens[j + 1].form}", j + 2
        return term, j
    if tok.tag == "SN" and _follows(tokens, i + 1, ("NNB",)):
        return tok.form + tokens[i + 1].form, i + 2
    return None


def _follows(tokens: Sequence[Any], j: int, tags: tuple[str, ...], form: str | None = None) -> bool:
    """Token ``j`` exists, touches token ``j - 1`` (no space) and has one of ``tags`` (and ``form``)."""
    return (
        j < len(tokens)
        and tokens[j].start == tokens[j - 1].end
        and tokens[j].tag in tags
        and (form is None or tokens[j].form == form)
    )


class VietnameseTokenizer:
    """Vietnamese words from pyvi's segmenter (``doanh_nghiệp``), lowercased, punctuation dropped.

    Statute references join their number: ``Điều 5`` → ``điều_5``, ``điểm a`` → ``điểm_a``. Without
    pyvi installed it falls back to syllables (its :attr:`version` then says so).

    Example:
        >>> VietnameseTokenizer().tokenize("Doanh nghiệp phải đăng ký theo Điều 5")  # doctest: +SKIP
        ['doanh_nghiệp', 'phải', 'đăng_ký', 'theo', 'điều_5']
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # pyvi's CRF tagger is a shared global
        self._segment: Callable[[str], str] | None = _load_pyvi()

    @property
    def version(self) -> str:
        engine = f"pyvi-{_package_version('pyvi')}" if self._segment else "syllables"
        return f"{engine}+{RULES_VERSION}"

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text)
        if not text.strip():
            return []
        if self._segment is None:
            words = _WORD.findall(text)
        else:
            with self._lock:
                words = self._segment(text).split()
        return _merge_vi_references([w for w in (x.casefold() for x in words) if _HAS_WORD.search(w)])

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


def _load_pyvi() -> Callable[[str], str] | None:
    try:
        from pyvi import ViTokenizer
    except ImportError:
        return None
    segment: Callable[[str], str] = ViTokenizer.tokenize
    return segment


_VI_UNITS = frozenset({"điều", "khoản", "điểm", "chương", "mục", "phần"})
_VI_NUMBER = re.compile(r"\d+[a-zđ]?|[a-zđ]|[ivxlc]+")


def _merge_vi_references(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _VI_UNITS and i + 1 < len(words) and _VI_NUMBER.fullmatch(words[i + 1]):
            out.append(f"{word}_{words[i + 1]}")
            i += 2
        else:
            out.append(word)
            i += 1
    return out


class ChineseTokenizer:
    """Chinese words from jieba in search mode, with statute references as one term.

    Search mode emits each word and the dictionary words inside it (``个人信息处理者`` gives
    ``个人``, ``信息``, ``处理``, ``个人信息``, ``信息处理``, ``处理者`` and itself): jieba's precise mode
    alone segments the same phrase differently by context, which loses BM25 matches. References with
    Chinese numerals are normalised: ``第十五条`` → ``第15条``. A private jieba dictionary holds a few
    legal terms, so the global ``jieba`` state is left untouched.

    Example:
        >>> ChineseTokenizer().tokenize("个人信息处理者依照本法第十五条")  # doctest: +SKIP
        ['个人', '信息', '处理', '处理者', '个人信息', '信息处理', '个人信息处理者', '依照', '本法', '第15条']
    """

    LEGAL_WORDS = (
        "个人信息",
        "敏感个人信息",
        "个人信息处理者",
        "处理者",
        "受托方",
        "个人信息保护法",
        "数据处理者",
        "金融机构",
    )

    def __init__(self) -> None:
        try:
            import jieba
        except ImportError as exc:
            raise MissingExtraError("jieba", "all", "Chinese BM25 tokenization") from exc
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for word in self.LEGAL_WORDS:
            self._jieba.add_word(word, freq=max(self._jieba.suggest_freq(word), 1000))

    @property
    def version(self) -> str:
        return f"jieba-{_package_version('jieba')}+{RULES_VERSION}"

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        terms: list[str] = []
        start = 0
        for ref in _ZH_REFERENCE.finditer(text):
            terms.extend(self._words(text[start : ref.start()]))
            terms.append(_zh_reference(ref))
            start = ref.end()
        terms.extend(self._words(text[start:]))
        return terms

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    def _words(self, text: str) -> Iterator[str]:
        freq = self._jieba.FREQ
        for word in self._jieba.cut(text, HMM=True):
            if not _HAS_WORD.search(word):
                continue
            if len(word) > 2 and _CJK_RUN.fullmatch(word):
                for size in range(2, len(word)):
                    for k in range(len(word) - size + 1):
                        if freq.get(word[k : k + size]):
                            yield word[k : k + size]
            yield word


class ChineseBigramTokenizer:
    """Chinese as overlapping character bigrams (Latin words and numbers whole), statute references as one term.

    Chosen by measurement over jieba: on JuDGE's case facts → criminal-law articles (public; dev half)
    BM25 with these terms reads MRR@10 0.532, jieba's search mode 0.381, plain character bigrams 0.517,
    character unigrams + bigrams 0.443 (docs/benchmarks/chinese.md). Queries in everyday words rarely
    share a jieba segmentation with the statute's wording, but they share its character pairs. Digits
    inside a Han run pair with their neighbours (``3年``); Latin words stay whole; a statute reference
    is also one term, with Chinese numerals normalised: ``第十五条`` → ``第15条``.

    Example:
        >>> ChineseBigramTokenizer().tokenize("处理者依照本法第十五条，GDPR")
        ['处理', '理者', '者依', '依照', '照本', '本法', '法第', '第十', '十五', '五条', 'gdpr', '第15条']
    """

    @property
    def version(self) -> str:
        return f"cjk-bigram+{RULES_VERSION}"

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        terms: list[str] = []
        for word in _WORD.findall(text):
            # Latin words stay whole; Han with the digits among it ("判处有期徒刑3年") is one run of pairs
            for piece in _LATIN_OR_REST.findall(word):
                terms.extend(_bigrams(piece) if _CJK_RUN.search(piece) else [piece])
        for ref in _ZH_REFERENCE.finditer(text):
            terms.append(_zh_reference(ref))
        return terms

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


_LATIN_OR_REST = re.compile(r"[a-z]+|[^a-z]+")
_ZH_NUMERAL = "零〇一二两三四五六七八九十百千"
_ZH_REFERENCE = re.compile(rf"第([0-9]+|[{_ZH_NUMERAL}]+)(条|款|项|章|节|编|目)(?:之([0-9{_ZH_NUMERAL}]+))?")
_ZH_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}


def _zh_reference(ref: re.Match[str]) -> str:
    """A matched statute reference as one term, numerals as digits: ``第十五条之一`` → ``第15条之1``."""
    suffix = f"之{_zh_int(ref.group(3))}" if ref.group(3) else ""
    return f"第{_zh_int(ref.group(1))}{ref.group(2)}{suffix}"


def _zh_int(numeral: str) -> int:
    """``"十五"`` → 15, ``"一百零三"`` → 103, ``"27"`` → 27."""
    if numeral.isdigit():
        return int(numeral)
    total = digit = 0
    for ch in numeral:
        if ch in _ZH_UNITS:
            total += (digit or 1) * _ZH_UNITS[ch]
            digit = 0
        else:
            digit = _ZH_DIGITS[ch]
    return total + digit


#: analysers by name; a language's own name is its default analyser
_FACTORIES: dict[str, Callable[[], Tokenizer]] = {
    "ko": KoreanTokenizer,
    "vi": VietnameseTokenizer,
    "zh": ChineseBigramTokenizer,
    "zh-jieba": ChineseTokenizer,  # the default for zh before measurement chose bigrams: older collections
    "default": UnicodeTokenizer,
}
_cache: dict[str, Tokenizer] = {}
_cache_lock = threading.Lock()


def normalize_language(language: str) -> str:
    """Lowercased primary subtag: ``"ko-KR"`` → ``"ko"``, ``"zh_Hans"`` → ``"zh"``, ``"EN"`` → ``"en"``."""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def get_tokenizer(language: str, analyzer: str | None = None) -> Tokenizer:
    """The shared tokenizer for ``language``: ko, vi and zh have their own, anything else the fallback.

    ``analyzer`` names another analyser for the language (``zh-jieba``: what collections built before
    Chinese bigrams use; see :func:`analyzer_for`).

    Example:
        >>> get_tokenizer("en").tokenize("Personal data of the subject")
        ['personal', 'data', 'subject']
    """
    key = normalize_language(language)
    key = key if key in _FACTORIES else "default"
    if analyzer is not None:
        if analyzer not in _FACTORIES:
            raise ValueError(f"unknown analyser {analyzer!r}; known: {', '.join(sorted(_FACTORIES))}")
        key = analyzer
    tokenizer = _cache.get(key)
    if tokenizer is None:
        with _cache_lock:
            tokenizer = _cache.get(key)
            if tokenizer is None:
                tokenizer = _cache[key] = _FACTORIES[key]()
    return tokenizer


def analyzer_for(language: str, version: str) -> str | None:
    """The analyser that produced terms tagged ``version`` for ``language`` when it is not today's default
    (``None``: the default, or a version this release cannot reproduce)."""
    if normalize_language(language) == "zh" and version.startswith("jieba-"):
        return "zh-jieba"
    return None


def tokenizer_versions() -> dict[str, str]:
    """Version tag of each tokenizer (library version + rules), without loading any model."""
    vi = f"pyvi-{_package_version('pyvi')}" if _package_version("pyvi") else "syllables"
    return {
        "ko": f"kiwipiepy-{_package_version('kiwipiepy')}+{KO_RULES_VERSION}",
        "vi": f"{vi}+{RULES_VERSION}",
        "zh": f"cjk-bigram+{RULES_VERSION}",
        "default": f"unicode+{RULES_VERSION}",
    }
