"""The twin's event checks: the C++ server's reasons, and agreement with the registry's
JSON Schemas (both are derived from the proto options, so they must not drift)."""

from __future__ import annotations

import math
from typing import Any, cast
from uuid import UUID

import orjson
import pytest

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.events import to_event
from keystone_nexus.contracts.json_schema import entity_definition
from keystone_nexus.contracts.validate import RecordInvalid, check
from keystone_nexus.ingest.client import record_event
from keystone_nexus.ingest.record_builder import RecordBuilder
from keystone_nexus.ingest.validation import Checked, check_event, number_text, quote
from keystone_nexus.olist.generate import build_tables

MD5 = "0123456789abcdef0123456789abcdef"
ITEM: dict[str, Any] = {
    "order_id": MD5,
    "order_item_id": 1,
    "product_id": MD5,
    "seller_id": MD5,
    "shipping_limit_date": "2017-09-19 09:45:35",
    "price": 58.9,
    "freight_value": 13.0,
}


def item_event(**overrides: Any) -> Any:
    return record_event(contracts.entity("order_items"), {**ITEM, **overrides}, event_id="e-1", source="t")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-1.0, "-1"),
        (-0.5, "-0.5"),
        (58.9, "58.9"),
        (100.0, "100"),
        (1e5, "1e+05"),
        (1e20, "1e+20"),
        (0.001, "0.001"),
        (1e-7, "1e-07"),
        (123456.5, "123456.5"),
        (-90.25, "-90.25"),
    ],
)
def test_number_text_is_what_cpp_to_chars_writes(value: float, text: str) -> None:
    assert number_text(value) == text


def test_quote_cuts_at_40_bytes_on_a_character_boundary() -> None:
    assert quote("abc") == '"abc"'
    assert quote("x" * 40) == '"' + "x" * 40 + '"'
    assert quote("x" * 41) == '"' + "x" * 40 + '..."'
    # 39 ASCII bytes then a 2-byte character: the character does not fit.
    assert quote("x" * 39 + "ção") == '"' + "x" * 39 + '..."'


def test_a_valid_event_gives_its_record_in_field_order() -> None:
    checked = check_event(item_event())
    assert isinstance(checked, Checked)
    assert checked.rules.spec.name == "order_items"
    assert list(checked.record) == list(contracts.entity("order_items").columns)
    assert checked.record == ITEM


def test_unset_optionals_are_null_and_set_ones_kept() -> None:
    spec = contracts.entity("reviews")
    record = {
        "review_id": MD5,
        "order_id": MD5,
        "review_score": 4,
        "review_comment_title": None,
        "review_comment_message": "",
        "review_creation_date": "2018-01-18 00:00:00",
        "review_answer_timestamp": None,
    }
    checked = check_event(record_event(spec, record, event_id="e", source="t"))
    assert isinstance(checked, Checked)
    assert checked.record == record


def envelope_cases() -> list[tuple[olist_pb2.Event, str]]:
    no_id = item_event()
    no_id.event_id = ""
    mismatch = item_event()
    mismatch.entity = olist_pb2.ENTITY_ORDERS
    unspecified = item_event()
    unspecified.entity = olist_pb2.ENTITY_UNSPECIFIED
    unknown = item_event()
    cast(Any, unknown).entity = 99  # an open enum: any int arrives
    empty = olist_pb2.Event(event_id="e", entity=olist_pb2.ENTITY_ORDERS)
    return [
        (no_id, "event_id: is required"),
        (mismatch, "entity: ENTITY_ORDERS does not match the order_item payload (ENTITY_ORDER_ITEMS)"),
        (unspecified, "entity: is required (ENTITY_ORDER_ITEMS for a order_item payload)"),
        (unknown, "entity: unknown value 99"),
        (empty, "payload: no record set (set exactly one of the payload fields)"),
    ]


@pytest.mark.parametrize(("event", "reason"), envelope_cases())
def test_envelope_reasons(event: olist_pb2.Event, reason: str) -> None:
    assert check_event(event) == reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"order_id": ""}, "order_id: is required"),
        (
            {"order_id": "NOT-AN-MD5"},
            'order_id: must be an md5_id (32 lower-case hex characters), got "NOT-AN-MD5"',
        ),
        (
            {"order_id": MD5.upper()},
            f'order_id: must be an md5_id (32 lower-case hex characters), got "{MD5.upper()}"',
        ),
        ({"order_id": MD5 + "\n"}, "order_id: must be an md5_id"),
        ({"price": -1.0}, "price: -1 is less than the minimum 0"),
        ({"price": math.nan}, "price: must be a finite number"),
        ({"price": math.inf}, "price: must be a finite number"),
        ({"order_item_id": 0}, "order_item_id: 0 is less than the minimum 1"),
        (
            {"shipping_limit_date": "2017-09-19"},
            'shipping_limit_date: must be a timestamp YYYY-MM-DD HH:MM:SS, got "2017-09-19"',
        ),
    ],
)
def test_field_reasons(overrides: dict[str, Any], reason: str) -> None:
    result = check_event(item_event(**overrides))
    assert isinstance(result, str)
    assert result.startswith(reason)


def test_enum_bounds_and_code_point_lengths() -> None:
    payments = contracts.entity("payments")
    payment = {
        "order_id": MD5,
        "payment_sequential": 1,
        "payment_type": "pix",
        "payment_installments": 25,
        "payment_value": 10.0,
    }
    event = record_event(payments, payment, event_id="e", source="t")
    assert check_event(event) == (
        'payment_type: must be one of credit_card, boleto, voucher, debit_card, not_defined, got "pix"'
    )
    event.payment.payment_type = "boleto"
    assert check_event(event) == "payment_installments: 25 is more than the maximum 24"
    customers = contracts.entity("customers")
    customer = {
        "customer_id": MD5,
        "customer_unique_id": MD5,
        "customer_zip_code_prefix": "01310",
        "customer_city": "ç" * 80,  # 80 code points, 160 bytes: within maxLength 80
        "customer_state": "SP",
    }
    assert isinstance(check_event(record_event(customers, customer, event_id="e", source="t")), Checked)
    customer["customer_city"] = "ç" * 81
    assert check_event(record_event(customers, customer, event_id="e", source="t")) == (
        "customer_city: longer than 80 characters"
    )
    customer["customer_city"], customer["customer_state"] = "sao paulo", "sp"
    assert check_event(record_event(customers, customer, event_id="e", source="t")) == (
        'customer_state: must be a state (two upper-case letters), got "sp"'
    )


def _candidates(field: contracts.FieldSpec) -> list[Any]:
    if field.type is contracts.FieldType.STRING:
        return [
            "",
            "x",
            "AB",
            "ab",
            "12345",
            "1234",
            MD5,
            "2017-01-01 00:00:00",
            "2017-01-01",
            "é" * 81,
            *field.enum,
        ]
    if field.type is contracts.FieldType.INTEGER:
        return [-1, 0, 1, 5, 24, 25, 100]
    return [-181.0, -91.0, -1.0, 0.0, 0.5, 90.0, 91.0, 180.0, 181.0, math.nan]


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, Any]]:
    tables = build_tables(scale=0.001, seed=3)
    return {name: table.slice(0, 1).to_pylist()[0] for name, table in tables.items()}


def test_the_checks_agree_with_the_registry_schemas(samples: dict[str, dict[str, Any]]) -> None:
    """Every field of every entity, set to values on both sides of its rules: the twin
    accepts exactly the records the sink's JSON Schema validation accepts (but "")."""
    compared = 0
    for spec in contracts.entities():
        definition = entity_definition(spec)
        for field in spec.fields:
            for value in _candidates(field):
                record = {**samples[spec.name], field.name: value}
                checked = check_event(record_event(spec, record, event_id="e", source="t"))
                try:
                    check(definition, orjson.loads(orjson.dumps(record)))
                    schema_ok = True
                except RecordInvalid:
                    schema_ok = False
                if value == "" and field.required:
                    # proto3 cannot tell an unset string from "": a required one must be non-empty
                    # (stricter than the schema, on purpose, as in the C++ server).
                    assert checked == f"{field.name}: is required"
                else:
                    assert isinstance(checked, Checked) == schema_ok, (spec.name, field.name, value, checked)
                compared += 1
    assert compared > 400


def test_builder_writes_the_bytes_of_keystone_nexus_events(samples: dict[str, dict[str, Any]]) -> None:
    ids = {e.schema_name: UUID(int=i + 1) for i, e in enumerate(contracts.entities())}
    builder = RecordBuilder(ids)
    for spec in contracts.entities():
        record = samples[spec.name]
        built = builder.build(record_event(spec, record, event_id="ev-1", source="src"))
        assert built == to_event(spec, record, ids[spec.schema_name], event_id="ev-1", source="src")


def test_builder_needs_every_schema_id() -> None:
    with pytest.raises(ValueError, match=r"olist\.orders\.v1"):
        RecordBuilder({"olist.customers.v1": UUID(int=1)})
