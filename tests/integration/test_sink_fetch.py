"""The sink's lean fetch path against the real broker: the same records as aiokafka's
ConsumerRecords, field for field, and other consumers in the process unaffected; of a
transactional producer, the committed records only when reading committed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.structs import ConsumerRecord
from confluent_kafka import Producer

from keystone_nexus.kafka import fetch
from keystone_nexus.sink.batcher import RecordColumns, record_sizes, records_size
from tests.integration.sinkkit import PARTITIONS, TOPICS, Broker, produce_transactions

pytestmark = pytest.mark.integration

COUNT = 300


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for i in range(COUNT):
        value = None if i % 50 == 7 else f'{{"i": {i}}}'.encode()
        key = None if i % 40 == 3 else f"{i:08d}".encode()
        producer.produce(topic, key=key, value=value, headers=[("event_id", f"e{i}".encode())])
    assert producer.flush(30) == 0


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


async def _read_all(bootstrap: str, topic: str, **options: Any) -> dict[int, list[Any]]:
    """Every partition of `topic` read up to its end (the last stable offset, reading committed)."""
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
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                out[tp.partition].extend(records)
            ends = [consumer.last_stable_offset(tp) or consumer.highwater(tp) for tp in parts]
            positions = [await consumer.position(tp) for tp in parts]
            if all(end is not None and at >= end for at, end in zip(positions, ends, strict=True)):
                break
        return out
    finally:
        await consumer.stop()


def _offsets(read: dict[int, list[Any]]) -> set[tuple[str, int, int]]:
    return {(TOPICS[0], p, r.offset) for p, records in read.items() for r in records}


def test_read_committed_lean_records_are_the_committed_transactions(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    written, producer = produce_transactions(broker.bootstrap, ["commit", "abort", "commit"], 20)
    del producer
    assert fetch.install()
    fetched: list[tuple[TopicPartition, bytes, int]] = []
    lean_records = fetch._lean_records

    def kept(records: Any) -> Any:
        if records._isolation_level == fetcher.READ_COMMITTED:
            fetched.append((records._tp, records._records.data, records.next_fetch_offset))
        return lean_records(records)

    monkeypatch.setattr(fetch, "_lean_records", kept)
    topic = TOPICS[0]

    async def read() -> dict[str, dict[int, list[Any]]]:
        return {
            "lean committed": await _read_all(
                broker.bootstrap,
                topic,
                value_deserializer=fetch.RAW_RECORDS,
                isolation_level="read_committed",
            ),
            "lean uncommitted": await _read_all(
                broker.bootstrap,
                topic,
                value_deserializer=fetch.RAW_RECORDS,
                isolation_level="read_uncommitted",
            ),
            "plain uncommitted": await _read_all(broker.bootstrap, topic, isolation_level="read_uncommitted"),
        }

    got = asyncio.run(read())
    assert _offsets(got["lean committed"]) == written.committed
    everything = written.committed | written.aborted
    assert _offsets(got["lean uncommitted"]) == _offsets(got["plain uncommitted"]) == everything
    for p in range(PARTITIONS):
        assert [_fields(r) for r in got["lean uncommitted"][p]] == [
            _fields(r) for r in got["plain uncommitted"][p]
        ]

    # The broker's fetched bytes, with the aborted list Kafka sends (Tansu sends it empty):
    # aiokafka's own read_committed path and the lean one return the same records.
    assert fetched
    monkeypatch.undo()  # what follows is not to be kept
    for tp, data, fetch_offset in fetched:
        producer_id = fetcher.MemoryRecords(data).next_batch().producer_id
        first_aborted = min(o for _t, p, o in written.aborted if p == tp.partition)
        aborted = [(producer_id, first_aborted)]
        lean, plain = (
            list(
                fetcher.PartitionRecords(
                    tp,
                    fetcher.MemoryRecords(data),
                    aborted,
                    fetch_offset,
                    None,
                    deserializer,
                    True,
                    fetcher.READ_COMMITTED,
                )
            )
            for deserializer in (fetch.RAW_RECORDS, None)
        )
        assert [_fields(r) for r in lean] == [_fields(r) for r in plain]
        assert {(topic, tp.partition, r.offset) for r in plain} <= written.committed
