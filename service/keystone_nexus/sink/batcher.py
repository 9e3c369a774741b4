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
from operator import attrgetter

import numpy as np
from numpy.typing import NDArray

from keystone_nexus.kafka.records import RawRecord, Record

__all__ = ["CutReason", "CutRules", "PartitionBuffer", "RawRecord", "Record", "RecordColumns"]


_OFFSET = attrgetter("offset")
_TIMESTAMP = attrgetter("timestamp")
_KEY = attrgetter("key")
_VALUE = attrgetter("value")


@dataclass(frozen=True, slots=True)
class RecordColumns:
    """A batch as parallel lists: what the committer hands to an encoding worker
    process (four lists pickle in a few milliseconds; a list of records does not)."""

    offsets: list[int]
    timestamps: list[int]
    keys: list[bytes | None]
    values: list[bytes | None]

    @classmethod
    def of(cls, records: Sequence[Record]) -> RecordColumns:
        return cls(
            offsets=list(map(_OFFSET, records)),
            timestamps=list(map(_TIMESTAMP, records)),
            keys=list(map(_KEY, records)),
            values=list(map(_VALUE, records)),
        )

    def __len__(self) -> int:
        return len(self.offsets)

    def record(self, index: int) -> RawRecord:
        return RawRecord(self.offsets[index], self.timestamps[index], self.keys[index], self.values[index])


# What a buffered record costs beyond its key and value: aiokafka's ConsumerRecord, its
# headers and two bytes objects (measured ~200 B); the memory budget counts it.
RECORD_OVERHEAD = 200


def record_size(record: Record) -> int:
    return len(record.value or b"") + len(record.key or b"") + RECORD_OVERHEAD


def _lengths(records: Sequence[Record], field: attrgetter[bytes | None]) -> NDArray[np.int64]:
    n = len(records)
    try:  # a C-level loop; a None (a tombstone, a record without key) takes the slow way
        return np.fromiter(map(len, map(field, records)), np.int64, n)  # type: ignore[arg-type]
    except TypeError:
        return np.fromiter((len(field(r) or b"") for r in records), np.int64, n)


def record_sizes(records: Sequence[Record]) -> NDArray[np.int64]:
    """What each record costs the memory budget, as an array (no per-record Python)."""
    return _lengths(records, _VALUE) + _lengths(records, _KEY) + RECORD_OVERHEAD


def records_size(records: Sequence[Record]) -> int:
    return int(record_sizes(records).sum()) if records else 0


class CutReason(StrEnum):
    RECORDS = "records"
    BYTES = "bytes"
    AGE = "age"
    CAUGHT_UP = "caught-up"  # nothing more to read in the partition for a short while
    REPLAY = "replay"  # repeating a cut recorded before a crash
    PRESSURE = "pressure"
    SHUTDOWN = "shutdown"
    # No records: the fetch moved past transaction markers or aborted records after the
    # last cut, and the checkpoint follows it (nothing is written).
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CutRules:
    max_records: int = 200_000
    max_bytes: int = 16 * 1024 * 1024
    max_age_s: float = 60.0
    # A partition read to its end whose buffer got nothing new for this long is flushed
    # (low latency for bursts, without waiting for max_age_s).
    idle_flush_s: float = 2.0
    # A partition read to its end with at least this much buffered is flushed at once:
    # the end of a backlog goes out without the idle wait, in files worth writing.
    caught_up_bytes: int = 4 * 1024 * 1024


@dataclass(slots=True)
class PartitionBuffer:
    """Records of one partition not yet handed to the committer, in offset order."""

    records: list[Record] = field(default_factory=list)
    size: int = 0
    first_seen: float | None = None  # when the oldest buffered record arrived (caller's clock)
    last_append: float | None = None  # when a record was last added
    # A cut recorded by an earlier owner that must be repeated exactly: the last offset.
    forced_end: int | None = None
    last_cut_size: int = 0  # the size of the batch `cut` returned last
    # Where the buffered run was read from: the offset the consumer was sought to, or just
    # past the last cut. The log holds no record between it and the first buffered one
    # (continuity.py). None after `clear`: where the consumer reads now is not known, so
    # nothing is buffered until `reset` says where it was sought to.
    origin: int | None = 0
    last_cut_from: int = 0  # the origin of the batch `cut` returned last
    skip_seen: float | None = None  # since when `skipped_end` has seen a quiet skipped run

    def append(self, record: Record, now: float) -> None:
        self.extend([record], now)

    def extend(self, records: Sequence[Record], now: float, floor: int = 0) -> None:
        """Add a fetched run of records (in offset order); ones below `floor` or already
        buffered (re-delivered after a seek) are dropped, and all of them while the
        origin is unknown (cleared, not yet sought)."""
        if self.origin is None:
            return
        floor = max(floor, self.origin)
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
        """Why this buffer should be cut now, or None. `high_water` is the offset the
        partition can be read up to (its high-water mark, or its last stable offset when
        reading committed) and `position` the consumer's: when everything below it is
        buffered, or was skipped by the fetch (transaction markers, aborted batches), the
        partition is caught up."""
        if self.forced_end is not None:
            reached = bool(self.records) and (
                self.records[-1].offset >= self.forced_end
                or (position is not None and position > self.forced_end)  # the rest was skipped
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
        read_to = max(self.records[-1].offset + 1, position or 0)
        caught_up = high_water is not None and read_to >= high_water
        if caught_up and (
            self.size >= rules.caught_up_bytes
            or (self.last_append is not None and now - self.last_append >= rules.idle_flush_s)
        ):
            return CutReason.CAUGHT_UP
        return None

    def skipped_end(
        self, rules: CutRules, now: float, position: int | None, high_water: int | None
    ) -> int | None:
        """The last offset of a run the fetch moved past after the last cut without a
        record (transaction markers, an aborted transaction), once the partition is read
        to its end and has stayed so for `idle_flush_s`: the checkpoint may follow it with
        nothing to write, so a partition ending in markers shows no lag. Else None."""
        origin = self.origin
        if (
            self.records
            or self.forced_end is not None
            or origin is None
            or position is None
            or high_water is None
            or not origin < position >= high_water
        ):
            self.skip_seen = None
            return None
        if self.skip_seen is None:
            self.skip_seen = now
        return position - 1 if now - self.skip_seen >= rules.idle_flush_s else None

    def cut(self, rules: CutRules) -> list[Record]:
        """Take the next batch: up to the forced end, else up to the count and byte limits."""
        forced = self.forced_end
        if forced is not None:
            end = forced
            count = 0
            while count < len(self.records) and self.records[count].offset <= end:
                count += 1
            self.forced_end = None
            size = records_size(self.records[:count])
        elif len(self.records) <= rules.max_records and self.size < rules.max_bytes:
            count, size = len(self.records), self.size  # all of it (a cut by age or caught up)
        else:
            # Up to max_records, and up to and including the record that reaches max_bytes.
            # Size a prefix first, by the buffer's average record size and some margin: the
            # buffer is often larger than a batch, and sizing every record is not free.
            head = self.records[: rules.max_records]
            guess = int(rules.max_bytes * 1.25 * len(self.records) / max(self.size, 1)) + 1
            running = np.cumsum(record_sizes(head[:guess]))
            if guess < len(head) and (not len(running) or running[-1] < rules.max_bytes):
                running = np.cumsum(record_sizes(head))
            count = min(int(np.searchsorted(running, rules.max_bytes)) + 1, len(running))
            size = int(running[count - 1]) if count else 0
        self.last_cut_size = size
        batch = self.records[:count]
        self.records = self.records[count:]
        self.last_cut_from = self.origin if self.origin is not None else batch[0].offset
        self.origin = (forced if forced is not None else batch[-1].offset) + 1
        self.size -= size
        self.first_seen = self.first_seen if self.records else None
        return batch

    def skipped_to(self, position: int) -> None:
        """The fetch has moved past the last cut to `position` without records in between
        (transaction markers, aborted batches): the next run is read from there."""
        if not self.records and self.origin is not None:
            self.origin = max(self.origin, position)
        self.skip_seen = None

    def clear(self) -> None:
        """Drop everything buffered; the origin becomes unknown until `reset`."""
        self.records.clear()
        self.size = 0
        self.first_seen = None
        self.last_append = None
        self.forced_end = None
        self.origin = None
        self.skip_seen = None

    def reset(self, origin: int, forced_end: int | None = None) -> None:
        """Empty, with the consumer just sought to `origin` (and a cut to repeat, if any)."""
        self.clear()
        self.origin = origin
        self.forced_end = forced_end
