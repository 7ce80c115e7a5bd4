"""Token counters: how many tokens the embedding model (and, for reports, tiktoken) sees in a text."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from legalrag.plugin.errors import InputError

__all__ = [
    "BackendTokenCounter",
    "BatchTokenCounter",
    "HFTokenCounter",
    "SimpleTokenCounter",
    "TokenCounter",
    "tiktoken_count",
    "tiktoken_counts",
]

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_SIMPLE_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+|[^\w\s]")


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the embedding model will, and says where each token lies."""

    def count(self, text: str) -> int:
        """Number of tokens in ``text``, without special tokens."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of ``text``, in order, without special tokens."""
        ...


@runtime_checkable
class BatchTokenCounter(TokenCounter, Protocol):
    """A :class:`TokenCounter` that also takes lists (one tokenizer call per batch)."""

    def count_batch(self, texts: Sequence[str]) -> list[int]: ...

    def offsets_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]: ...


class HFTokenCounter:
    """Token counts and offsets from a Hugging Face *fast* tokenizer.

    Example:
        >>> from transformers import AutoTokenizer  # doctest: +SKIP
        >>> counter = HFTokenCounter(AutoTokenizer.from_pretrained(model_dir))  # doctest: +SKIP
        >>> counter.count("제15조(개인정보의 수집ㆍ이용)")  # doctest: +SKIP
    """

    def __init__(self, tokenizer: Any) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise InputError("HFTokenCounter needs a fast tokenizer (offset mapping): load it with use_fast=True")
        self._tokenizer = tokenizer

    def _encode(self, texts: list[str], offsets: bool) -> Any:
        return self._tokenizer(
            texts,
            add_special_tokens=False,
            return_offsets_mapping=offsets,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )

    @property
    def additive(self) -> bool:
        """True when the tokenizer splits words at whitespace first (BERT-style pre-tokenizers).

        Then the tokens of a slice cut at whitespace are exactly the document's tokens inside it.
        """
        return _is_additive(getattr(getattr(self._tokenizer, "backend_tokenizer", None), "pre_tokenizer", None))

    def count(self, text: str) -> int:
        return self.count_batch([text])[0]

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self._encode(list(texts), False)["input_ids"]] if texts else []

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return self.offsets_batch([text])[0]

    def offsets_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        return list(self._encode(list(texts), True)["offset_mapping"])


def _is_additive(pre_tokenizer: Any) -> bool:
    return type(pre_tokenizer).__name__ in ("BertPreTokenizer", "WhitespaceSplit")


class BackendTokenCounter:
    """:class:`HFTokenCounter`'s counts and offsets straight from a ``tokenizers.Tokenizer``.

    A fast tokenizer *is* its ``tokenizers`` backend plus Python around it; this counter needs only the
    backend (``tokenizer.backend_tokenizer``, or ``Tokenizer.from_str`` of its ``to_str()``), so a
    process that only chunks never imports transformers (~1.5 s). Truncation and padding are off.

    Example:
        >>> from tokenizers import Tokenizer  # doctest: +SKIP
        >>> counter = BackendTokenCounter(Tokenizer.from_str(fast.backend_tokenizer.to_str()))  # doctest: +SKIP
    """

    def __init__(self, backend: Any) -> None:
        backend.no_truncation()
        backend.no_padding()
        self._backend = backend

    @property
    def additive(self) -> bool:
        """As :attr:`HFTokenCounter.additive`."""
        return _is_additive(self._backend.pre_tokenizer)

    def count(self, text: str) -> int:
        return self.count_batch([text])[0]

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._backend.encode_batch(list(texts), add_special_tokens=False)] if texts else []

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return self.offsets_batch([text])[0]

    def offsets_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        return [list(e.offsets) for e in self._backend.encode_batch(list(texts), add_special_tokens=False)]


class SimpleTokenCounter:
    """Dependency-free approximation: words, single CJK characters and punctuation are tokens.

    Example:
        >>> SimpleTokenCounter().count("Điều 5. Phạm vi")
        5
    """

    #: tokens never span whitespace, so counts of slices cut at whitespace add up
    additive = True

    def count(self, text: str) -> int:
        return len(_SIMPLE_TOKEN.findall(text))

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _SIMPLE_TOKEN.finditer(text)]


@functools.lru_cache(maxsize=1)
def _cl100k() -> Any | None:
    # tiktoken downloads cl100k_base on first use; only use it when its cache already holds the
    # exact file (a hash mismatch would make tiktoken delete it and download again).
    try:
        if "TIKTOKEN_CACHE_DIR" in os.environ:
            cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
        elif "DATA_GYM_CACHE_DIR" in os.environ:
            cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
        else:
            cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
        if not cache_dir:
            return None
        path = os.path.join(cache_dir, hashlib.sha1(_CL100K_URL.encode()).hexdigest())
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as fh:
            if hashlib.sha256(fh.read()).hexdigest() != _CL100K_SHA256:
                return None
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")
    except Exception:
        return None


def tiktoken_count(text: str) -> int | None:
    """Tokens of ``text`` in tiktoken ``cl100k_base``, or None when that encoding is not cached offline.

    Never downloads and never raises.
    """
    counts = tiktoken_counts([text])
    return counts[0]


def tiktoken_counts(texts: Sequence[str]) -> list[int | None]:
    """:func:`tiktoken_count` of each of ``texts`` in one batch; all None when the encoding is not cached."""
    encoding = _cl100k()
    if encoding is not None:
        try:
            return [len(ids) for ids in encoding.encode_ordinary_batch(list(texts))]
        except Exception:
            pass
    return [None] * len(texts)
