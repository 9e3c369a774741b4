"""The client's pure parts: target URLs, events from records, errors."""

from __future__ import annotations

import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import ConfigError
from keystone_nexus.ingest.client import parse_target, record_event


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("grpc://127.0.0.1:50051", "127.0.0.1:50051"),
        ("grpc://ingest.local:1/", "ingest.local:1"),
        ("grpc://[::1]:5", "[::1]:5"),
    ],
)
def test_parse_target(url: str, address: str) -> None:
    assert parse_target(url) == address


@pytest.mark.parametrize("url", ["127.0.0.1:50051", "http://h:1", "grpc://h", "grpc://:1", "grpc://h:x"])
def test_parse_target_refuses(url: str) -> None:
    with pytest.raises(ConfigError, match="grpc://HOST:PORT"):
        parse_target(url)


def test_record_event_sets_the_envelope_and_leaves_none_unset() -> None:
    spec = contracts.entity("products")
    event = record_event(
        spec,
        {"product_id": "a" * 32, "product_category_name": None, "product_weight_g": 0},
        event_id="x",
        source="s",
    )
    assert (event.event_id, event.source, event.entity) == ("x", "s", spec.entity_enum)
    assert event.WhichOneof("payload") == spec.payload_field
    assert not event.product.HasField("product_category_name")
    assert event.product.HasField("product_weight_g") and event.product.product_weight_g == 0
