"""A checkpoint the log no longer covers: detected, never passed over silently.

Two ways a partition's checkpoint (`next_offset`) can fall outside its log:

* below the log start: retention (or DeleteRecords) removed records the sink never
  landed, e.g. after it was stopped for longer than the topic's retention;
* beyond the log end: the topic was deleted and re-created, and its offsets start again.

The consumer's own answer (`auto_offset_reset`) would move to the earliest record and
drop or re-use offsets without a word; the sink runs with `auto_offset_reset="none"`
and decides here instead. The log start comes from ListOffsets (`beginning_offsets`) at
assignment; the log end from the high-water mark of the first fetch response (the local
broker answers ListOffsets for the end with the base offset of the last record batch, so
that answer is not used), and from the broker's OFFSET_OUT_OF_RANGE error where it gives
one. The sink's setting `on_offset_out_of_range` chooses:

* `halt` (default): the partition stops (paused, shown in /status, /readyz fails) until
  an operator decides;
* `skip`: the gap is recorded in the lake, `_gaps/<topic>/<partition>/<first>-<last>.json`,
  then the checkpoint moves to the log start. Below the start, `first..last` are the
  offsets never landed. Beyond the end, they are the offsets the re-created log uses
  again (`log_start..next_offset-1`): the old topic's records after `next_offset`, if
  any, are unknowable, and the new records land under coordinates the old ones had.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from keystone_nexus.errors import PreconditionFailedError
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.sink.naming import gap_key


class Side(StrEnum):
    BELOW_START = "below-log-start"
    BEYOND_END = "beyond-log-end"


@dataclass(frozen=True, slots=True)
class OutOfRange:
    topic: str
    partition: int
    next_offset: int  # the checkpoint's
    log_start: int
    log_end: int | None  # the high-water mark, when known
    side: Side

    @property
    def gap(self) -> tuple[int, int]:
        """(first, last) offsets of the gap, inclusive (see the module docstring)."""
        if self.side is Side.BELOW_START:
            return self.next_offset, self.log_start - 1
        return self.log_start, self.next_offset - 1

    def doc(self) -> dict[str, Any]:
        first, last = self.gap
        return {
            "topic": self.topic,
            "partition": self.partition,
            "side": str(self.side),
            "checkpoint_next_offset": self.next_offset,
            "log_start": self.log_start,
            "log_end": self.log_end,
            "first": first,
            "last": last,
        }


def classify(next_offset: int, log_start: int | None, log_end: int | None) -> Side | None:
    """Where `next_offset` lies against the log, or None when the log covers it (a
    checkpoint at the log end itself is fine: nothing new yet)."""
    if log_start is not None and next_offset < log_start:
        return Side.BELOW_START
    if log_end is not None and next_offset > log_end:
        return Side.BEYOND_END
    return None


async def record_gap(store: ObjectStore, found: OutOfRange, owner: str) -> str:
    """Write the gap's object (once: a repeat after a crash finds it there) and return its key."""
    first, last = found.gap
    key = gap_key(found.topic, found.partition, first, last)
    doc = {**found.doc(), "owner": owner, "recorded_at": time.time()}
    with contextlib.suppress(PreconditionFailedError):  # recorded by an earlier try
        await store.put(key, orjson.dumps(doc), if_none_match=True)
    return key
