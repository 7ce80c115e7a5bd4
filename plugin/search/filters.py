"""LangChain-style metadata filters → ``qdrant_client.models.Filter``.

Accepted forms (keys are payload keys; several keys are ANDed)::

    {"title": "개인정보 보호법"}                       # equality
    {"article": ["제15조", "제17조"]}                  # any of
    {"year": {"$gte": 2020, "$lt": 2024}}              # range ($gt $gte $lt $lte)
    {"effective": {"$gte": "2020-01-01T00:00:00Z"}}    # datetime range (ISO strings)
    {"language": {"$ne": "en"}}                        # $eq $ne $in $nin
    {"$or": [{...}, {...}]}, {"$and": [...]}, {"$not": {...}}

A raw ``models.Filter`` passes through unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from qdrant_client import models

from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import without_surrogates

__all__ = ["and_filters", "to_qdrant_filter"]

_RANGE_OPS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_Scalar = (str, int, bool)


#: how deep $and / $or / $not may nest (a filter is written by hand; deeper is an attack or a bug)
MAX_DEPTH = 32
#: keys and values one filter may hold in all (a hand-written filter holds a few; a list of ids, thousands)
MAX_FILTER_VALUES = 10_000
#: payload keys are field names; a longer "key" is not one
MAX_KEY_LENGTH = 256
#: Qdrant stores integers as signed 64-bit
_INT64 = (-(2**63), 2**63 - 1)


def to_qdrant_filter(spec: Mapping[str, Any] | models.Filter | None, _depth: int = 0) -> models.Filter | None:
    """Translate a LangChain-style filter dict; raise :class:`InputError` naming what is wrong."""
    if spec is None or isinstance(spec, models.Filter):
        return spec
    if _depth == 0:  # whatever the checks below miss, qdrant-client's own models refuse: as an InputError
        try:
            return _translate(spec, 0)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"filter is not valid: {where}: {first['msg']}") from None
    return _translate(spec, _depth)


def _translate(spec: Mapping[str, Any], _depth: int) -> models.Filter | None:
    if _depth == 0 and (size := _size(spec)) > MAX_FILTER_VALUES:
        raise InputError(f"filter holds {size:,} keys and values, over {MAX_FILTER_VALUES:,}: narrow it")
    if _depth > MAX_DEPTH:
        raise InputError(f"filter is nested more than {MAX_DEPTH} levels deep: flatten it")
    if not isinstance(spec, Mapping):
        raise InputError(f"filter must be a dict or a qdrant_client.models.Filter, not {type(spec).__name__}")
    if not spec:
        return None
    must: list[Any] = []
    should: list[Any] = []
    must_not: list[Any] = []
    for key, value in spec.items():
        if key == "$and":
            must.extend(_sub_filters(key, value, _depth))
        elif key == "$or":
            should.extend(_sub_filters(key, value, _depth))
        elif key == "$not":
            must_not.extend(_sub_filters(key, [value], _depth))
        elif not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise InputError(f"filter key {_short(key)} is not a payload key: use a field name such as 'title'")
        elif key.startswith("$"):
            raise InputError(f"unknown filter operator {key!r}: use $and, $or, $not or a payload key")
        else:
            _field(key, value, must, must_not)
    if should:
        must.append(models.Filter(should=should))
    return models.Filter(must=must or None, must_not=must_not or None)


def _size(value: Any, depth: int = 0) -> int:
    """Keys and values in a filter, counted without recursing past :data:`MAX_DEPTH` (deeper is refused
    anyway) and stopping once over :data:`MAX_FILTER_VALUES`."""
    if depth > MAX_DEPTH + 2:
        return 1
    if isinstance(value, Mapping):
        total = 0
        for item in value.values():
            total += 1 + _size(item, depth + 1)
            if total > MAX_FILTER_VALUES:
                break
        return total
    if isinstance(value, (list, tuple)):
        total = 0
        for item in value:
            total += _size(item, depth + 1)
            if total > MAX_FILTER_VALUES:
                break
        return total
    return 1


def _sub_filters(op: str, value: Any, depth: int) -> list[models.Filter]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{op} takes a non-empty list of filters, got {_short(value)}")
    out = []
    for item in value:
        sub = to_qdrant_filter(item, depth + 1)
        if sub is not None:
            out.append(sub)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_scalar(key: str, value: Any) -> None:
    if isinstance(value, str) and without_surrogates(value) != value:
        raise InputError(f"filter value for {key!r} is not valid text (bytes that are not UTF-8): {_short(value)}")
    if not isinstance(value, _Scalar):
        raise InputError(f"filter value for {key!r} must be a string, integer or bool, got {_short(value)}")
    _check_number(key, value)


def _check_number(key: str, value: Any) -> None:
    """Integers must fit Qdrant's 64 bits and floats be finite: anything else matches nothing, or fails deep
    inside the client."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise InputError(f"filter value for {key!r} is out of the 64-bit integer range: {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"filter value for {key!r} must be a finite number, got {value!r}")


def _field(key: str, value: Any, must: list[Any], must_not: list[Any]) -> None:
    if isinstance(value, list):
        if not value:
            raise InputError(f"filter list for {key!r} is empty")
        for v in value:
            _check_scalar(key, v)
        if not (all(isinstance(v, str) for v in value) or all(type(v) is int for v in value)):
            raise InputError(f"filter list for {key!r} must hold only strings or only integers, got {_short(value)}")
        must.append(models.FieldCondition(key=key, match=models.MatchAny(any=value)))
        return
    if not isinstance(value, Mapping):
        _check_scalar(key, value)
        must.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
        return
    ranges: dict[str, Any] = {}
    for op, operand in value.items():
        if op in _RANGE_OPS:
            ranges[_RANGE_OPS[op]] = operand
        elif op == "$eq":
            _field(key, operand, must, must_not)
        elif op == "$ne":
            _field(key, operand, must_not, must)
        elif op == "$in":
            _field(key, list(operand) if isinstance(operand, (list, tuple)) else operand, must, must_not)
        elif op == "$nin":
            _field(key, list(operand) if isinstance(operand, (list, tuple)) else operand, must_not, must)
        else:
            raise InputError(f"unknown operator {op!r} for {key!r}: use $eq $ne $in $nin $gt $gte $lt $lte")
    if ranges:
        must.append(_range(key, ranges))


def _range(key: str, ranges: dict[str, Any]) -> models.FieldCondition:
    values = list(ranges.values())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        for v in values:
            _check_number(key, v)
        return models.FieldCondition(key=key, range=models.Range(**ranges))
    if all(isinstance(v, str) for v in values):
        try:
            parsed = {k: datetime.fromisoformat(v.replace("Z", "+00:00")) for k, v in ranges.items()}
        except ValueError as exc:
            raise InputError(f"range on {key!r}: {exc}; use numbers or ISO dates like 2020-01-01") from exc
        return models.FieldCondition(key=key, range=models.DatetimeRange(**parsed))
    raise InputError(f"range on {key!r} mixes types {values!r}: use numbers or ISO date strings")


def and_filters(*filters: models.Filter | None) -> models.Filter | None:
    """AND several filters (``None`` ignored) without merging their insides."""
    present = [f for f in filters if f is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return models.Filter(must=list(present))
