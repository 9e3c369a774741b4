"""The delivery tracker: a call wakes once, when every record it queued has its report."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from keystone_nexus.ingest.producer import Delivery, DeliveryTracker


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
