"""Memory stays bounded: partitions that outrun the store are paused, and buffers over
the budget are cut early. The consumer is faked here (a unit test of the loop's rules)."""

import asyncio
from typing import Any

from aiokafka import TopicPartition

from keystone_nexus.sink.batcher import CutRules, PartitionBuffer, RawRecord
from keystone_nexus.sink.commit import CommitOptions
from keystone_nexus.sink.daemon import BronzeSink, PartitionState, SinkOptions


class FakeConsumer:
    def __init__(self) -> None:
        self.paused: set[TopicPartition] = set()

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)


def _sink(budget: int) -> tuple[BronzeSink, FakeConsumer]:
    consumer = FakeConsumer()
    options = SinkOptions(
        rules=CutRules(max_records=10_000, max_bytes=1_000, max_age_s=3600),
        commit=CommitOptions(),
        memory_budget_bytes=budget,
    )
    sink = BronzeSink(consumer=consumer, store=Any, registry=Any, executor=Any, options=options, owner="t")  # type: ignore[arg-type]
    return sink, consumer


def _fill(buffer: PartitionBuffer, n: int, size: int = 100) -> None:
    start = buffer.records[-1].offset + 1 if buffer.records else 0
    for i in range(n):
        buffer.append(RawRecord(start + i, 0, None, b"x" * size), now=0.0)


async def test_a_partition_with_a_batch_in_flight_and_a_full_buffer_is_paused() -> None:
    sink, consumer = _sink(budget=1_000_000)
    tp = TopicPartition("olist.orders.v1", 0)
    state = PartitionState(committer=None, buffer=PartitionBuffer())  # type: ignore[arg-type]
    sink.parts[tp] = state
    state.task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    _fill(state.buffer, 2)  # 2 x (100 + overhead) bytes: under max_bytes
    sink._backpressure()
    assert tp not in consumer.paused
    _fill(state.buffer, 20)  # over max_bytes while the previous batch is still being written
    sink._backpressure()
    assert tp in consumer.paused and state.paused
    state.task = None
    sink._backpressure()
    assert tp not in consumer.paused


async def test_over_the_budget_every_writing_partition_pauses() -> None:
    sink, consumer = _sink(budget=5_000)
    tps = [TopicPartition("olist.orders.v1", p) for p in range(3)]
    for tp in tps:
        state = PartitionState(committer=None, buffer=PartitionBuffer())  # type: ignore[arg-type]
        _fill(state.buffer, 5)
        state.inflight_bytes = 1_000
        state.task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
        sink.parts[tp] = state
    assert sink._buffered() > 5_000
    sink._backpressure()
    assert consumer.paused == set(tps)
