"""Reading committed, the sink measures a partition to its last stable offset and lets a
batch's end pass the transaction markers the fetch skipped. The consumer and the
committer are faked (a unit test of the loop's rules; tests/integration/
test_sink_transactions.py runs them against the broker)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from keystone_nexus.sink.batcher import CutRules, PartitionBuffer, RawRecord, Record
from keystone_nexus.sink.commit import BatchOutcome, CommitOptions
from keystone_nexus.sink.daemon import BronzeSink, PartitionState, SinkOptions

TP = TopicPartition("olist.payments.v1", 0)


@dataclass
class FakeConsumer:
    """What a fetch left behind: high-water mark, last stable offset, position."""

    high: int | None
    stable: int | None
    at: int | None
    committed: dict[TopicPartition, int] = field(default_factory=dict)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return self.stable

    @property
    def _subscription(self) -> Any:  # where aiokafka keeps the position
        state = SimpleNamespace(has_valid_position=self.at is not None, position=self.at)
        return SimpleNamespace(
            subscription=SimpleNamespace(assignment=SimpleNamespace(state_value=lambda tp: state))
        )

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)


@dataclass
class FakeCommitter:
    next_offset: int = 0
    cuts: list[tuple[list[int], int]] = field(default_factory=list)
    read_from: list[int | None] = field(default_factory=list)

    async def commit(self, records: list[Record], end: int, *, read_from: int | None = None) -> BatchOutcome:
        self.cuts.append(([r.offset for r in records], end))
        self.read_from.append(read_from)
        self.next_offset = end + 1
        return BatchOutcome(records[0].offset, end, len(records), 0, 0, 1, 0, 0.0)


def _sink(consumer: FakeConsumer, *, read_committed: bool = True) -> tuple[BronzeSink, PartitionState]:
    options = SinkOptions(
        rules=CutRules(max_records=1000, max_bytes=10**9, max_age_s=3600, idle_flush_s=1),
        commit=CommitOptions(),
        read_committed=read_committed,
    )
    sink = BronzeSink(consumer=consumer, store=Any, registry=Any, executor=Any, options=options, owner="t")  # type: ignore[arg-type]
    state = PartitionState(committer=FakeCommitter(), buffer=PartitionBuffer())  # type: ignore[arg-type]
    sink.parts[TP] = state
    return sink, state


def _buffer(state: PartitionState, offsets: range) -> None:
    for offset in offsets:
        state.buffer.append(RawRecord(offset, 0, None, b"{}"), now=0.0)


def test_an_open_transaction_is_no_lag_when_reading_committed() -> None:
    # 10 records committed and written, then an open transaction at 10-19 (high water 20).
    consumer = FakeConsumer(high=20, stable=10, at=10)
    sink, state = _sink(consumer)
    state.committer.next_offset = 10  # type: ignore[misc]
    assert [lag.offset_lag for lag in sink.lags()] == [0]
    assert sink.status()["partitions"][0]["high_water"] == 10
    uncommitted, state = _sink(consumer, read_committed=False)
    state.committer.next_offset = 10  # type: ignore[misc]
    assert [lag.offset_lag for lag in uncommitted.lags()] == [10]


def test_a_broker_without_a_last_stable_offset_falls_back_to_the_high_water_mark() -> None:
    for stable in (None, -1):
        sink, _state = _sink(FakeConsumer(high=7, stable=stable, at=0))
        assert [lag.offset_lag for lag in sink.lags()] == [7]


async def test_a_batch_read_to_the_end_covers_the_markers_after_it() -> None:
    # Records 0-4, the commit marker at 5: the fetch skipped it, the position is 6.
    consumer = FakeConsumer(high=6, stable=6, at=6)
    sink, state = _sink(consumer)
    _buffer(state, range(5))
    sink._schedule(5.0, pressure=False)
    assert state.task is not None
    await state.task
    assert state.committer.cuts == [([0, 1, 2, 3, 4], 5)]  # type: ignore[attr-defined]
    assert consumer.committed == {TP: 6}
    assert [lag.offset_lag for lag in sink.lags()] == [0]
    # The next batch is read from past the marker, where the checkpoint says it starts.
    state.task = None
    consumer.high = consumer.stable = consumer.at = 9
    state.buffer.extend([RawRecord(o, 0, None, b"{}") for o in (6, 7, 8)], now=5.0)
    sink._schedule(10.0, pressure=False)
    assert state.task is not None
    await state.task
    assert state.committer.read_from == [0, 6]


async def test_a_batch_cut_short_of_the_buffer_ends_at_its_last_record() -> None:
    consumer = FakeConsumer(high=12, stable=12, at=12)
    sink, state = _sink(consumer)
    sink.options = SinkOptions(
        rules=CutRules(max_records=4, max_bytes=10**9, max_age_s=3600), commit=CommitOptions()
    )
    _buffer(state, range(10))
    sink._schedule(0.0, pressure=False)
    assert state.task is not None
    await asyncio.wait_for(state.task, 5)
    assert state.committer.cuts == [([0, 1, 2, 3], 3)]  # type: ignore[attr-defined]
