"""avro_batch: AVRO payloads decode, are checked against the JSON Schema rules, and keep order.

The oracle, record by record: fastavro's `schemaless_reader` must read the whole payload
(no error, no byte left over), every number must be finite, and `validate.check(rules)`
must accept the record; a valid record's row holds the values fastavro decoded, in the
columns of the rules.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from typing import Any

import fastavro
import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystone_nexus.contracts import avro_batch as ab
from keystone_nexus.contracts import avro_schema as schemas_avro
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.arrow_schema import UnsupportedSchemaError, arrow_schema
from keystone_nexus.contracts.avro_batch import AvroSchemaError, avro_batch
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.validate import RecordInvalid, check
from keystone_nexus.contracts.validate_batch import BatchResult
from keystone_nexus.olist.generate import build_tables

Record = dict[str, Any]
ENTITIES = contracts.entities()
ITEMS = contracts.entity("order_items")
REVIEWS = contracts.entity("reviews")
PAYMENTS = contracts.entity("payments")


@functools.cache
def tables() -> dict[str, pa.Table]:
    return build_tables(scale=0.002, seed=1)


def rows(entity: EntitySpec, n: int | None = None) -> list[Record]:
    table = tables()[entity.name]
    records: list[Record] = (table if n is None else table.slice(0, n)).to_pylist()
    return records


def definition(entity: EntitySpec) -> str:
    return schemas_avro.avro_definition(entity)


def rules(entity: EntitySpec) -> str:
    return schemas_avro.rules_schema(entity)


def encode(writer: str | dict[str, Any], record: Record) -> bytes:
    schema = orjson.loads(writer) if isinstance(writer, str) else writer
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def oracle(writer: str, rules_text: str, payload: bytes) -> Record | None:
    """The decoded record when the payload is valid, else None."""
    stream = io.BytesIO(payload)
    try:
        record = fastavro.schemaless_reader(stream, fastavro.parse_schema(orjson.loads(writer)))
    except Exception:
        return None
    if stream.tell() != len(payload) or not isinstance(record, dict):
        return None
    if any(isinstance(v, float) and not math.isfinite(v) for v in record.values()):
        return None
    try:
        check(rules_text, record)
    except RecordInvalid:
        return None
    return record


def assert_agrees(writer: str, rules_text: str, payloads: Sequence[bytes], result: BatchResult) -> None:
    expected = [oracle(writer, rules_text, p) for p in payloads]
    kept = [i for i, record in enumerate(expected) if record is not None]
    assert [i for i, _ in result.invalid] == [i for i, record in enumerate(expected) if record is None]
    assert all(isinstance(reason, str) and reason for _, reason in result.invalid)
    assert result.valid.dtype == np.int64
    assert result.valid.tolist() == kept
    schema = arrow_schema(rules_text)
    assert result.table.schema == schema
    assert result.table.to_pylist() == [
        {name: _typed(expected[i], field) for name, field in zip(schema.names, schema, strict=True)}  # type: ignore[arg-type]
        for i in kept
    ]


def _typed(record: Record, field: pa.Field) -> Any:
    value = record.get(field.name)
    if value is not None and pa.types.is_float64(field.type):
        return float(value)
    return value


def reasons(result: BatchResult) -> dict[int, str]:
    return dict(result.invalid)


# ------------------------------------------------------------------------ round trip


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_round_trip_gives_the_source_rows(entity: EntitySpec) -> None:
    source = tables()[entity.name]
    payloads = [encode(definition(entity), row) for row in source.to_pylist()]
    result = avro_batch(definition(entity), payloads, rules=rules(entity))
    assert result.invalid == []
    assert result.valid.tolist() == list(range(source.num_rows))
    assert result.table.schema == arrow_schema(rules(entity))
    assert result.table.equals(source.cast(result.table.schema))


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_without_rules_the_writer_schema_gives_the_columns(entity: EntitySpec) -> None:
    source = tables()[entity.name]
    payloads = [encode(definition(entity), row) for row in source.to_pylist()]
    result = avro_batch(definition(entity), payloads)
    assert result.invalid == []
    assert result.table.schema.names == list(entity.columns)
    for spec, field in zip(entity.fields, result.table.schema, strict=True):
        assert field.nullable is not spec.required
    assert result.table.equals(source.cast(result.table.schema))


def test_empty_batch() -> None:
    result = avro_batch(definition(ITEMS), [], rules=rules(ITEMS))
    assert result.table.schema == arrow_schema(rules(ITEMS))
    assert result.table.num_rows == 0
    assert result.valid.dtype == np.int64 and result.valid.size == 0
    assert result.invalid == []


def test_parsed_writer_schema_is_cached_per_definition() -> None:
    assert ab._writer(definition(ITEMS)) is ab._writer(definition(ITEMS))


# --------------------------------------------------------------------------- invalid


def test_bytes_that_are_not_the_schemas_avro() -> None:
    good = encode(definition(ITEMS), rows(ITEMS, 1)[0])
    payloads = [good, good[:-1], good[:5], b"", b"\xff" * 20, good + b"\x00", good + b"xyz", good]
    result = avro_batch(definition(ITEMS), payloads, rules=rules(ITEMS))
    assert result.valid.tolist() == [0, 7]
    found = reasons(result)
    assert sorted(found) == [1, 2, 3, 4, 5, 6]
    assert all(reason.startswith("not Avro: ") for reason in found.values())
    assert found[5] == "not Avro: 1 trailing byte after the record"
    assert found[6] == "not Avro: 3 trailing bytes after the record"
    assert "EOFError" in found[1]
    assert_agrees(definition(ITEMS), rules(ITEMS), payloads, result)


def test_invalid_utf8_in_a_string_is_not_avro() -> None:
    good = encode(definition(ITEMS), {**rows(ITEMS, 1)[0], "order_id": "é" * 16})
    bad = good.replace("é".encode(), b"\xff\xfe", 1)
    result = avro_batch(definition(ITEMS), [bad], rules=rules(ITEMS))
    assert result.invalid[0][1].startswith("not Avro: UnicodeDecodeError")


@pytest.mark.parametrize(
    ("entity", "field", "value"),
    [
        (REVIEWS, "review_score", 9),
        (REVIEWS, "review_score", 0),
        (REVIEWS, "review_creation_date", "yesterday"),
        (PAYMENTS, "payment_type", "bitcoin"),
        (PAYMENTS, "payment_installments", 25),
        (ITEMS, "price", -0.01),
        (ITEMS, "freight_value", -5.0),
        (ITEMS, "order_id", "E481F51CBDC54678B7CC49136F2D6AF7"),
        (ITEMS, "order_item_id", 0),
        (ITEMS, "price", math.nan),
        (ITEMS, "freight_value", math.inf),
    ],
)
def test_a_record_that_breaks_a_rule_is_invalid_and_the_reason_names_the_field(
    entity: EntitySpec, field: str, value: Any
) -> None:
    good = rows(entity, 3)
    payloads = [encode(definition(entity), r) for r in [good[0], {**good[1], field: value}, good[2]]]
    result = avro_batch(definition(entity), payloads, rules=rules(entity))
    assert result.valid.tolist() == [0, 2]
    assert [i for i, _ in result.invalid] == [1]
    assert result.invalid[0][1].startswith(f"{field}: ")
    assert result.table.to_pylist() == [good[0], good[2]]


def test_mixed_batch_keeps_input_order() -> None:
    good = rows(REVIEWS)
    writer = definition(REVIEWS)
    payloads: list[bytes] = []
    expected: list[Record] = []
    bad: list[int] = []
    for i, row in enumerate(good):
        kind = i % 5
        if kind == 1:
            payloads.append(encode(writer, {**row, "review_score": 9}))
        elif kind == 3:
            payloads.append(encode(writer, row)[:-2])
        else:
            payloads.append(encode(writer, row))
            expected.append(row)
            continue
        bad.append(i)
    result = avro_batch(writer, payloads, rules=rules(REVIEWS))
    assert [i for i, _ in result.invalid] == bad
    assert result.valid.tolist() == [i for i in range(len(good)) if i not in set(bad)]
    assert result.table.to_pylist() == expected
    assert_agrees(writer, rules(REVIEWS), payloads, result)


# ----------------------------------------------------------------- other writer schemas


def writer_with(entity: EntitySpec, change: Any) -> str:
    schema = schemas_avro.avro_schema(entity)
    schema["fields"] = change(schema["fields"])
    return orjson.dumps(schema).decode()


def test_fields_in_another_order_fill_the_rules_columns() -> None:
    writer = writer_with(ITEMS, lambda fields: fields[::-1])
    payloads = [encode(writer, r) for r in rows(ITEMS, 20)]
    result = avro_batch(writer, payloads, rules=rules(ITEMS))
    assert result.table.schema.names == list(ITEMS.columns)
    assert result.table.to_pylist() == rows(ITEMS, 20)


def test_a_writer_without_an_optional_column_leaves_it_null() -> None:
    writer = writer_with(REVIEWS, lambda fields: [f for f in fields if f["name"] != "review_comment_title"])
    payloads = [encode(writer, r) for r in rows(REVIEWS, 20)]
    result = avro_batch(writer, payloads, rules=rules(REVIEWS))
    assert result.invalid == []
    assert result.table.column("review_comment_title").null_count == 20
    assert_agrees(writer, rules(REVIEWS), payloads, result)


def test_a_writer_without_a_required_column_is_invalid() -> None:
    writer = writer_with(REVIEWS, lambda fields: [f for f in fields if f["name"] != "review_score"])
    payloads = [encode(writer, r) for r in rows(REVIEWS, 5)]
    result = avro_batch(writer, payloads, rules=rules(REVIEWS))
    assert result.table.num_rows == 0
    assert [reason for _, reason in result.invalid] == ["missing required field 'review_score'"] * 5


def test_a_writer_with_an_extra_field_is_invalid() -> None:
    writer = writer_with(ITEMS, lambda fields: [*fields, {"name": "coupon", "type": "string"}])
    payloads = [encode(writer, {**r, "coupon": "X"}) for r in rows(ITEMS, 5)]
    result = avro_batch(writer, payloads, rules=rules(ITEMS))
    assert [reason for _, reason in result.invalid] == ["unexpected field 'coupon'"] * 5
    assert_agrees(writer, rules(ITEMS), payloads, result)


def test_narrower_avro_types_are_taken_as_they_are() -> None:
    def narrow(fields: list[Record]) -> list[Record]:
        types = {"order_item_id": "int", "price": "float", "freight_value": "long"}
        return [{**f, "type": types.get(f["name"], f["type"])} for f in fields]

    writer = writer_with(ITEMS, narrow)
    source = [{**r, "price": 0.5, "freight_value": 12} for r in rows(ITEMS, 10)]
    payloads = [encode(writer, r) for r in source]
    result = avro_batch(writer, payloads, rules=rules(ITEMS))
    assert result.invalid == []
    assert result.table.column("freight_value").to_pylist() == [12.0] * 10
    assert_agrees(writer, rules(ITEMS), payloads, result)
    # a long that no double holds exactly: pyarrow refuses it, the value-by-value path takes it
    payloads.append(encode(writer, {**source[0], "freight_value": 2**62 + 1}))
    result = avro_batch(writer, payloads, rules=rules(ITEMS))
    assert result.table.column("freight_value").to_pylist()[-1] == float(2**62 + 1)
    assert_agrees(writer, rules(ITEMS), payloads, result)


def test_values_of_another_type_are_judged_by_the_rules() -> None:
    writer = writer_with(
        ITEMS,
        lambda fields: (
            [
                {**f, "type": "boolean"} if f["name"] == "price" else f
                for f in fields
                if f["name"] != "order_id"
            ]
            + [{"name": "order_id", "type": "long"}]
        ),
    )
    payloads = [encode(writer, {**r, "price": True, "order_id": 7}) for r in rows(ITEMS, 3)]
    result = avro_batch(writer, payloads, rules=rules(ITEMS))
    assert result.table.num_rows == 0
    assert all(reason.startswith(("price: ", "order_id: ")) for _, reason in result.invalid)
    assert_agrees(writer, rules(ITEMS), payloads, result)


def test_a_writer_that_is_not_a_record() -> None:
    result = avro_batch('"string"', [encode('"string"', "x")], rules=rules(ITEMS))  # type: ignore[arg-type]
    assert result.invalid == [(0, "not a record: the writer schema decodes to str")]


def test_schemas_the_sink_cannot_read() -> None:
    with pytest.raises(AvroSchemaError, match="not an Avro schema"):
        avro_batch("{not json", [b""], rules=rules(ITEMS))
    with pytest.raises(AvroSchemaError, match="not an Avro schema"):
        avro_batch('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}', [b""])
    boolean = '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "boolean"}]}'
    with pytest.raises(AvroSchemaError, match="field 'a' has type 'boolean'"):
        avro_batch(boolean, [b"\x01"])
    nulls = '{"type": "record", "name": "X", "fields": [{"name": "a", "type": {"type": "array", "items": "null"}}]}'
    with pytest.raises(AvroSchemaError, match="array or a map"):
        avro_batch(nulls, [b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"], rules=rules(ITEMS))
    with pytest.raises(AvroSchemaError, match="must be an Avro record"):
        avro_batch('"long"', [b"\x02"])
    with pytest.raises(UnsupportedSchemaError):
        avro_batch(definition(ITEMS), [b""], rules='{"type": "object"}')


# ----------------------------------------------------------------------- against the oracle


@st.composite
def mutated_batches(draw: st.DrawFn) -> tuple[EntitySpec, list[bytes]]:
    entity = draw(st.sampled_from([ITEMS, REVIEWS, PAYMENTS, contracts.entity("products")]))
    source = rows(entity)
    writer = definition(entity)
    payloads = []
    for _ in range(draw(st.integers(1, 12))):
        record = draw(st.sampled_from(source))
        payload = encode(writer, record)
        how = draw(st.sampled_from(["keep", "keep", "cut", "append", "flip", "value"]))
        if how == "cut":
            payload = payload[: draw(st.integers(0, len(payload) - 1))]
        elif how == "append":
            payload += draw(st.binary(min_size=1, max_size=4))
        elif how == "flip":
            at = draw(st.integers(0, len(payload) - 1))
            payload = payload[:at] + bytes([payload[at] ^ draw(st.integers(1, 255))]) + payload[at + 1 :]
        elif how == "value":
            field = draw(st.sampled_from(entity.fields))
            if field.type.value == "string":
                value: Any = draw(st.text(max_size=40))
            elif field.type.value == "integer":
                value = draw(st.integers(-(2**63), 2**63 - 1))
            else:
                value = draw(st.floats())
            payload = encode(writer, {**record, field.name: value})
        payloads.append(payload)
    return entity, payloads


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_batches())
def test_agrees_with_the_record_by_record_oracle(batch: tuple[EntitySpec, list[bytes]]) -> None:
    entity, payloads = batch
    result = avro_batch(definition(entity), payloads, rules=rules(entity))
    assert_agrees(definition(entity), rules(entity), payloads, result)
