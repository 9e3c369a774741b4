"""validate_batch by example: read_json's coercions, the reasons given, int64 limits, big
and empty batches, which rules are vectorised and which are judged one by one, exact
bounds, and the Arrow schema a contract maps to.

Each case is judged by the same oracle as the properties in test_validate_batch
(tests.unit.contracts.batchkit).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pyarrow as pa
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts import validate_batch as vb
from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError, arrow_schema
from keystone_nexus.contracts.entities import EntitySpec, FieldType
from keystone_nexus.contracts.validate import check
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
