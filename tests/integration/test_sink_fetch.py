"""The sink's lean fetch path against the real broker: the same records as aiokafka's
ConsumerRecords, field for field, and other consumers in the process unaffected."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from confluent_kafka import Producer

from keystone_nexus.sink import fetch
from keystone_nexus.sink.batcher import RecordColumns, record_sizes, records_size
from tests.integration.sinkkit import PARTITIONS, TOPICS, Broker

pytestmark = pytest.mark.integration

COUNT = 300


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for i in range(COUNT):
        value = None if i % 50 == 7 else f'{{"i": {i}}}'.encode()
        key = None if i % 40 == 3 else f"{i:08d}".encode()
        producer.produce(topic, key=key, value=value, headers=[("event_id", f"e{i}".encode())])
    assert producer.flush(30) == 0


async def _read_all(bootstrap: str, topic: str, **options: Any) -> dict[int, list[Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **options
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        out: dict[int, list[Any]] = {p: [] for p in range(PARTITIONS)}
        for _ in range(100):
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                out[tp.partition].extend(records)
            if sum(map(len, out.values())) >= COUNT:
                break
        return out
    finally:
        await consumer.stop()


def _fields(record: Any) -> tuple[Any, ...]:
    return (record.offset, record.timestamp, record.key, record.value, tuple(record.headers))


def test_lean_records_carry_what_consumer_records_carry(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = TOPICS[0]
    _produce(broker.bootstrap, topic)
    assert fetch.install()
    assert fetch.install()  # idempotent
    lean_fetches: list[Any] = []
    lean_records = fetch._lean_records

    def counted(records: Any) -> Any:
        lean_fetches.append(records)
        return lean_records(records)

    monkeypatch.setattr(fetch, "_lean_records", counted)

    async def both() -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
        lean = await _read_all(broker.bootstrap, topic, value_deserializer=fetch.RAW_RECORDS)
        plain = await _read_all(broker.bootstrap, topic)
        return lean, plain

    lean, plain = asyncio.run(both())
    assert sum(map(len, lean.values())) == COUNT
    assert lean_fetches  # the fetched bytes reached the lean path (CRC checked there)
    for partition in range(PARTITIONS):
        assert [_fields(r) for r in lean[partition]] == [_fields(r) for r in plain[partition]]
        assert all(isinstance(r, ConsumerRecord) for r in plain[partition])
        assert not any(isinstance(r, ConsumerRecord) for r in lean[partition])
        records = lean[partition]
        if not records:
            continue
        # What the sink computes from them: sizes (tombstones and missing keys count 0
        # bytes) and the columns handed to an encoding worker.
        expected = [len(r.value or b"") + len(r.key or b"") + 200 for r in plain[partition]]
        assert record_sizes(records).tolist() == expected
        assert records_size(records) == sum(expected)
        columns = RecordColumns.of(records)
        assert columns.offsets == [r.offset for r in plain[partition]]
        assert columns.values == [r.value for r in plain[partition]]
        assert columns.record(len(records) - 1).key == plain[partition][-1].key
