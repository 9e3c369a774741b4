"""The column encoder writes protobuf's own bytes: every entity of a generated dataset,
and the values where the wire format has its corners."""

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from keystone.olist.v1 import ingestion_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.events import replay_event_id, replay_event_ids
from keystone_nexus.contracts.md5_batch import md5_numbered
from keystone_nexus.contracts.proto_batch import framed_events, request_body
from keystone_nexus.ingest.client import record_event
from keystone_nexus.olist.bulk_reader import read_csv_block
from keystone_nexus.olist.generate import generate


def protobuf_bytes(
    spec: EntitySpec, records: list[dict[str, Any]], ids: list[str], source: str
) -> list[bytes]:
    """What protobuf writes: one PublishRequest entry per record."""
    return [
        ingestion_pb2.PublishRequest(
            events=[record_event(spec, r, event_id=i, source=source)]
        ).SerializeToString()
        for r, i in zip(records, ids, strict=True)
    ]


def encoded(spec: EntitySpec, typed: pa.Table, file: str, lines: np.ndarray, source: str) -> pa.Array:
    return framed_events(spec, typed, replay_event_ids(spec, file, lines), source)


def test_every_entity_of_a_generated_dataset(tmp_path: Path) -> None:
    generate(tmp_path, scale=0.01, seed=5)
    for spec in contracts.entities():
        block = read_csv_block(tmp_path / spec.csv_file, spec)
        assert block is not None
        records = block.typed.to_pylist()
        ids = [replay_event_id(spec, spec.csv_file, line) for line in block.lines.tolist()]
        framed = encoded(spec, block.typed, spec.csv_file, block.lines, "olist-replay")
        assert framed.to_pylist() == protobuf_bytes(spec, records, ids, "olist-replay"), spec.name
        body = request_body(framed, 0, len(framed))
        parsed = ingestion_pb2.PublishRequest.FromString(body)
        expected = [
            record_event(spec, r, event_id=i, source="olist-replay")
            for r, i in zip(records, ids, strict=True)
        ]
        assert list(parsed.events) == expected, spec.name
        # A run from the middle is a request of its own.
        middle = ingestion_pb2.PublishRequest.FromString(request_body(framed, 3, 9))
        assert list(middle.events) == expected[3:9]


CORNERS: dict[str, list[dict[str, Any]]] = {
    "order_items": [
        {
            "order_id": "a" * 32,
            "order_item_id": 1,
            "product_id": "",
            "seller_id": None,
            "shipping_limit_date": "2018-01-01 00:00:00",
            "price": 0.0,
            "freight_value": -0.0,
        },
        {
            "order_id": "é" * 200,
            "order_item_id": -1,
            "product_id": "x" * 20_000,
            "seller_id": "s",
            "shipping_limit_date": None,
            "price": 1e300,
            "freight_value": float("inf"),
        },
        {
            "order_id": None,
            "order_item_id": 0,
            "product_id": None,
            "seller_id": None,
            "shipping_limit_date": None,
            "price": None,
            "freight_value": None,
        },
        {
            "order_id": "z",
            "order_item_id": 2**31 - 1,
            "product_id": "p",
            "seller_id": "s",
            "shipping_limit_date": "t",
            "price": 5e-324,
            "freight_value": -2.5,
        },
        {
            "order_id": "z",
            "order_item_id": -(2**31),
            "product_id": "p",
            "seller_id": "s",
            "shipping_limit_date": "t",
            "price": 127.0,
            "freight_value": 128.0,
        },
    ],
    # Optional fields: zero and "" are written, unlike the implicit ones above.
    "products": [
        {
            "product_id": "p",
            "product_category_name": None,
            "product_name_lenght": 0,
            "product_description_lenght": None,
            "product_photos_qty": 300,
            "product_weight_g": -5,
            "product_length_cm": 16_384,
            "product_height_cm": None,
            "product_width_cm": 0,
        },
        {
            "product_id": "q",
            "product_category_name": "",
            "product_name_lenght": None,
            "product_description_lenght": None,
            "product_photos_qty": None,
            "product_weight_g": None,
            "product_length_cm": None,
            "product_height_cm": None,
            "product_width_cm": None,
        },
    ],
}


@pytest.mark.parametrize("source", ["olist-replay", "", "s" * 300])
@pytest.mark.parametrize("name", sorted(CORNERS))
def test_the_corners_of_the_wire_format(name: str, source: str) -> None:
    spec = contracts.entity(name)
    records = CORNERS[name]
    schema = pa.schema(
        [
            (f.name, {"string": pa.string(), "integer": pa.int64(), "number": pa.float64()}[f.type])
            for f in spec.fields
        ]
    )
    typed = pa.Table.from_pylist(records, schema=schema)
    lines = np.arange(2, 2 + len(records), dtype=np.int64)
    ids = [replay_event_id(spec, "f.csv", int(line)) for line in lines]
    framed = encoded(spec, typed, "f.csv", lines, source)
    assert framed.to_pylist() == protobuf_bytes(spec, records, ids, source)


def test_event_ids_and_md5_as_hashlib() -> None:
    spec = contracts.entity("reviews")
    lines = np.array([0, 1, 2, 9, 10, 99, 100, 65_535, 10**6, 10**12, 2**62], dtype=np.int64)
    ids = replay_event_ids(spec, spec.csv_file, lines)
    assert [bytes(i).decode() for i in ids] == [replay_event_id(spec, spec.csv_file, int(n)) for n in lines]
    for prefix in (b"", b"x" * 55, b"y" * 56, b"z" * 64, b"w" * 150):
        numbers = np.concatenate([lines, np.arange(20_000, 40_000)])  # more than one chunk
        digests = md5_numbered(prefix, numbers)
        assert [bytes(d) for d in digests] == [
            hashlib.md5(prefix + str(n).encode()).digest() for n in numbers
        ]
    with pytest.raises(ValueError):
        md5_numbered(b"", np.array([-1]))
