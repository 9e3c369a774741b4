"""The journey's pure parts: the deliberately bad events and the summary."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import orjson

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts import glue_header as wire
from keystone_nexus.journey import JourneyOptions, JourneyResult, render
from keystone_nexus.journey.bad import UNKNOWN_ENTITY, server_rejects, sink_dead_letters
from keystone_nexus.journey.gold import min_seller_orders
from keystone_nexus.journey.processes import sample_of
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, dataset_file, read


def _samples(tmp_path: Path) -> dict[str, dict[str, object]]:
    generate(tmp_path, scale=0.001, seed=1, fmt="csv")
    out = {}
    for spec in contracts.entities():
        path, fmt = dataset_file(tmp_path, spec)
        out[spec.name] = next(r for r in read(path, spec, fmt, validate=True) if isinstance(r, Row)).record
    return out


def test_bad_events_each_carry_one_defect(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    events = server_rejects(samples)
    assert len(events) == 5 and len({e.event.event_id for e in events}) == 5
    by_defect = {e.defect: e.event for e in events}
    assert by_defect["order_status not one of the allowed values"].order.order_status == "teleported"
    assert by_defect["an entity the service does not know"].entity == UNKNOWN_ENTITY
    mismatch = by_defect["entity orders carrying a customer"]
    assert mismatch.entity == contracts.entity("orders").entity_enum
    assert mismatch.WhichOneof("payload") == "customer"

    ids = {spec.schema_name: uuid.uuid4() for spec in contracts.entities()}
    records = {r.topic: r for r in sink_dead_letters(samples, ids)}
    assert len(records) == 5
    assert records["olist.sellers.v1"].value is None
    orders = wire.decode(records["olist.orders.v1"].value or b"")
    assert orders.schema_version_id == ids["olist.orders.v1"]
    customers = wire.decode(records["olist.customers.v1"].value or b"")
    assert orjson.loads(customers.payload)["loyalty_tier"] == "gold"
    payments = wire.decode(records["olist.payments.v1"].value or b"")
    assert payments.schema_version_id not in ids.values()


def test_the_summary_says_whether_the_accounting_balances() -> None:
    result = JourneyResult(JourneyOptions(state_dir=Path("x")), server="Python twin at grpc://h:1")
    result.via.sent["orders"] = result.via.accepted["orders"] = 10
    result.bad_events = [("bad", False, "order_status: nope")]
    result.lake.bronze_rows["orders"] = 10
    assert result.sent == 11 and result.accepted == 10 and result.rejected == 1
    text = render(result)
    assert "(balanced)" in text and "order_status: nope" in text
    result.lake.bronze_rows = Counter(orders=9)
    assert "(NOT BALANCED)" in render(result)


def test_status_samples_and_the_seller_floor() -> None:
    doc = {
        "partitions": [{"offset_lag": 5, "buffered": 2}, {"offset_lag": None, "buffered": 0}],
        "totals": {"records_valid": 7, "records_dead": 1},
    }
    sample = sample_of(doc, 1.234)
    assert (sample.records, sample.offset_lag, sample.buffered, sample.partitions) == (8, 5, 2, 2)
    assert min_seller_orders(100) == 3 and min_seller_orders(99_000) == 49
