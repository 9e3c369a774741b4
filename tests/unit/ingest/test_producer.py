"""The delivery tracker: a call wakes once, when every record it queued has its report;
the poll thread that serves the reports survives a callback that raises."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import pytest

from keystone_nexus.ingest import producer as producer_module
from keystone_nexus.ingest.producer import AsyncProducer, Delivery, DeliveryTracker


@dataclass
class FakeMessage:
    partition_: int
    offset_: int

    def topic(self) -> str:
        return "olist.orders.v1"

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_


async def test_wait_returns_once_every_queued_record_is_reported_from_another_thread() -> None:
    tracker = DeliveryTracker(asyncio.get_running_loop())
    for _ in range(3):
        tracker.queued()
    tracker.report(0, None, FakeMessage(1, 10))  # type: ignore[arg-type]
    waiter = asyncio.ensure_future(tracker.wait())
    await asyncio.sleep(0.05)
    assert not waiter.done(), "two reports are still missing"

    def rest() -> None:
        tracker.report(2, None, FakeMessage(0, 4))  # type: ignore[arg-type]
        tracker.report(1, "Broker: timed out", FakeMessage(0, -1))  # type: ignore[arg-type]

    threading.Thread(target=rest).start()
    deliveries = await asyncio.wait_for(waiter, 5)
    assert sorted(deliveries, key=lambda d: d.index) == [
        Delivery(0, "", "olist.orders.v1", 1, 10),
        Delivery(1, "Broker: timed out", "olist.orders.v1", -1, -1),
        Delivery(2, "", "olist.orders.v1", 0, 4),
    ]


async def test_wait_with_nothing_queued_returns_at_once() -> None:
    tracker = DeliveryTracker(asyncio.get_running_loop())
    assert await asyncio.wait_for(tracker.wait(), 1) == []


class RaisingOnceProducer:
    """A librdkafka producer whose first poll raises, as when a callback it serves fails."""

    def __init__(self, config: dict[str, object]) -> None:
        self.polls = 0

    def poll(self, timeout: float) -> int:
        self.polls += 1
        if self.polls == 1:
            raise RuntimeError("no MSK IAM token for eu-west-1")
        time.sleep(timeout)
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def test_the_poll_thread_outlives_a_callback_that_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(producer_module, "Producer", RaisingOnceProducer)
    producer = AsyncProducer({})
    fake: RaisingOnceProducer = producer._producer  # type: ignore[assignment]
    deadline = time.monotonic() + 5
    while fake.polls < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.polls >= 3, "the poll thread stopped at the exception"
    assert producer._poller.is_alive()
    assert producer.close(0) == 0
    (record,) = [r for r in caplog.records if r.getMessage() == "producer_callback_failed"]
    assert "no MSK IAM token" in record.__dict__["error"]
