"""The dead-letter topic on the real broker: a dead letter the topic cannot take does
not hold its batch back."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from keystone_nexus.dev import stack as devstack
from keystone_nexus.sink.batcher import RawRecord
from keystone_nexus.sink.dead_letter import DeadLetterTopic
from tests.integration.sinkkit import Broker

pytestmark = pytest.mark.integration


async def test_a_dead_letter_larger_than_the_topic_takes_goes_without_its_value(broker: Broker) -> None:
    topic = f"dlq-{uuid.uuid4().hex[:6]}"
    devstack.create_topics(broker.bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=4096)
    await producer.start()
    try:
        dead = [
            (RawRecord(7, 1_700_000_000_000, b"k", b"small"), "bad: small"),
            (RawRecord(8, 1_700_000_000_001, b"k", b"x" * 20_000), "bad: large"),
        ]
        await DeadLetterTopic(producer, topic).send("olist.orders.v1", 2, dead)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: dict[bytes | None, tuple[bytes | None, dict[str, bytes]]] = {}
        while len(got) < 2:
            for records in (await consumer.getmany(timeout_ms=5_000)).values():
                for r in records:
                    got[r.key] = (r.value, dict(r.headers))
    finally:
        await consumer.stop()
    small, large = got[b"olist.orders.v1/2/7"], got[b"olist.orders.v1/2/8"]
    assert small[0] == b"small" and "value_dropped" not in small[1]
    assert large[0] is None
    assert large[1]["value_dropped"] == b"20000" and large[1]["reason"] == b"bad: large"
    assert large[1]["source_offset"] == b"8"
