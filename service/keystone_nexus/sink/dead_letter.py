"""The optional dead-letter topic, beside the lake's `dlq/` prefix.

Each dead record is produced with its raw key and value and headers naming its origin
and the reason. The lake's copy is exactly once; the topic's is at least once (a
repeated batch produces again), so its key `<topic>/<partition>/<offset>` lets a
consumer drop repeats.

A record too large for the topic (over the producer's `max_request_size`, or refused by
the broker for the topic's `max.message.bytes`) is produced without its value, with the
header `value_dropped` giving the value's size: the lake's copy keeps it whole, and the
batch is not held back by a message the topic can never take.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from keystone_nexus.sink.batcher import Record


class DeadLetterSink(Protocol):
    async def send(self, topic: str, partition: int, dead: Sequence[tuple[Record, str]]) -> None: ...


class DeadLetterTopic:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def send(self, topic: str, partition: int, dead: Sequence[tuple[Record, str]]) -> None:
        """Produce every dead record and wait for the broker's acknowledgements."""
        sent = [
            (record, reason, await self._send(topic, partition, record, reason)) for record, reason in dead
        ]
        results = await asyncio.gather(*(future for *_, future in sent), return_exceptions=True)
        for (record, reason, _), result in zip(sent, results, strict=True):
            if isinstance(result, MessageSizeTooLargeError | RecordTooLargeError):
                await (await self._send(topic, partition, record, reason, drop_value=True))
            elif isinstance(result, BaseException):
                raise result

    async def _send(
        self, topic: str, partition: int, record: Record, reason: str, *, drop_value: bool = False
    ) -> asyncio.Future[Any]:
        headers = [
            ("source_topic", topic.encode()),
            ("source_partition", str(partition).encode()),
            ("source_offset", str(record.offset).encode()),
            ("source_timestamp_ms", str(record.timestamp).encode()),
            ("reason", reason.encode()),
        ]
        if record.key is not None and not drop_value:
            headers.append(("source_key", record.key))
        value = record.value
        if drop_value:
            headers.append(("value_dropped", str(len(value or b"")).encode()))
            value = None
        try:
            future: asyncio.Future[Any] = await self.producer.send(
                self.topic, value=value, key=f"{topic}/{partition}/{record.offset}".encode(), headers=headers
            )
        except (MessageSizeTooLargeError, RecordTooLargeError):
            if drop_value:
                raise
            return await self._send(topic, partition, record, reason, drop_value=True)
        return future
