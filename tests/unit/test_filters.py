from __future__ import annotations

import pytest
from qdrant_client import models

from legalrag.plugin.errors import InputError
from legalrag.plugin.search.filters import and_filters, to_qdrant_filter


def test_equality_and_any_of() -> None:
    f = to_qdrant_filter({"title": "개인정보 보호법", "article": ["제15조", "제17조"]})
    assert f == models.Filter(
        must=[
            models.FieldCondition(key="title", match=models.MatchValue(value="개인정보 보호법")),
            models.FieldCondition(key="article", match=models.MatchAny(any=["제15조", "제17조"])),
        ]
    )


def test_numeric_and_datetime_ranges() -> None:
    f = to_qdrant_filter({"year": {"$gte": 2020, "$lt": 2024}})
    assert f is not None and f.must is not None
    assert f.must[0].range == models.Range(gte=2020, lt=2024)  # type: ignore[union-attr]
    g = to_qdrant_filter({"effective": {"$gte": "2020-01-01"}})
    assert g is not None and g.must is not None
    assert isinstance(g.must[0].range, models.DatetimeRange)  # type: ignore[union-attr]


def test_negations_and_boolean_ops() -> None:
    f = to_qdrant_filter({"language": {"$ne": "en"}, "$or": [{"article": "제1조"}, {"article": "제2조"}]})
    assert f is not None
    assert f.must_not == [models.FieldCondition(key="language", match=models.MatchValue(value="en"))]
    assert f.must is not None and isinstance(f.must[0], models.Filter) and len(f.must[0].should or []) == 2
    h = to_qdrant_filter({"doc_id": {"$nin": ["a", "b"]}})
    assert h is not None and h.must_not == [models.FieldCondition(key="doc_id", match=models.MatchAny(any=["a", "b"]))]


def test_raw_filter_and_none_pass_through() -> None:
    raw = models.Filter(must=[models.FieldCondition(key="x", match=models.MatchValue(value=1))])
    assert to_qdrant_filter(raw) is raw
    assert to_qdrant_filter(None) is None
    assert to_qdrant_filter({}) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"$xor": []},
        {"title": {"$regex": "x"}},
        {"title": {"nested": "dict"}},
        {"title": []},
        {"title": 1.5},
        {"year": {"$gt": "2020", "$lt": 5}},
        {"when": {"$gt": "not a date"}},
        {"$or": "x"},
        "title=1",
    ],
)
def test_malformed_filters_raise_input_error(bad: object) -> None:
    with pytest.raises(InputError):
        to_qdrant_filter(bad)  # type: ignore[arg-type]


def test_and_filters() -> None:
    a = models.Filter(must=[models.FieldCondition(key="tenant", match=models.MatchValue(value="t1"))])
    b = models.Filter(should=[models.FieldCondition(key="tenant", match=models.MatchValue(value="t2"))])
    assert and_filters(None, None) is None
    assert and_filters(a, None) is a
    assert and_filters(a, b) == models.Filter(must=[a, b])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"chunk_index": 2**70}, "64-bit integer range"),
        ({"chunk_index": -(2**70)}, "64-bit integer range"),
        ({"chunk_index": {"$gt": 2**64}}, "64-bit integer range"),
        ({"chunk_index": {"$gt": float("inf")}}, "finite number"),
        ({"chunk_index": {"$lte": float("nan")}}, "finite number"),
        ({"": 1}, "not a payload key"),
        ({"   ": 1}, "not a payload key"),
        ({"x" * 300: 1}, "not a payload key"),
        ({"title": [1, 2**70]}, "64-bit integer range"),
    ],
)
def test_values_qdrant_cannot_hold_are_refused_with_the_reason(spec: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        to_qdrant_filter(spec)


def test_the_edges_of_the_integer_range_still_filter() -> None:
    assert to_qdrant_filter({"chunk_index": {"$gte": -(2**63), "$lte": 2**63 - 1}}) is not None


def test_a_filter_too_large_to_be_written_by_hand_is_refused() -> None:
    assert to_qdrant_filter({"doc_id": [f"d{i}" for i in range(5000)]}) is not None  # a long id list is fine
    with pytest.raises(InputError, match="over 10,000"):
        to_qdrant_filter({"doc_id": [f"d{i}" for i in range(20_000)]})
    with pytest.raises(InputError, match="over 10,000"):
        to_qdrant_filter({"$or": [{"title": f"t{i}"} for i in range(6000)]})
