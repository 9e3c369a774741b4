"""validate_batch: the vectorised path agrees with validate.check, record by record, on
batches of generated records under random mutations (hypothesis).

The oracle (orjson.loads + validate.check, integers within int64) is in batchkit;
test_validate_batch_rules checks each rule, coercion and schema shape by example.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystone_nexus.contracts import validate_batch as vb
from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType
from keystone_nexus.contracts.validate_batch import validate_batch
from tests.unit.contracts.batchkit import (
    ENTITIES,
    INT64_MAX,
    Record,
    assert_agrees,
    definition,
    dumps,
    expected_row,
    samples,
    with_raw,
)

Draw = Callable[[st.SearchStrategy[Any]], Any]


# ------------------------------------------------------------------------- mutations

WRONG_TYPES: dict[FieldType, list[Any]] = {
    FieldType.STRING: [5, 1.5, True, False, [], {}, ["a"]],
    FieldType.INTEGER: ["5", True, 1.5, [1], {}, "x"],
    FieldType.NUMBER: ["5", True, [], {}, "1.5"],
}


def out_of_range(draw: Draw, record: Record, field: FieldSpec) -> bytes:
    choices: list[Any] = []
    if field.minimum is not None:
        step = 1 if field.type is FieldType.INTEGER else draw(st.sampled_from([0.01, 1e-9, 1000.0]))
        choices.append(field.minimum - step)
    if field.maximum is not None:
        choices.append(field.maximum + 1)
    if field.enum:
        choices += ["bogus", field.enum[0].upper(), ""]
    if field.format:
        choices += ["x", "2017-10-02 10:56:33\n", " 2017-10-02 10:56:33", "E481F51CBDC54678B7CC49136F2D6AF7"]
    if field.max_length is not None:
        choices.append("a" * (field.max_length + 1))
        choices.append("é" * field.max_length)  # valid: the limit counts characters, not bytes
    if not choices:
        return dumps(record)
    value = draw(st.sampled_from(choices))
    if field.type is FieldType.INTEGER and isinstance(value, float):
        value = int(value)
    return dumps({**record, field.name: value})


def random_value(draw: Draw, record: Record, field: FieldSpec) -> bytes:
    if field.type is FieldType.INTEGER:
        value: Any = draw(st.integers(-(2**63), INT64_MAX))
    elif field.type is FieldType.NUMBER:
        value = draw(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**64 - 1))
    else:
        value = draw(st.text(max_size=90))
    return dumps({**record, field.name: value})


NUMBER_SPELLINGS = (
    *(b"5.0", b"1e0", b"2E0", b"1e2", b"-0", b"-0.0", b"0.5", b"1.5e1", b"1e308", b"1e-400"),
    *(b"123456789012345678901234567890", b"9007199254740993", b"NaN", b"Infinity", b"-Infinity"),
    *(b'"5"', b"true", b"null", b"01", b"+1", b".5", b"1."),
)
STRING_SPELLINGS = (
    *(b'"a\\nb"', b'"a\nb"', b'"a\rb"', b'"a\tb"', b'"a\\u0000b"', b'"S\xc3\xa3o Paulo"', b'"a\xffb"'),
    *(b'"\xed\xa0\x80"', b'"\\ud800"', b'"\\ud83d\\ude00"', b'"a\x7fb"', b'"\\/"', b"'a'"),
)
TOP_LEVEL = (b"null", b"[]", b"5", b'"x"', b"true", b"{}", b"[{}]", b"", b" ", b"\n", b"\r", b"{", b"}")


def number_literal(draw: Draw, record: Record, field: FieldSpec) -> bytes:
    """Number spellings read_json and orjson might disagree on."""
    return with_raw(record, field.name, draw(st.sampled_from(NUMBER_SPELLINGS)))


def string_literal(draw: Draw, record: Record, field: FieldSpec) -> bytes:
    """String spellings: escapes, raw control characters, bad UTF-8."""
    return with_raw(record, field.name, draw(st.sampled_from(STRING_SPELLINGS)))


def layout(draw: Draw, record: Record, field: FieldSpec) -> bytes:
    """Whitespace, several values, BOM, duplicate and escaped keys around a valid record."""
    p = dumps(record)
    name = field.name.encode()
    escaped = b"\\u%04x" % name[0] + name[1:]
    other = dumps(record.get(field.name))
    spellings = (
        *(b" " + p, p + b" ", p + b"\n", b"\n" + p, p + b"\r", b"\r\n" + p, b"\t" + p + b"\t"),
        *(p + b" " + p, p + p, p + b"\n" + p, p + b" null", p + b"\nnull", b"\xef\xbb\xbf" + p),
        *(p[:-1] + b',"' + name + b'":' + other + b"}", p[:-1] + b',"' + name + b'":"dup"}'),
        *(p.replace(b'"' + name + b'"', b'"' + escaped + b'"', 1), p[:-1], p + b"}", p[:-1] + b",}"),
    )
    payload: bytes = draw(st.sampled_from(spellings))
    return payload


def top_level(draw: Draw, record: Record, field: FieldSpec) -> bytes:
    payload: bytes = draw(st.sampled_from(TOP_LEVEL))
    return payload


MUTATIONS: dict[str, Callable[[Draw, Record, FieldSpec], bytes]] = {
    "valid": lambda draw, r, f: dumps(r),
    "wrong_type": lambda draw, r, f: dumps({**r, f.name: draw(st.sampled_from(WRONG_TYPES[f.type]))}),
    "out_of_range": out_of_range,
    "unknown_field": lambda draw, r, f: dumps(
        {**r, draw(st.sampled_from(["x", "zz", "Price", ""])): draw(st.none() | st.integers(-9, 9))}
    ),
    "missing": lambda draw, r, f: dumps({k: v for k, v in r.items() if k != f.name}),
    "null": lambda draw, r, f: dumps({**r, f.name: None}),
    "garbage": lambda draw, r, f: draw(st.binary(max_size=48)),
    "random_value": random_value,
    "number_literal": number_literal,
    "string_literal": string_literal,
    "layout": layout,
    "top_level": top_level,
}
# Mutations whose bad records the vectorised checks find without the fallback.
FAST_PATH_MUTATIONS = ("valid", "out_of_range", "missing", "null")


@st.composite
def payloads(draw: Draw, entity: EntitySpec, mutations: Sequence[str]) -> bytes:
    record = dict(draw(st.sampled_from(samples()[entity.name])))
    field = draw(st.sampled_from(entity.fields))
    mutation = draw(st.sampled_from(mutations))
    return MUTATIONS[mutation](draw, record, field)


@st.composite
def batches(draw: Draw, mutations: Sequence[str], max_size: int = 24) -> tuple[EntitySpec, list[bytes]]:
    entity = draw(st.sampled_from(ENTITIES))
    mix = draw(st.lists(st.sampled_from(mutations), min_size=1, max_size=3, unique=True))
    batch = draw(st.lists(payloads(entity, ["valid", *mix]), min_size=1, max_size=max_size))
    return entity, batch


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_valid_samples_convert_with_types_and_values(entity: EntitySpec) -> None:
    records = samples()[entity.name]
    batch = [dumps(r) for r in records]
    result = validate_batch(definition(entity), batch)
    assert result.invalid == []
    assert result.valid.tolist() == list(range(len(batch)))
    assert result.table.column_names == list(entity.columns)
    kinds = {FieldType.STRING: pa.string(), FieldType.INTEGER: pa.int64(), FieldType.NUMBER: pa.float64()}
    for field in entity.fields:
        arrow_field = result.table.schema.field(field.name)
        assert arrow_field.type == kinds[field.type]
        assert arrow_field.nullable is not field.required
    assert result.table.to_pylist() == [expected_row(definition(entity), p) for p in batch]
    assert result.table.to_pylist() == [
        {
            k: float(v) if isinstance(v, int) and kinds[entity.field(k).type] == pa.float64() else v
            for k, v in r.items()
        }
        for r in records
    ]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(batches(list(MUTATIONS)))
def test_rejects_exactly_what_check_rejects(case: tuple[EntitySpec, list[bytes]]) -> None:
    entity, batch = case
    assert_agrees(definition(entity), batch, validate_batch(definition(entity), batch))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(FAST_PATH_MUTATIONS))
def test_rule_breaches_are_found_without_the_fallback(case: tuple[EntitySpec, list[bytes]]) -> None:
    entity, batch = case
    with mock.patch.object(vb, "_one_by_one", side_effect=AssertionError("fell back")):
        result = validate_batch(definition(entity), batch)
    assert_agrees(definition(entity), batch, result)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ENTITIES), st.lists(st.binary(max_size=64), min_size=1, max_size=20))
def test_garbage_gives_reasons_not_exceptions(entity: EntitySpec, batch: list[bytes]) -> None:
    result = validate_batch(definition(entity), batch)
    assert_agrees(definition(entity), batch, result)
    assert len(result.invalid) == len(batch)
