"""Per-partition buffers and the rules that cut them into batches.

Pure: no I/O, no clocks of its own (the caller passes `now`). A batch is a contiguous
run of offsets of one partition. Cuts by count and bytes are functions of the records;
a cut by age (an idle partition) or by memory pressure is not, which is why the
committer records every cut in the checkpoint before writing it (see commit.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class RawRecord:
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None

    @property
    def size(self) -> int:
        return len(self.value or b"") + len(self.key or b"") + 64


class CutReason(StrEnum):
    RECORDS = "records"
    BYTES = "bytes"
    AGE = "age"
    REPLAY = "replay"  # repeating a cut recorded before a crash
    PRESSURE = "pressure"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class CutRules:
    max_records: int = 200_000
    max_bytes: int = 32 * 1024 * 1024
    max_age_s: float = 60.0


@dataclass(slots=True)
class PartitionBuffer:
    """Records of one partition not yet handed to the committer, in offset order."""

    records: list[RawRecord] = field(default_factory=list)
    size: int = 0
    first_seen: float | None = None  # when the oldest buffered record arrived (caller's clock)
    # A cut recorded by an earlier owner that must be repeated exactly: the last offset.
    forced_end: int | None = None

    def append(self, record: RawRecord, now: float) -> None:
        if self.records and record.offset <= self.records[-1].offset:
            return  # a re-delivered record after a seek; already buffered
        if not self.records:
            self.first_seen = now
        self.records.append(record)
        self.size += record.size

    def due(self, rules: CutRules, now: float, position: int | None = None) -> CutReason | None:
        """Why this buffer should be cut now, or None."""
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
        return None

    def cut(self, rules: CutRules) -> list[RawRecord]:
        """Take the next batch: up to the forced end, else up to the count and byte limits."""
        if self.forced_end is not None:
            end = self.forced_end
            count = 0
            while count < len(self.records) and self.records[count].offset <= end:
                count += 1
            self.forced_end = None
        else:
            count, size = 0, 0
            while count < len(self.records) and count < rules.max_records:
                size += self.records[count].size
                count += 1
                if size >= rules.max_bytes:
                    break
        batch = self.records[:count]
        self.records = self.records[count:]
        self.size -= sum(r.size for r in batch)
        self.first_seen = self.first_seen if self.records else None
        return batch

    def clear(self) -> None:
        self.records.clear()
        self.size = 0
        self.first_seen = None
        self.forced_end = None
