"""The deliberately bad events of the journey: pure builders, no I/O.

Two kinds, so both lines of defence are seen at work:
- events the ingestion server must reject (a field breaking its rule, an entity the
  service does not know, an entity that does not match its payload);
- Kafka records produced straight to a topic, behind the server's back, that the bronze
  sink must dead-letter (a payload that is not JSON, a value out of its range, a field the
  schema does not have, a schema version the registry does not know, a tombstone).

Each is built from a real record of the dataset, so only the named defect is wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.contracts.events import record_key
from keystone_nexus.ingest.client import record_event

SOURCE = "journey-bad-events"
_NAMESPACE = uuid.UUID("5f1e2a7c-3b8d-4c6e-9a0f-7d2b1c4e8a36")
UNKNOWN_ENTITY = 42  # not a value of keystone.olist.v1.Entity


@dataclass(frozen=True, slots=True)
class BadEvent:
    """An event for the server, and what is wrong with it."""

    defect: str
    event: olist_pb2.Event


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A Kafka record for a topic, and what is wrong with it."""

    defect: str
    topic: str
    key: bytes
    value: bytes | None


def _event_id(defect: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, defect))


def server_rejects(samples: Mapping[str, dict[str, Any]]) -> list[BadEvent]:
    """Events the ingestion server rejects; `samples` holds one good record per entity name."""
    orders, customers, reviews = (contracts.entity(n) for n in ("orders", "customers", "reviews"))
    out = []

    def add(defect: str, spec: contracts.EntitySpec, record: dict[str, Any]) -> olist_pb2.Event:
        event = record_event(spec, record, event_id=_event_id(defect), source=SOURCE)
        out.append(BadEvent(defect, event))
        return event

    add(
        "order_status not one of the allowed values",
        orders,
        {**samples["orders"], "order_status": "teleported"},
    )
    add("customer_state not a state code", customers, {**samples["customers"], "customer_state": "Sao Paulo"})
    add("review_score above 5", reviews, {**samples["reviews"], "review_score": 9})
    unknown = add("an entity the service does not know", customers, samples["customers"])
    unknown.entity = UNKNOWN_ENTITY  # type: ignore[assignment]
    mismatch = add("entity orders carrying a customer", customers, samples["customers"])
    mismatch.entity = orders.entity_enum  # type: ignore[assignment]
    return out


def sink_dead_letters(
    samples: Mapping[str, dict[str, Any]], schema_ids: Mapping[str, UUID]
) -> list[BadRecord]:
    """Records that pass no server (produced straight to their topics) and that the bronze
    sink dead-letters; `schema_ids` maps schema names to their current version ids."""

    def framed(name: str, payload: bytes, version: UUID | None = None) -> tuple[str, bytes, bytes]:
        spec = contracts.entity(name)
        key = record_key(spec, samples[name])
        return spec.topic, key, wire.encode(payload, version or schema_ids[spec.schema_name])

    out = []

    def add(defect: str, parts: tuple[str, bytes, bytes | None]) -> None:
        topic, key, value = parts
        out.append(BadRecord(defect, topic, key, value))

    add("payload is not JSON", framed("orders", b'{"order_id": "' + samples["orders"]["order_id"].encode()))
    review = {**samples["reviews"], "review_score": 0}
    add("review_score below 1", framed("reviews", orjson.dumps(review)))
    customer = {**samples["customers"], "loyalty_tier": "gold"}
    add("a field the schema does not have", framed("customers", orjson.dumps(customer)))
    payment = orjson.dumps(samples["payments"])
    add("a schema version the registry does not know", framed("payments", payment, _unknown_version()))
    sellers = contracts.entity("sellers")
    add("a tombstone (no value)", (sellers.topic, record_key(sellers, samples["sellers"]), None))
    return out


def _unknown_version() -> UUID:
    return uuid.uuid5(_NAMESPACE, "no such schema version")
