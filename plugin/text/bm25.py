"""Language-aware BM25 as Qdrant sparse vectors, IDF left to Qdrant (``Modifier.IDF``).

Documents carry BM25's saturated term frequency, computed at ingest::

    w(t, d) = tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

and a query carries weight 1.0 per distinct term, so Qdrant's dot product with its IDF modifier,
``idf(t) = ln((N - n_t + 0.5) / (n_t + 0.5) + 1)``, gives the BM25 score. Terms map to indices by a
stable hash instead of a vocabulary, so incremental ingestion from any process keeps agreeing.

Hash collisions: indices are 31-bit, so among V distinct terms about V² / 2³² pairs collide; for a
million-term corpus that is ~230 pairs, about 0.05 % of terms sharing an index with another term.
Colliding terms' weights are summed.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from legalrag.plugin.errors import ConfigError, InputError
from legalrag.plugin.schema import SparseVector
from legalrag.plugin.text.analyzers import (
    Tokenizer,
    analyzer_for,
    get_tokenizer,
    normalize_language,
    tokenizer_versions,
)
from legalrag.plugin.text.language import detect_language

__all__ = ["HASH_SCHEME", "BM25Encoder", "Tokenizer", "get_tokenizer", "term_index"]

#: identifies how terms become indices; a collection built with another scheme cannot be queried
HASH_SCHEME = "blake2b64-le32-mask31"
_MASK31 = 0x7FFFFFFF


@lru_cache(maxsize=1 << 18)
def term_index(term: str) -> int:
    """Sparse index of ``term``: first 4 bytes (little-endian) of blake2b-64 of its UTF-8, 31 bits.

    Stable across processes, machines and Python versions (unlike ``hash()``).

    Example:
        >>> term_index("개인정보") == term_index("개인정보")
        True
        >>> 0 <= term_index("gdpr") < 2**31
        True
    """
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") & _MASK31


def _vector(weights: Mapping[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[weights[i] for i in indices])


@dataclass(frozen=True, slots=True)
class BM25Encoder:
    """BM25 sparse vectors for documents and queries in Korean, Vietnamese, Chinese or anything else.

    Args:
        language: ``"auto"`` detects each text's language (by script); a code such as ``"ko"`` forces
            that tokenizer for every text. ``ko``, ``vi`` and ``zh`` have dedicated tokenizers; any
            other code uses the Unicode fallback.
        k1: term-frequency saturation (BM25 default 1.2).
        b: document-length normalisation, 0 to 1 (default 0.75).
        avgdl: average document length in terms; estimate it with :meth:`estimate_avgdl`.
        analyzers: ``(language, analyser)`` pairs that replace a language's default analyser, e.g.
            ``(("zh", "zh-jieba"),)`` for a collection built before Chinese bigrams (:meth:`from_config`
            sets them from what the collection recorded, so its queries match its documents).

    Example:
        >>> enc = BM25Encoder()
        >>> doc = enc.encode_documents(["Personal data shall be processed lawfully."])[0]
        >>> query = enc.encode_query("processing personal data")
        >>> len(query.indices), all(v == 1.0 for v in query.values)
        (3, True)
    """

    language: str = "auto"
    k1: float = 1.2
    b: float = 0.75
    avgdl: float = 256.0
    analyzers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not self.language.strip():
            raise InputError("language must be 'auto' or a language code such as 'ko', 'vi', 'zh', 'en'")
        if self.k1 < 0:
            raise InputError(f"k1={self.k1} must be >= 0 (1.2 is the usual BM25 value)")
        if not 0.0 <= self.b <= 1.0:
            raise InputError(f"b={self.b} must be between 0 and 1 (0.75 is the usual BM25 value)")
        if self.avgdl <= 0:
            raise InputError(f"avgdl={self.avgdl} must be > 0: use BM25Encoder().estimate_avgdl(sample)")

    def tokenize(self, text: str, language: str | None = None) -> list[str]:
        """Index terms of ``text`` with the tokenizer for ``language`` (default: the encoder's).

        Example:
            >>> BM25Encoder(language="en").tokenize("The Data Subject")
            ['data', 'subject']
        """
        return self._tokenizer(self._resolve(text, language)).tokenize(text)

    def encode_documents(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[SparseVector]:
        """BM25 term-frequency vectors, one per text; an empty text gives an empty vector.

        ``languages`` (same length as ``texts``) overrides the language per text; ``None`` entries
        use the encoder's setting. Texts are tokenized in batches per language.
        """
        norm_by_length = self.k1 * (1.0 - self.b)
        per_term = self.k1 * self.b / self.avgdl
        vectors = []
        for terms in self._tokenize_many(texts, languages):
            norm = norm_by_length + per_term * len(terms)
            weights: dict[int, float] = {}
            for term, tf in Counter(terms).items():
                index = term_index(term)
                weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1.0) / (tf + norm)
            vectors.append(_vector(weights))
        return vectors

    def encode_query(self, text: str, language: str | None = None) -> SparseVector:
        """Weight 1.0 per distinct query term (Qdrant supplies IDF); pass the documents' language.

        Example:
            >>> BM25Encoder().encode_query("")
            SparseVector(indices=[], values=[])
        """
        weights: dict[int, float] = {}
        for term in set(self.tokenize(text, language)):
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + 1.0
        return _vector(weights)

    def estimate_avgdl(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> float:
        """Mean number of terms per text over a sample, the value to pass as ``avgdl``.

        Example:
            >>> BM25Encoder(language="en").estimate_avgdl(["data subject", "personal data rights"])
            2.5
        """
        if not texts:
            raise InputError("estimate_avgdl needs at least one sample text")
        lengths = [len(terms) for terms in self._tokenize_many(texts, languages)]
        return max(sum(lengths) / len(lengths), 1.0)

    def config(self) -> dict[str, Any]:
        """JSON-able settings to store beside the collection; rebuild with :meth:`from_config`."""
        return {
            "kind": "bm25",
            "language": self.language,
            "k1": self.k1,
            "b": self.b,
            "avgdl": self.avgdl,
            "hash": HASH_SCHEME,
            "tokenizers": self._versions(),
            **({"analyzers": dict(self.analyzers)} if self.analyzers else {}),
        }

    def _tokenizer(self, language: str) -> Tokenizer:
        return get_tokenizer(language, dict(self.analyzers).get(normalize_language(language)))

    def _versions(self) -> dict[str, str]:
        """The version tag of the analyser each language uses in this encoder."""
        versions = tokenizer_versions()
        for language, analyzer in self.analyzers:
            versions[normalize_language(language)] = get_tokenizer(language, analyzer).version
        return versions

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BM25Encoder:
        """The encoder described by :meth:`config`; warns if the tokenizers have changed since.

        Example:
            >>> enc = BM25Encoder(language="ko", avgdl=120.0)
            >>> BM25Encoder.from_config(enc.config()) == enc
            True
        """
        if config.get("kind", "bm25") != "bm25":
            raise ConfigError(f"sparse encoder config has kind={config.get('kind')!r}; expected 'bm25'")
        if config.get("hash", HASH_SCHEME) != HASH_SCHEME:
            raise ConfigError(
                f"the collection's sparse vectors use term hash {config['hash']!r} but this legalrag "
                f"uses {HASH_SCHEME!r}: re-ingest the collection (recreate=True)"
            )
        missing = [key for key in ("language", "k1", "b", "avgdl") if key not in config]
        if missing:
            raise ConfigError(f"sparse encoder config lacks {missing}; expected the output of config()")
        stored = config.get("tokenizers") or {}
        analyzers = {str(k): str(v) for k, v in dict(config.get("analyzers") or {}).items()}
        for language, version in stored.items():  # collections built before an analyser's default changed
            if language not in analyzers and (older := analyzer_for(language, str(version))) is not None:
                analyzers[language] = older
        encoder = cls(
            language=str(config["language"]),
            k1=float(config["k1"]),
            b=float(config["b"]),
            avgdl=float(config["avgdl"]),
            analyzers=tuple(sorted(analyzers.items())),
        )
        changed = {k: (v, now) for k, now in encoder._versions().items() if (v := stored.get(k)) != now}
        if stored and changed:
            warnings.warn(
                f"tokenizers changed since the collection was built {changed}; sparse matches may "
                "degrade until the collection is re-ingested",
                UserWarning,
                stacklevel=2,
            )
        return encoder

    def _resolve(self, text: str, language: str | None) -> str:
        chosen = language if language is not None else self.language
        if normalize_language(chosen) == "auto":
            return detect_language(text)
        return chosen

    def _tokenize_many(self, texts: Sequence[str], languages: Sequence[str | None] | None) -> list[list[str]]:
        if isinstance(texts, str):
            raise InputError("encode_documents takes a sequence of texts; wrap a single text in a list")
        if languages is not None and len(languages) != len(texts):
            raise InputError(f"got {len(texts)} texts but {len(languages)} languages; pass one per text")
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            language = self._resolve(text, None if languages is None else languages[i])
            groups.setdefault(normalize_language(language), []).append(i)
        out: list[list[str]] = [[] for _ in texts]
        for language, positions in groups.items():
            batch = self._tokenizer(language).tokenize_batch([texts[i] for i in positions])
            for i, terms in zip(positions, batch, strict=True):
                out[i] = terms
        return out
