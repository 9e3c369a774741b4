"""Where a batch may start: exactly at the checkpoint's next offset, no overlap, no gap
the log does not have.

A batch's records are a contiguous read of the log from `read_from`: the consumer was
sought there (an assignment, a rewind) or the previous batch ended just before it. The
first record may lie above `read_from` only where the log itself has no records (offsets
removed by compaction, or taken by transaction markers and aborted records): a consumer
sought to `read_from` returns the first record at or after it. So the rule is:

* `read_from` must be the checkpoint's `next_offset`: else the records were read from
  somewhere else, and the offsets in between were never looked at (a gap) or are already
  in the lake (an overlap);
* the first record may not lie below `read_from` (below the checkpoint: an overlap).

A caller that does not say where it read from vouches for nothing: its first record must
be `next_offset` itself. Offsets are never inferred from the records alone: a buffer
refilled from a stale position looks exactly like a compacted log.
"""

from __future__ import annotations

from collections.abc import Sequence

from keystone_nexus.errors import NexusError
from keystone_nexus.sink.batcher import Record


class BatchStartError(NexusError):
    """A batch does not start where the partition's checkpoint says: committing it would
    write an offset twice or skip offsets that were never read. Nothing was written; the
    caller must read the partition again from the checkpoint (the daemon rewinds)."""


def check_start(next_offset: int, records: Sequence[Record], read_from: int | None) -> None:
    """Raise BatchStartError unless `records`, read from `read_from`, may be the next batch."""
    first = records[0].offset if records else None
    origin = read_from if read_from is not None else (first if first is not None else next_offset)
    if first is not None and first < next_offset:
        raise BatchStartError(
            f"batch starts at offset {first}, below the checkpoint's next offset {next_offset}: an overlap"
        )
    if first is not None and first < origin:
        raise BatchStartError(f"batch starts at offset {first}, below where it was read from ({origin})")
    if origin > next_offset:
        raise BatchStartError(
            f"batch was read from offset {origin}, not from the checkpoint's next offset "
            f"{next_offset}: offsets {next_offset}..{origin - 1} would be a gap never read"
        )
    if origin < next_offset:
        raise BatchStartError(
            f"batch was read from offset {origin}, below the checkpoint's next offset "
            f"{next_offset}: an overlap"
        )
