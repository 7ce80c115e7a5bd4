"""Translate ``qdrant_client.models.Filter`` into qdrant-edge's own filter classes.

Users write filters in the one language they know from Qdrant (``qdrant_client.models``); the edge
adapter runs them through :func:`to_edge_filter`. Every condition qdrant-edge can evaluate is
translated; anything else raises :class:`~legalrag.plugin.errors.InputError` naming the condition,
so a filter never silently matches more than the caller asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import qdrant_edge as qe
from qdrant_client import models

from legalrag.plugin.errors import InputError

__all__ = ["to_edge_filter"]


def to_edge_filter(filter: models.Filter) -> qe.Filter:
    """Return the qdrant-edge equivalent of a qdrant-client filter.

    Args:
        filter: must / should / must_not / min_should over field, id, emptiness, vector and nested
            conditions, nested filters included.

    Returns:
        A ``qdrant_edge.Filter`` that selects the same points.

    Raises:
        InputError: a condition or match kind qdrant-edge cannot evaluate, or a malformed value
            (e.g. an unparsable datetime); the message names it.

    Example:
        >>> f = models.Filter(must=[models.FieldCondition(key="lang", match=models.MatchValue(value="ko"))])
        >>> type(to_edge_filter(f)).__name__
        'Filter'
    """
    if not isinstance(filter, models.Filter):
        raise InputError(
            f"filters must be qdrant_client.models.Filter, not {type(filter).__name__}: "
            "build one with models.Filter(must=[models.FieldCondition(...)])"
        )
    min_should = None
    if filter.min_should is not None:
        min_should = qe.MinShould(_conditions(filter.min_should.conditions), filter.min_should.min_count)
    return qe.Filter(
        must=_optional_conditions(filter.must),
        should=_optional_conditions(filter.should),
        must_not=_optional_conditions(filter.must_not),
        min_should=min_should,
    )


def _optional_conditions(value: Any) -> list[Any] | None:
    if value is None:
        return None
    # qdrant-client accepts a single condition where a list is expected
    return _conditions(value if isinstance(value, list) else [value])


def _conditions(conditions: Sequence[Any]) -> list[Any]:
    return [_condition(condition) for condition in conditions]


def _condition(condition: Any) -> Any:
    converter = _CONDITIONS.get(type(condition))
    if converter is None:
        raise InputError(
            f"unsupported filter condition {type(condition).__name__} for the embedded store "
            "(qdrant-edge): use field, has_id, is_empty, is_null, has_vector, nested or Filter "
            "conditions, or a Qdrant server (LEGALRAG_QDRANT_URL)"
        )
    return converter(condition)


def _field(condition: models.FieldCondition) -> qe.FieldCondition:
    return qe.FieldCondition(
        condition.key,
        match=_match(condition.key, condition.match) if condition.match is not None else None,
        range=_range(condition.range) if condition.range is not None else None,
        geo_bounding_box=_geo_box(condition.geo_bounding_box),
        geo_radius=_geo_radius(condition.geo_radius),
        geo_polygon=_geo_polygon(condition.geo_polygon),
        values_count=_values_count(condition.values_count),
        is_empty=condition.is_empty,
        is_null=condition.is_null,
    )


def _match(key: str, match: Any) -> Any:
    if isinstance(match, models.MatchValue):
        return qe.MatchValue(match.value)
    if isinstance(match, models.MatchAny):
        return qe.MatchAny(match.any)
    if isinstance(match, models.MatchExcept):
        return qe.MatchExcept(match.except_)
    if isinstance(match, models.MatchText):
        return qe.MatchText(match.text)
    if isinstance(match, models.MatchTextAny):
        return qe.MatchTextAny(match.text_any)
    if isinstance(match, models.MatchPhrase):
        return qe.MatchPhrase(match.phrase)
    if isinstance(match, models.MatchPrefix):
        return qe.MatchPrefix(match.prefix)
    if isinstance(match, models.MatchSubstring):
        return qe.MatchSubstring(match.substring)
    raise InputError(f"unsupported match {type(match).__name__} on key {key!r} for the embedded store")


def _range(value: models.Range | models.DatetimeRange) -> Any:
    if isinstance(value, models.Range):
        return qe.RangeFloat(gte=value.gte, gt=value.gt, lte=value.lte, lt=value.lt)
    try:
        return qe.RangeDateTime(gte=_iso(value.gte), gt=_iso(value.gt), lte=_iso(value.lte), lt=_iso(value.lt))
    except ValueError as exc:
        raise InputError(f"invalid datetime range {value!r}: {exc}; use ISO 8601 / RFC 3339") from exc


def _iso(value: dt.datetime | dt.date | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        # Qdrant reads a naive datetime as UTC; say so explicitly so both backends agree
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return aware.isoformat()
    return value.isoformat()


def _values_count(value: models.ValuesCount | None) -> qe.ValuesCount | None:
    if value is None:
        return None
    return qe.ValuesCount(lt=value.lt, gt=value.gt, lte=value.lte, gte=value.gte)


def _geo_point(point: models.GeoPoint) -> qe.GeoPoint:
    return qe.GeoPoint(lon=point.lon, lat=point.lat)


def _geo_box(box: models.GeoBoundingBox | None) -> qe.GeoBoundingBox | None:
    if box is None:
        return None
    return qe.GeoBoundingBox(_geo_point(box.top_left), _geo_point(box.bottom_right))


def _geo_radius(radius: models.GeoRadius | None) -> qe.GeoRadius | None:
    if radius is None:
        return None
    return qe.GeoRadius(_geo_point(radius.center), radius.radius)


def _geo_polygon(polygon: models.GeoPolygon | None) -> qe.GeoPolygon | None:
    if polygon is None:
        return None
    interiors = None
    if polygon.interiors is not None:
        interiors = [[_geo_point(p) for p in ring.points] for ring in polygon.interiors]
    return qe.GeoPolygon([_geo_point(p) for p in polygon.exterior.points], interiors)


def _has_id(condition: models.HasIdCondition) -> qe.HasIdCondition:
    return qe.HasIdCondition({i if isinstance(i, int) else str(i) for i in condition.has_id})


def _nested(condition: models.NestedCondition) -> qe.NestedCondition:
    return qe.NestedCondition(condition.nested.key, to_edge_filter(condition.nested.filter))


_CONDITIONS: dict[type, Callable[[Any], Any]] = {
    models.FieldCondition: _field,
    models.IsEmptyCondition: lambda c: qe.IsEmptyCondition(c.is_empty.key),
    models.IsNullCondition: lambda c: qe.IsNullCondition(c.is_null.key),
    models.HasIdCondition: _has_id,
    models.HasVectorCondition: lambda c: qe.HasVectorCondition(c.has_vector),
    models.NestedCondition: _nested,
    models.Filter: to_edge_filter,
}
