"""Per-partition buffers and the rules that cut them into batches.

Pure: no I/O, no clocks of its own (the caller passes `now`). A batch is a contiguous
run of offsets of one partition. Cuts by count and bytes are functions of the records;
a cut by age (an idle partition) or by memory pressure is not, which is why the
committer records every cut in the checkpoint before writing it (see commit.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Record(Protocol):
    """What the sink needs of a Kafka record; aiokafka's ConsumerRecord has it as is."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # milliseconds
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record built by hand (tests, replays); the consume loop buffers aiokafka's own."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


# What a buffered record costs beyond its key and value: aiokafka's ConsumerRecord, its
# headers and two bytes objects (measured ~200 B); the memory budget counts it.
RECORD_OVERHEAD = 200


def record_size(record: Record) -> int:
    return len(record.value or b"") + len(record.key or b"") + RECORD_OVERHEAD


def records_size(records: Sequence[Record]) -> int:
    values = sum(len(v) for r in records if (v := r.value) is not None)
    keys = sum(len(k) for r in records if (k := r.key) is not None)
    return values + keys + RECORD_OVERHEAD * len(records)


class CutReason(StrEnum):
    RECORDS = "records"
    BYTES = "bytes"
    AGE = "age"
    CAUGHT_UP = "caught-up"  # nothing more to read in the partition for a short while
    REPLAY = "replay"  # repeating a cut recorded before a crash
    PRESSURE = "pressure"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class CutRules:
    max_records: int = 200_000
    max_bytes: int = 16 * 1024 * 1024
    max_age_s: float = 60.0
    # A partition read to its end whose buffer got nothing new for this long is flushed
    # (low latency for bursts, without waiting for max_age_s).
    idle_flush_s: float = 2.0


@dataclass(slots=True)
class PartitionBuffer:
    """Records of one partition not yet handed to the committer, in offset order."""

    records: list[Record] = field(default_factory=list)
    size: int = 0
    first_seen: float | None = None  # when the oldest buffered record arrived (caller's clock)
    last_append: float | None = None  # when a record was last added
    # A cut recorded by an earlier owner that must be repeated exactly: the last offset.
    forced_end: int | None = None

    def append(self, record: Record, now: float) -> None:
        self.extend([record], now)

    def extend(self, records: Sequence[Record], now: float, floor: int = 0) -> None:
        """Add a fetched run of records (in offset order); ones below `floor` or already
        buffered (re-delivered after a seek) are dropped."""
        if self.records:
            floor = max(floor, self.records[-1].offset + 1)
        start = 0
        while start < len(records) and records[start].offset < floor:
            start += 1
        if start == len(records):
            return
        fresh = records[start:] if start else records
        if not self.records:
            self.first_seen = now
        self.last_append = now
        self.records.extend(fresh)
        self.size += records_size(fresh)

    def due(
        self, rules: CutRules, now: float, position: int | None = None, high_water: int | None = None
    ) -> CutReason | None:
        """Why this buffer should be cut now, or None. `high_water` is the partition's
        fetched high-water mark: when everything below it is buffered, the partition is
        caught up."""
        if self.forced_end is not None:
            reached = (self.records and self.records[-1].offset >= self.forced_end) or (
                position is not None and position > self.forced_end
            )
            return CutReason.REPLAY if reached else None
        if not self.records:
            return None
        if len(self.records) >= rules.max_records:
            return CutReason.RECORDS
        if self.size >= rules.max_bytes:
            return CutReason.BYTES
        if self.first_seen is not None and now - self.first_seen >= rules.max_age_s:
            return CutReason.AGE
        caught_up = high_water is not None and self.records[-1].offset + 1 >= high_water
        if caught_up and self.last_append is not None and now - self.last_append >= rules.idle_flush_s:
            return CutReason.CAUGHT_UP
        return None

    def cut(self, rules: CutRules) -> list[Record]:
        """Take the next batch: up to the forced end, else up to the count and byte limits."""
        if self.forced_end is not None:
            end = self.forced_end
            count = 0
            while count < len(self.records) and self.records[count].offset <= end:
                count += 1
            self.forced_end = None
            size = records_size(self.records[:count])
        else:
            count, size = 0, 0
            while count < len(self.records) and count < rules.max_records:
                size += record_size(self.records[count])
                count += 1
                if size >= rules.max_bytes:
                    break
        batch = self.records[:count]
        self.records = self.records[count:]
        self.size -= size
        self.first_seen = self.first_seen if self.records else None
        return batch

    def clear(self) -> None:
        self.records.clear()
        self.size = 0
        self.first_seen = None
        self.last_append = None
        self.forced_end = None
