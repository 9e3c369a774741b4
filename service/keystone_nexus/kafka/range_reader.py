"""Read one partition's offset range from Kafka: assign and seek, no consumer group, no commit."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from keystone_nexus.errors import NexusError
from keystone_nexus.kafka import fetch
from keystone_nexus.kafka.failures import kafka_failure
from keystone_nexus.kafka.records import RawRecord, Record

__all__ = ["KafkaRangeReader", "RangeReadError"]


class RangeReadError(NexusError):
    """The range could not be read in time; the broker may be down or the offsets gone."""


class KafkaRangeReader:
    """A `reprocess.RecordSource` over aiokafka. `security` are aiokafka's TLS/SASL options;
    `isolation_level` is the sink's (`kafka.isolation_level`), so that a reprocessed range
    holds what the sink wrote: under read_committed, no aborted transaction. Records come
    through the sink's own fetch path (`fetch.RAW_RECORDS`), which filters them the same way."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: dict[str, Any] | None = None,
        client_id: str = "keystone-nexus-reprocess",
        idle_timeout_s: float = 30.0,
        isolation_level: str = "read_committed",
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.isolation_level = isolation_level
        self.security = security or {}
        self.client_id = client_id
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        fetch.install()
        consumer = AIOKafkaConsumer(
            value_deserializer=fetch.RAW_RECORDS,
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level=self.isolation_level,
            **self.security,
        )
        try:
            await asyncio.wait_for(consumer.start(), self.idle_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            await consumer.stop()
            raise kafka_failure(self.bootstrap_servers, exc) from None
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            out: list[Record] = []
            loop = asyncio.get_running_loop()
            progress = loop.time()
            while await consumer.position(tp) <= end:
                batches = await consumer.getmany(tp, timeout_ms=500, max_records=10_000)
                fetched = batches.get(tp, [])
                if fetched:
                    progress = loop.time()
                for r in fetched:
                    if start <= r.offset <= end:
                        out.append(RawRecord(r.offset, r.timestamp, r.key, r.value))
                if loop.time() - progress > self.idle_timeout_s:
                    raise RangeReadError(
                        f"{topic}[{partition}]: nothing read for {self.idle_timeout_s:.0f} s at offset "
                        f"{await consumer.position(tp)} (wanted up to {end}); is the broker reachable?"
                    )
            return out
        finally:
            await consumer.stop()
