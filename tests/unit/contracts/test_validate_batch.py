"""validate_batch: the vectorised path agrees with validate.check, record by record.

The oracle is `orjson.loads` + `validate.check` per payload (plus: integers must fit
int64, the one documented difference); the batch must reject exactly the payloads the
oracle rejects, keep the others in input order, and give them the values orjson reads
(integers as int64, numbers as float64).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts import validate_batch as vb
from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError, arrow_schema
from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType
from keystone_nexus.contracts.validate import RecordInvalid, check
from keystone_nexus.contracts.validate_batch import BatchResult, validate_batch
from keystone_nexus.olist.generate import build_tables

Record = dict[str, Any]
Draw = Callable[[st.SearchStrategy[Any]], Any]
ENTITIES = contracts.entities()
INT64_MAX = 2**63 - 1
RAW = "\x00raw\x00"


@functools.cache
def samples() -> dict[str, list[Record]]:
    tables = build_tables(scale=0.005, seed=3)
    return {name: table.slice(0, 80).to_pylist() for name, table in tables.items()}


@functools.cache
def definition(entity: EntitySpec) -> str:
    return schemas.definition(schemas.entity_schema(entity))


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def accepts(definition: str, payload: bytes) -> bool:
    """The oracle: what validate.check says about orjson.loads(payload) - and, the one
    documented exception, an integer must fit the int64 column."""
    try:
        record = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    try:
        check(definition, record)
    except RecordInvalid:
        return False
    integers = [f.name for f in arrow_schema(definition) if pa.types.is_int64(f.type)]
    return all(record.get(name) is None or -(2**63) <= int(record[name]) <= INT64_MAX for name in integers)


def expected_row(definition: str, payload: bytes) -> Record:
    record = orjson.loads(payload)
    row: Record = {}
    for field in arrow_schema(definition):
        value = record.get(field.name)
        if value is not None and pa.types.is_int64(field.type):
            value = int(value)
        elif value is not None and pa.types.is_float64(field.type):
            value = float(value)
        row[field.name] = value
    return row


def assert_agrees(definition: str, payloads: Sequence[bytes], result: BatchResult) -> None:
    rejected = [i for i, p in enumerate(payloads) if not accepts(definition, p)]
    assert [i for i, _ in result.invalid] == rejected
    assert all(isinstance(reason, str) and reason for _, reason in result.invalid)
    kept = sorted(set(range(len(payloads))) - set(rejected))
    assert result.valid.dtype == np.int64
    assert result.valid.tolist() == kept
    assert result.table.schema == arrow_schema(definition)
    assert result.table.num_rows == len(kept)
    assert result.table.to_pylist() == [expected_row(definition, payloads[i]) for i in kept]


def with_raw(record: Record, name: str, raw: bytes) -> bytes:
    """`record` as JSON with the value of `name` written as the raw bytes `raw`."""
    return dumps({**record, name: RAW}).replace(dumps(RAW), raw)


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


ORDER_ITEMS = contracts.entity("order_items")


def order_item(**changes: Any) -> Record:
    return {**samples()["order_items"][0], **changes}


@pytest.mark.parametrize(
    ("payload", "kept", "reason"),
    [
        # read_json refuses these, JSON Schema accepts them: the fallback keeps them.
        (with_raw(order_item(), "order_item_id", b"5.0"), 5, None),
        (with_raw(order_item(), "order_item_id", b"1e2"), 100, None),
        # A duplicate key: the last wins, as in orjson.
        (dumps(order_item())[:-1] + b',"price":12.5}', 12.5, None),
        (dumps(order_item())[:-1] + b',"price":-1}', None, "price: must be bigger than or equal to 0"),
        (b" " + dumps(order_item()) + b"\r\n", 1, None),
        # read_json accepts these, JSON does not.
        (with_raw(order_item(), "price", b"NaN"), None, "not JSON: "),
        (with_raw(order_item(), "price", b"-Infinity"), None, "not JSON: "),
        (b"\xef\xbb\xbf" + dumps(order_item()), None, "not JSON: "),
        (with_raw(order_item(), "seller_id", b'"a\xffb"'), None, "not JSON: "),
        (b"null", None, "not a JSON object: null"),
        (dumps(order_item()) + b" null", None, "not JSON: "),
        (b"", None, "not JSON: "),
        # Both refuse; the reasons name the field and the rule.
        (with_raw(order_item(), "order_item_id", b'"5"'), None, "order_item_id: must be integer"),
        (with_raw(order_item(), "order_item_id", b"true"), None, "order_item_id: must be integer"),
        (with_raw(order_item(), "price", b"true"), None, "price: must be number"),
        (with_raw(order_item(), "seller_id", b"5"), None, "seller_id: must be string"),
        (dumps({**order_item(), "x": None}), None, "unexpected field 'x'"),
        (
            dumps({k: v for k, v in order_item().items() if k != "price"}),
            None,
            "missing required field 'price'",
        ),
        (dumps(order_item(price=None)), None, "price: must be number"),
        (dumps(order_item(order_item_id=0)), None, "order_item_id: must be bigger than or equal to 1"),
        (dumps(order_item(order_id="ABC")), None, "order_id: must match pattern ^[0-9a-f]{32}$"),
    ],
)
def test_read_json_coercions(payload: bytes, kept: Any, reason: str | None) -> None:
    good = dumps(order_item())
    for batch in ([payload, good], [good, payload], [payload]):
        result = validate_batch(definition(ORDER_ITEMS), batch)
        assert_agrees(definition(ORDER_ITEMS), batch, result)
        index = batch.index(payload)
        if reason is None:
            row = result.table.to_pylist()[result.valid.tolist().index(index)]
            assert kept in row.values()
        else:
            assert dict(result.invalid)[index].startswith(reason)


@pytest.mark.parametrize(
    ("entity", "record", "reason"),
    [
        ("reviews", {"review_score": 7}, "review_score: must be smaller than or equal to 5"),
        ("orders", {"order_status": "lost"}, "order_status: must be one of ['created', 'approved', "),
        ("payments", {"payment_value": "12"}, "payment_value: must be number"),
        (
            "payments",
            {"payment_installments": 25},
            "payment_installments: must be smaller than or equal to 24",
        ),
        (
            "reviews",
            {"review_comment_title": "t" * 201},
            "review_comment_title: must be shorter than or equal to 200",
        ),
    ],
)
def test_reasons_name_the_field_and_the_rule(entity: str, record: Record, reason: str) -> None:
    spec = contracts.entity(entity)
    batch = [dumps({**samples()[entity][0], **record})]
    result = validate_batch(definition(spec), batch)
    assert [i for i, _ in result.invalid] == [0]
    assert result.invalid[0][1].startswith(reason)


def _unbounded_order_items() -> str:
    schema = schemas.entity_schema(ORDER_ITEMS)
    del schema["properties"]["order_item_id"]["minimum"]
    return schemas.definition(schema)


@pytest.mark.parametrize("raw", [b"9223372036854775808", b"18446744073709551615", b"1e20", b"-1e19"])
def test_integers_beyond_int64_are_rejected_not_lost(raw: bytes) -> None:
    """JSON Schema accepts them; no int64 column can hold them, so they are invalid here."""
    text = _unbounded_order_items()
    payload = with_raw(order_item(), "order_item_id", raw)
    check(text, orjson.loads(payload))
    result = validate_batch(text, [dumps(order_item()), payload])
    assert result.valid.tolist() == [0]
    assert result.invalid == [
        (1, f"order_item_id: {orjson.loads(raw)!r} does not fit in a 64-bit integer column")
    ]


def test_orjson_reads_a_too_small_integer_as_a_float_that_fits() -> None:
    # -2**63 - 1 becomes the float -2**63: an integral number, so a valid int64.
    text = _unbounded_order_items()
    batch = [with_raw(order_item(), "order_item_id", b"-9223372036854775809")]
    result = validate_batch(text, batch)
    assert_agrees(text, batch, result)
    assert result.table.column("order_item_id").to_pylist() == [-(2**63)]


def test_int64_limits_are_kept() -> None:
    spec = contracts.entity("products")
    batch = [dumps({**samples()["products"][0], "product_weight_g": INT64_MAX})]
    result = validate_batch(definition(spec), batch)
    assert result.table.column("product_weight_g").to_pylist() == [INT64_MAX]


def test_big_batch_with_a_few_bad_records() -> None:
    good = [dumps(r) for r in samples()["order_items"]]
    batch = list(itertools.islice(itertools.cycle(good), 50_000))
    result = validate_batch(definition(ORDER_ITEMS), batch)
    assert result.invalid == [] and result.table.num_rows == 50_000
    bad = {
        17: dumps({**order_item(), "extra": 1}),
        4_999: with_raw(order_item(), "price", b'"9.90"'),
        25_000: b"\x00garbage",
        25_001: with_raw(order_item(), "order_item_id", b"3.0"),  # valid: kept as 3
        31_337: dumps(order_item(order_item_id=-1)),
        49_999: dumps(order_item())[:-1],
    }
    for index, payload in bad.items():
        batch[index] = payload
    result = validate_batch(definition(ORDER_ITEMS), batch)
    assert [i for i, _ in result.invalid] == sorted(set(bad) - {25_001})
    assert result.table.num_rows == 50_000 - 5
    assert result.valid.tolist() == sorted(set(range(50_000)) - set(bad) | {25_001})
    at = result.valid.tolist().index(24_999)
    rows = result.table.slice(at, 3).to_pylist()
    assert rows[1]["order_item_id"] == 3
    assert rows == [expected_row(definition(ORDER_ITEMS), batch[i]) for i in (24_999, 25_001, 25_002)]


def test_empty_batch() -> None:
    result = validate_batch(definition(ORDER_ITEMS), [])
    assert result.table.num_rows == 0 and result.table.schema == arrow_schema(definition(ORDER_ITEMS))
    assert result.valid.tolist() == [] and result.invalid == []


def test_a_batch_that_starts_with_a_top_level_null_does_not_reach_read_json() -> None:
    # read_json (pyarrow 26) crashes the process on a block that starts with null.
    batch = [b"null", dumps(order_item()), b"  null", b"\r" + dumps(order_item())]
    result = validate_batch(definition(ORDER_ITEMS), batch)
    assert [i for i, _ in result.invalid] == [0, 2]


def _schema_with(entity: EntitySpec, field: str, **rules: Any) -> str:
    schema = schemas.entity_schema(entity)
    schema["properties"][field].update(rules)
    return schemas.definition(schema)


@pytest.mark.parametrize(
    ("field", "rules"),
    [
        ("price", {"multipleOf": 0.01}),
        ("shipping_limit_date", {"format": "date-time"}),
        ("order_id", {"pattern": r"^\d{3}"}),
        ("order_id", {"pattern": "^[0-9a-f]{,32}$"}),
        ("order_id", {"pattern": "(?i)^[0-9a-f]{32}$"}),
    ],
)
def test_rules_without_an_exact_vectorised_check_are_judged_one_by_one(field: str, rules: Record) -> None:
    text = _schema_with(ORDER_ITEMS, field, **rules)
    assert not vb._plan(text).vectorised
    batch = [dumps(r) for r in samples()["order_items"][:20]]
    batch += [dumps(order_item(price=1.234)), dumps(order_item(order_id="123" + "a" * 29))]
    batch += [dumps(order_item(shipping_limit_date="2018-01-01T00:00:00Z"))]
    assert_agrees(text, batch, validate_batch(text, batch))
    batch += [b"garbage", dumps({**order_item(), "x": 1}), with_raw(order_item(), "order_item_id", b"2.0")]
    assert_agrees(text, batch, validate_batch(text, batch))


@pytest.mark.parametrize(
    ("pattern", "agrees"),
    [
        ("^[0-9a-f]{32}$", True),
        (r"^[A-Z]{2}\.[a-z]+\-x$|^$", True),
        (r"^a\\$", True),  # an escaped backslash, then the end
        ("^ã$", False),  # non-ASCII
        (r"^\d+$", False),  # Unicode digits in Python, ASCII in RE2
        (r"^\w+\b", False),
        ("^[$]$", False),
        ("^a{,3}$", False),  # {0,3} in Python, a literal in RE2
        ("^[[:alpha:]]$", False),
        ("(?i)^a$", False),
        ("^a{2000}$", False),  # beyond RE2's repeat limit
        (5, False),
    ],
)
def test_only_patterns_re2_reads_like_python_are_vectorised(pattern: Any, agrees: bool) -> None:
    assert vb._re2_agrees(pattern) is agrees


@pytest.mark.parametrize(
    ("change", "vectorised"),
    [
        ({"minProperties": 1}, False),
        (
            {
                "properties": {
                    **schemas.entity_schema(ORDER_ITEMS)["properties"],
                    "order_item_id": {"type": "integer", "enum": [1, 2]},
                }
            },
            False,
        ),
        (
            {
                "properties": {
                    **schemas.entity_schema(ORDER_ITEMS)["properties"],
                    "seller_id": {"type": "string", "minLength": 33},
                }
            },
            True,
        ),
        (
            {
                "properties": {
                    **schemas.entity_schema(ORDER_ITEMS)["properties"],
                    "seller_id": {"type": "string", "maxLength": -1},
                }
            },
            False,
        ),
        (
            {
                "properties": {
                    **schemas.entity_schema(ORDER_ITEMS)["properties"],
                    "price": {"type": "number", "minimum": True},
                }
            },
            False,
        ),
        (
            {
                "properties": {
                    **schemas.entity_schema(ORDER_ITEMS)["properties"],
                    "price": {"type": "number", "maximum": 2**60 + 1},
                }
            },
            False,
        ),
        ({"title": "annotations do not matter", "$comment": "x"}, True),
    ],
)
def test_schema_variants_agree_with_check(change: Record, vectorised: bool) -> None:
    text = schemas.definition({**schemas.entity_schema(ORDER_ITEMS), **change})
    assert vb._plan(text).vectorised is vectorised
    batch = [dumps(r) for r in samples()["order_items"][:10]]
    batch += [dumps(order_item(order_item_id=3)), dumps(order_item(seller_id="a" * 34)), b"[]"]
    assert_agrees(text, batch, validate_batch(text, batch))
    batch.append(dumps(order_item(price=float(2**60) * 4)))
    assert_agrees(text, batch, validate_batch(text, batch))


@pytest.mark.parametrize(
    "rules",
    [
        {"minimum": 0.5, "maximum": 4.5},
        {"exclusiveMinimum": 1, "exclusiveMaximum": 3},
        {"minimum": 2, "exclusiveMinimum": 2},
        {"maximum": -1e30},
        {"minimum": 1e30},
    ],
)
def test_integer_bounds_are_exact(rules: Record) -> None:
    text = _schema_with(ORDER_ITEMS, "order_item_id", **rules)
    assert vb._plan(text).vectorised
    batch = [dumps(order_item(order_item_id=v)) for v in (-(2**63), -1, 0, 1, 2, 3, 4, 5, INT64_MAX)]
    assert_agrees(text, batch, validate_batch(text, batch))


@pytest.mark.parametrize(
    "rules", [{"exclusiveMinimum": 0, "maximum": 10.5}, {"minimum": -0.5, "exclusiveMaximum": 10}]
)
def test_number_bounds_are_exact(rules: Record) -> None:
    text = _schema_with(ORDER_ITEMS, "price", **rules)
    batch = [dumps(order_item(price=v)) for v in (-0.5, -0.0, 0, 5e-324, 10, 10.5, 10.500000000000002, 1e308)]
    assert_agrees(text, batch, validate_batch(text, batch))


# ---------------------------------------------------------------------- arrow_schema


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_arrow_schema_follows_the_json_schema(entity: EntitySpec) -> None:
    schema = arrow_schema(definition(entity))
    assert schema.names == list(entity.columns)
    kinds = {FieldType.STRING: pa.string(), FieldType.INTEGER: pa.int64(), FieldType.NUMBER: pa.float64()}
    assert [(f.type, f.nullable) for f in schema] == [(kinds[f.type], not f.required) for f in entity.fields]
    assert arrow_schema(definition(entity)) is schema


@pytest.mark.parametrize(
    "change",
    [
        {"type": "array"},
        {"additionalProperties": True},
        {"properties": {}},
        {"required": ["nope"]},
        {"properties": {"a": {"type": "boolean"}}, "required": []},
        {"properties": {"a": {"type": ["string", "integer"]}}, "required": []},
        {"properties": {"a": {"type": "object"}}, "required": []},
        {"properties": {"a": {}}, "required": []},
    ],
)
def test_arrow_schema_refuses_other_shapes(change: Record) -> None:
    text = schemas.definition({**schemas.entity_schema(ORDER_ITEMS), **change})
    with pytest.raises(UnsupportedSchemaError):
        arrow_schema(text)
    with pytest.raises(UnsupportedSchemaError):
        validate_batch(text, [b"{}"])


def test_required_but_nullable_and_optional_but_not_null_need_the_record() -> None:
    """Arrow cannot tell a missing key from a null; such rows are judged one by one."""
    schema = schemas.entity_schema(ORDER_ITEMS)
    schema["properties"]["price"]["type"] = ["number", "null"]  # required, may be null
    schema["required"].remove("freight_value")  # optional, may not be null
    text = schemas.definition(schema)
    assert arrow_schema(text).field("price").nullable and arrow_schema(text).field("freight_value").nullable
    record = order_item()
    batch = [
        dumps({**record, "price": None}),
        dumps({k: v for k, v in record.items() if k != "price"}),
        dumps({k: v for k, v in record.items() if k != "freight_value"}),
        dumps({**record, "freight_value": None}),
        dumps(record),
    ]
    result = validate_batch(text, batch)
    assert_agrees(text, batch, result)
    assert [i for i, _ in result.invalid] == [1, 3]
