"""The twin's Kafka adapter: librdkafka (confluent-kafka) behind an asyncio face.

`try_send` queues one record without blocking (False when librdkafka's queue is full,
so the caller decides how long to wait); a thread serves the delivery reports and hands
each to the `DeliveryTracker` of the call that sent the record. A tracker wakes its call
once, when every record it queued has its report: one cross-thread hop per call, not
one per event. The producer counts the reports (`delivered`, `delivery_errors`) for the
metrics, whichever call sent the record or whether it is still waiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from keystone_nexus.contracts.events import KafkaEvent

log = logging.getLogger("keystone_nexus.ingest")


@dataclass(frozen=True, slots=True)
class Delivery:
    """The broker's answer for one record: where it was written, or the error."""

    index: int
    error: str
    topic: str
    partition: int
    offset: int


class DeliveryTracker:
    """The delivery reports of one call's records, keyed by the event's index."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._done = asyncio.Event()
        self._queued = 0
        self._sealed = False
        self.deliveries: list[Delivery] = []
        self._topics: dict[str, str] = {}

    def queued(self) -> None:
        with self._lock:
            self._queued += 1

    def report(self, index: int, err: KafkaError | None, msg: Message) -> None:
        """The delivery callback (on the poll thread)."""
        topic = self._topics.setdefault(msg.topic() or "", msg.topic() or "")  # one str per topic
        if err is None:
            delivery = Delivery(index, "", topic, msg.partition() or 0, msg.offset() or 0)
        else:
            delivery = Delivery(index, str(err), topic, -1, -1)
        with self._lock:
            self.deliveries.append(delivery)
            complete = self._sealed and len(self.deliveries) == self._queued
        if complete:
            self._loop.call_soon_threadsafe(self._done.set)

    async def wait(self) -> list[Delivery]:
        """Seal the tracker (nothing more will be queued) and wait for every report."""
        with self._lock:
            self._sealed = True
            complete = len(self.deliveries) == self._queued
        if not complete:
            await self._done.wait()
        return self.deliveries


class AsyncProducer:
    """A librdkafka producer whose delivery reports are served by a thread of its own."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.fatal_error: str | None = None
        # Delivery reports since start, with and without error (written by the poll thread).
        self.delivered = 0
        self.delivery_errors = 0
        self._producer = Producer({**config, "error_cb": self._on_error})
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingest-delivery", daemon=True)
        self._poller.start()

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal_error = str(err)
            log.error("producer_fatal", extra={"error": str(err)})
        else:
            log.warning("producer_error", extra={"error": str(err)})

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(0.05)
            except Exception as exc:
                # A callback poll() served raised (a delivery report, or the MSK IAM
                # oauth_cb where confluent-kafka serves it here): the reports must keep flowing.
                log.error("producer_callback_failed", extra={"error": str(exc)})
                self._stop.wait(1.0)

    def try_send(self, event: KafkaEvent, index: int, tracker: DeliveryTracker) -> bool:
        """Queue one record; False when the queue is full (nothing was queued)."""
        try:
            self._producer.produce(
                event.topic,
                value=event.value,
                key=event.key,
                headers=list(event.headers),
                on_delivery=partial(self._report, tracker, index),
            )
        except BufferError:
            return False
        tracker.queued()
        return True

    def _report(self, tracker: DeliveryTracker, index: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.delivery_errors += 1
        tracker.report(index, err, msg)

    def queue_depth(self) -> int:
        return len(self._producer)

    def close(self, timeout_s: float) -> int:
        """Stop the poll thread, flush; returns how many records were left undelivered."""
        self._stop.set()
        self._poller.join()
        remaining: int = self._producer.flush(timeout_s)
        return remaining
