import copy

import jsonschema
import orjson
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import json_schema as schemas
from keystone_nexus.contracts.validate import RecordInvalid, check

ORDER = {
    "order_id": "e481f51cbdc54678b7cc49136f2d6af7",
    "customer_id": "9ef432eb6251297304e76186b10a928d",
    "order_status": "delivered",
    "order_purchase_timestamp": "2017-10-02 10:56:33",
    "order_approved_at": "2017-10-02 11:07:15",
    "order_delivered_carrier_date": "2017-10-04 19:55:00",
    "order_delivered_customer_date": "2017-10-10 21:25:13",
    "order_estimated_delivery_date": "2017-10-18 00:00:00",
}
REVIEW = {
    "review_id": "7bc2406110b926393aa56f80a40eba40",
    "order_id": "73fc7af87114b39712e6da79b0a377eb",
    "review_score": 4,
    "review_comment_title": None,
    "review_comment_message": None,
    "review_creation_date": "2018-01-18 00:00:00",
    "review_answer_timestamp": "2018-01-18 21:46:59",
}


@pytest.mark.parametrize("entity", contracts.entities(), ids=lambda e: e.name)
def test_every_schema_is_valid_draft_07_and_matches_the_proto(entity: contracts.EntitySpec) -> None:
    schema = schemas.entity_schema(entity)
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert list(schema["properties"]) == list(entity.columns)
    assert schema["additionalProperties"] is False
    assert schema["required"] == [f.name for f in entity.fields if f.required]
    for spec in entity.fields:
        kind = schema["properties"][spec.name]["type"]
        assert kind == (spec.type.value if spec.required else [spec.type.value, "null"])


def test_definitions_are_canonical() -> None:
    first = schemas.all_definitions()
    assert first == schemas.all_definitions()
    for text in first.values():
        assert orjson.dumps(orjson.loads(text)).decode() == text


def test_rules_from_the_proto_options() -> None:
    props = schemas.entity_schema(contracts.entity("payments"))["properties"]
    assert props["payment_type"]["enum"] == [
        "credit_card",
        "boleto",
        "voucher",
        "debit_card",
        "not_defined",
    ]
    assert props["payment_value"]["minimum"] == 0
    review = schemas.entity_schema(contracts.entity("reviews"))["properties"]["review_score"]
    assert (review["minimum"], review["maximum"]) == (1, 5)
    orders = schemas.entity_schema(contracts.entity("orders"))["properties"]
    assert "delivered" in orders["order_status"]["enum"]
    assert orders["order_purchase_timestamp"]["pattern"] == schemas.FORMAT_PATTERNS["timestamp"]


def _definition(name: str) -> str:
    return schemas.definition(schemas.entity_schema(contracts.entity(name)))


def test_valid_records_pass() -> None:
    check(_definition("orders"), ORDER)
    check(_definition("reviews"), REVIEW)


@pytest.mark.parametrize(
    ("entity", "record", "change", "expected"),
    [
        ("orders", ORDER, {"order_status": "lost"}, "order_status"),
        (
            "orders",
            ORDER,
            {"order_purchase_timestamp": "2017-10-02T10:56:33Z"},
            "order_purchase_timestamp",
        ),
        ("orders", ORDER, {"order_id": None}, "order_id"),
        ("orders", ORDER, {"surprise": 1}, "surprise"),
        ("reviews", REVIEW, {"review_score": 6}, "review_score"),
        ("reviews", REVIEW, {"review_score": "5"}, "review_score"),
    ],
)
def test_invalid_records_fail_with_a_reason(entity, record, change, expected) -> None:
    bad = {**copy.deepcopy(record), **change}
    with pytest.raises(RecordInvalid) as info:
        check(_definition(entity), bad)
    assert expected in str(info.value)


def test_missing_required_field_fails() -> None:
    bad = dict(ORDER)
    del bad["customer_id"]
    with pytest.raises(RecordInvalid, match="customer_id"):
        check(_definition("orders"), bad)


def test_negative_price_fails() -> None:
    item = {
        "order_id": "00010242fe8c5a6d1ba2dd792cb16214",
        "order_item_id": 1,
        "product_id": "4244733e06e7ecb4970a6e2683c13e61",
        "seller_id": "48436dade18ac8b2bce089ec2a041202",
        "shipping_limit_date": "2017-09-19 09:45:35",
        "price": 58.9,
        "freight_value": 13.29,
    }
    check(_definition("order_items"), item)
    with pytest.raises(RecordInvalid, match="price"):
        check(_definition("order_items"), {**item, "price": -1.0})
