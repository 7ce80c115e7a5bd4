"""Fuzzing the surfaces that take untrusted input: every input gets an answer or a clear refusal.

Options objects, filters, loaders and the JSON writer are driven with generated values; each must
return, or raise the documented error type, never anything else. Cases that once failed are kept as
examples.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from legalrag import EvalOptions, IngestOptions, TrainOptions
from legalrag.ingest.loaders import LoadFailure, iter_documents
from legalrag.output import to_json
from legalrag.plugin.errors import InputError
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.search.filters import to_qdrant_filter

pytestmark = pytest.mark.unit

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=25,
)
operators = st.sampled_from(["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$and", "$or", "$not", "$x"])
filter_dicts = st.recursive(
    st.dictionaries(st.one_of(st.text(max_size=8), operators), json_values, max_size=3),
    lambda inner: st.dictionaries(
        st.one_of(operators, st.text(max_size=6)), st.one_of(inner, st.lists(inner, max_size=3)), max_size=3
    ),
    max_leaves=15,
)


@given(filter_dicts)
@example({"chunk_index": 2**70})
@example({"": 1})
@example({"chunk_index": {"$gt": math.inf}})
@example({"$or": []})
@example({"0": [False]})
@example({"x": ["a", 1]})
@example({"title": "a\udcffb"})
@settings(max_examples=300, deadline=None)
def test_any_filter_translates_or_is_refused_with_the_reason(spec: dict[str, Any]) -> None:
    with contextlib.suppress(InputError):
        to_qdrant_filter(spec)


@given(json_values)
@example({"score": math.nan, "name": "bad\udcff.md"})
@settings(max_examples=300, deadline=None)
def test_the_json_writer_always_writes_valid_utf8_json(value: Any) -> None:
    text = to_json(value)
    json.loads(text)
    text.encode("utf-8")


@pytest.mark.parametrize("options", [IngestOptions, EvalOptions, TrainOptions])
@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_options_accept_or_refuse_with_a_validation_error(options: type, data: st.DataObject) -> None:
    fields = data.draw(st.dictionaries(st.sampled_from([*options.model_fields, "bogus"]), json_values, max_size=4))
    if options is TrainOptions:
        fields = {"model": "m", "output": "o", **fields}
    try:
        built = options(**fields)
    except (ValidationError, InputError):
        return
    assert built == options.model_validate(built.model_dump())


@pytest.mark.parametrize("suffix", [".html", ".json", ".jsonl", ".md", ".txt", ".docx", ".pdf"])
@given(content=st.binary(max_size=2000))
@example(content=b"<div>" * 3000)
@example(content=b'{"text": "\\udcff"}')
@example(content=b"PK\x03\x04")
@example(content=b"[" * 50_000)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_bytes_load_or_fail_as_a_reported_failure(tmp_path: Path, suffix: str, content: bytes) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(content)
    for item in iter_documents([path]):
        assert isinstance(item, (SourceDocument, LoadFailure))
        if isinstance(item, SourceDocument):
            item.text.encode("utf-8", "surrogatepass")
