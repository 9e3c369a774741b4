"""Small Kafka administration helpers: whether the brokers answer, records per topic.

The local broker answers ListOffsets with the base offset of the last record batch
rather than the true end, so end offsets cannot be trusted for counting. Records are
counted by reading each partition to the high-water mark carried by fetch responses,
or, reading committed (the sink's default), to the last stable offset: the count is then
what the sink lands in bronze, without aborted transactions or their markers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from keystone_nexus.kafka import fetch
from keystone_nexus.kafka.failures import kafka_failure


async def reachable(
    bootstrap_servers: str, *, security: dict[str, Any] | None = None, timeout_s: float = 10.0
) -> None:
    """One metadata round trip to the brokers, so that a command fails before it starts
    producing, not after; KafkaUnavailableError (or ConfigError) otherwise."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, **(security or {}))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    except (KafkaError, TimeoutError) as exc:
        raise kafka_failure(bootstrap_servers, exc) from None
    finally:
        await client.close()


async def topic_counts(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    idle_s: float = 2.0,
    security: dict[str, Any] | None = None,
    isolation_level: str = "read_committed",
    start_timeout_s: float = 30.0,
) -> dict[str, int]:
    """Records held per topic, read from the beginning of every partition.
    `security` are aiokafka's TLS/SASL options (`wiring.kafka_security`); `isolation_level`
    the settings' `kafka.isolation_level`. Kafka not answering within `start_timeout_s` is
    a KafkaUnavailableError (`kafka.failures`)."""
    fetch.install()  # the sink's fetch path: the same records the sink reads
    consumer = AIOKafkaConsumer(
        value_deserializer=fetch.RAW_RECORDS,
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        isolation_level=isolation_level,
        **(security or {}),
    )
    try:
        await asyncio.wait_for(consumer.start(), start_timeout_s)
    except (KafkaError, TimeoutError) as exc:
        await consumer.stop()
        raise kafka_failure(bootstrap_servers, exc) from None
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        counts = dict.fromkeys(topics, 0)
        if not partitions:
            return counts
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        loop = asyncio.get_running_loop()
        last_progress = loop.time()
        while loop.time() - last_progress < idle_s:
            batches = await consumer.getmany(timeout_ms=200, max_records=50_000)
            for tp, records in batches.items():
                counts[tp.topic] += len(records)
                last_progress = loop.time()
            caught_up = True
            for tp in partitions:
                high = consumer.highwater(tp)
                stable = consumer.last_stable_offset(tp) if isolation_level == "read_committed" else None
                if stable is not None and stable >= 0 and high is not None:
                    high = min(high, stable)  # an open transaction: nothing past it to read yet
                if high is None or await consumer.position(tp) < high:
                    caught_up = False
                    break
            if caught_up:
                break
        return counts
    finally:
        await consumer.stop()
