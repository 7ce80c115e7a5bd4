"""Filters, thresholds and groupings that cannot match say so, instead of returning nothing.

A misspelt field (``titel``), a title without its space (``개인정보보호법``), an ISO date compared with
``20251002``-style strings, a score threshold above anything the mode can score, a ``group_by`` field
no point has: each would silently return nothing or be ignored. :class:`FilterDoctor` knows the
collection's payload fields (from a sample of stored points) and checks a search before and, when it
found nothing, after it ran: a :class:`FilterWarning` names the problem and the likely fix (with
``strict``, an :class:`~legalrag.plugin.errors.InputError` instead).
"""

from __future__ import annotations

import difflib
import math
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from qdrant_client import models

from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import TEXT_KEY

__all__ = ["FilterDoctor", "FilterWarning", "check_threshold", "score_ceiling"]

_SAMPLE = 300
_REFRESH_SECONDS = 60.0
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_COMPACT_DATE = re.compile(r"^\d{8}$")


class FilterWarning(UserWarning):
    """A search argument that cannot match what the collection holds (the message says what to do)."""


def score_ceiling(mode: str, *, distance: str | None, fusion: str, rrf_k: int, weights: Any = None) -> float | None:
    """The highest score ``mode`` can give (``None``: unbounded).

    Dense cosine: 1. Hybrid RRF: every list's first place, ``Σ 1 / (1/w + k - 1)``. Sparse BM25, dot
    products and hybrid DBSF have none: DBSF scales each list by its mean and three standard deviations,
    and a score beyond them goes past 1 (a fused score of 2.3 is possible).

    >>> round(score_ceiling("hybrid", distance="Cosine", fusion="rrf", rrf_k=60), 4)
    0.0333
    """
    if mode == "dense":
        return 1.0 if distance == "Cosine" else None
    if mode == "hybrid":
        if fusion == "dbsf":
            return None
        w = weights or (1.0, 1.0)
        return sum(1.0 / (1.0 / float(x) + rrf_k - 1) for x in w if float(x) > 0)
    return None


def check_threshold(threshold: Any, ceiling: float | None, mode: str) -> float | None:
    """``threshold`` as a float, refused when it is not a number or no score in ``mode`` can reach it."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise InputError(f"score_threshold must be a finite number, got {threshold!r}")
    if ceiling is not None and float(threshold) > ceiling:
        hint = (
            "RRF fusion scores are small: it adds 1/(rank + k) per list"
            if mode == "hybrid"
            else "cosine similarity is at most 1"
        )
        raise InputError(
            f"score_threshold={threshold} can never be reached in mode {mode!r}: its scores are at most "
            f"{ceiling:.4g} ({hint}); lower it, or search another mode"
        )
    return float(threshold)


class FilterDoctor:
    """What a collection's points hold, to check filters and groupings against (one per searcher)."""

    def __init__(self, store: Any, collection: str, *, strict: bool = False) -> None:
        self.store = store
        self.collection = collection
        self.strict = strict
        self._fields: dict[str, list[Any]] | None = None
        self._loaded = 0.0

    def fields(self) -> dict[str, list[Any]]:
        """Payload key → up to a few hundred distinct sample values, from a sample of stored points."""
        if self._stale():
            self._learn(self.store.scroll(self.collection))
        return self._fields or {}

    async def afields(self, astore: Any) -> dict[str, list[Any]]:
        """:meth:`fields` through an async store (one that can scroll; else nothing is checked)."""
        if self._stale() and hasattr(astore, "scroll"):
            sample = []
            async for hit in astore.scroll(self.collection):
                sample.append(hit)
                if len(sample) >= _SAMPLE:
                    break
            self._learn(iter(sample))
        return self._fields or {}

    def _stale(self) -> bool:
        return self._fields is None or time.monotonic() - self._loaded > _REFRESH_SECONDS

    def _learn(self, hits: Iterator[Any]) -> None:
        found: dict[str, dict[str, Any]] = {}
        for count, hit in enumerate(hits):
            if count >= _SAMPLE:
                break
            for key, value in hit.payload.items():
                if key != TEXT_KEY:
                    found.setdefault(key, {}).setdefault(repr(value), value)
        self._fields = {k: list(v.values()) for k, v in found.items()}
        self._loaded = time.monotonic()

    def needed(self, spec: Mapping[str, Any] | models.Filter | None, group_by: str | None) -> bool:
        """Whether :meth:`before` has anything to check (no filter dict and no grouping: nothing)."""
        return group_by is not None or (isinstance(spec, Mapping) and bool(spec))

    def before(
        self,
        spec: Mapping[str, Any] | models.Filter | None,
        group_by: str | None,
        known: dict[str, list[Any]] | None = None,
    ) -> None:
        """Refuse a ``group_by`` field no point has; warn about filter fields and date formats that cannot match."""
        if not self.needed(spec, group_by):
            return
        known = self.fields() if known is None else known
        if not known:
            return  # an empty collection: nothing to compare with
        if group_by is not None and group_by not in known:
            raise InputError(f"group_by={group_by!r} is a field no stored point has{_closest(group_by, known)}")
        if not isinstance(spec, Mapping):
            return
        for key, condition in _conditions(spec):
            if key not in known:
                self._problem(f"filter field {key!r} is in no stored point{_closest(key, known)}")
            elif isinstance(condition, Mapping):
                self._dates(key, condition, known[key])

    def after(
        self, spec: Mapping[str, Any] | models.Filter | None, found: int, known: dict[str, list[Any]] | None = None
    ) -> None:
        """After a search that found nothing: exact-match values no point has, with the close ones that exist."""
        if found or not isinstance(spec, Mapping):
            return
        known = self.fields() if known is None else known
        for key, condition in _conditions(spec):
            if key in known and isinstance(condition, str) and condition not in known[key]:
                values = [str(v) for v in known[key] if isinstance(v, str)]
                close = _close_values(condition, values)
                if close:
                    self._problem(f"no stored point has {key}={condition!r}; did you mean {close}?")

    def _dates(self, key: str, condition: Mapping[str, Any], values: list[Any]) -> None:
        bounds = [v for op, v in condition.items() if op in ("$gt", "$gte", "$lt", "$lte") and isinstance(v, str)]
        if (
            any(_ISO_DATE.match(b) for b in bounds)
            and values
            and all(isinstance(v, str) and _COMPACT_DATE.match(v) for v in values[:20])
        ):
            self._problem(
                f"filter field {key!r} holds values like {values[0]!r}, not ISO dates, so an ISO date range "
                "matches nothing: filter 'effective_date' (an ISO date legalrag stores for statutes) instead"
            )

    def _problem(self, message: str) -> None:
        if self.strict:
            raise InputError(message)
        warnings.warn(message, FilterWarning, stacklevel=4)


def _conditions(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(field, condition)`` for every field a LangChain-style filter mentions, nested operators included."""
    for key, value in spec.items():
        if key in ("$and", "$or") and isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from _conditions(item)
        elif key == "$not" and isinstance(value, Mapping):
            yield from _conditions(value)
        elif not key.startswith("$"):
            yield key, value


def _closest(name: str, known: Mapping[str, Any]) -> str:
    fields = sorted(known)
    match = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
    suggestion = f"; did you mean {match[0]!r}?" if match else ""
    shown = ", ".join(fields[:25]) + (", ..." if len(fields) > 25 else "")
    return f" (fields: {shown}){suggestion}"


def _close_values(value: str, values: list[str]) -> str:
    squeezed = {re.sub(r"\s+", "", v).lower(): v for v in values}
    exact = squeezed.get(re.sub(r"\s+", "", value).lower())
    if exact is not None:
        return repr(exact)
    matches = difflib.get_close_matches(value, values, n=3, cutoff=0.7)
    return " or ".join(repr(m) for m in matches)
