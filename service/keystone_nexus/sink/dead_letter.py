"""The optional dead-letter topic, beside the lake's `dlq/` prefix.

Each dead record is produced with its raw key and value and headers naming its origin
and the reason. The lake's copy is exactly once; the topic's is at least once (a
repeated batch produces again), so its key `<topic>/<partition>/<offset>` lets a
consumer drop repeats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

from keystone_nexus.sink.batcher import Record


class DeadLetterSink(Protocol):
    async def send(self, topic: str, partition: int, dead: Sequence[tuple[Record, str]]) -> None: ...


class DeadLetterTopic:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def send(self, topic: str, partition: int, dead: Sequence[tuple[Record, str]]) -> None:
        """Produce every dead record and wait for the broker's acknowledgements."""
        futures = []
        for record, reason in dead:
            headers = [
                ("source_topic", topic.encode()),
                ("source_partition", str(partition).encode()),
                ("source_offset", str(record.offset).encode()),
                ("source_timestamp_ms", str(record.timestamp).encode()),
                ("reason", reason.encode()),
            ]
            if record.key is not None:
                headers.append(("source_key", record.key))
            futures.append(
                await self.producer.send(
                    self.topic,
                    value=record.value,
                    key=f"{topic}/{partition}/{record.offset}".encode(),
                    headers=headers,
                )
            )
        if futures:
            await asyncio.gather(*futures)
