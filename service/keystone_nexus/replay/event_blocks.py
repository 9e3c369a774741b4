"""One dataset file as blocks of ready-to-send Events, for `replay --via`.

A block is a run of rows in file order, each as its serialized PublishRequest entry
(so a run of a block's events is a request body, `EventBlock.body`), with each row's
line (its event id is the replay's stable one, replay_event_id of entity, file and line,
as the direct replay to Kafka gives it) and its record, for reports. Rows that cannot be
read, or not made an event, come out as RowErrors before the block they would be in.

Two routes, the same events:

- A CSV the bulk reader reads (olist.bulk_reader): the typed columns are encoded
  `block_rows` at a time (contracts.proto_batch, event ids by contracts.events.
  replay_event_ids). The rows the per-row reader typed, and rows with a value protobuf
  refuses (beyond int32), are built one by one with record_event, as they always were:
  its bytes, or the rejection "not an event: ...".
- Anything else (a .jsonl file, a CSV the bulk reader leaves to the per-row reader): the
  per-row reader, and record_event for every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from keystone.olist.v1 import ingestion_pb2
from keystone_nexus.contracts.entities import EntitySpec, FieldType
from keystone_nexus.contracts.events import replay_event_id, replay_event_ids
from keystone_nexus.contracts.proto_batch import framed_events, request_body
from keystone_nexus.ingest.client import record_event
from keystone_nexus.olist.bulk_reader import CsvBlock, read_csv_block
from keystone_nexus.olist.reader import Record, Row, RowError, read

__all__ = ["EventBlock", "event_blocks"]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class EventBlock:
    """Rows of one file as Events: `events[i]` is row i's PublishRequest entry."""

    entity: EntitySpec
    file: str
    events: pa.BinaryArray
    lines: NDArray[np.int64]
    record_of: Callable[[int], Record]  # row i's record as the reader typed it

    def __len__(self) -> int:
        return len(self.events)

    def body(self, start: int, stop: int) -> bytes:
        """The PublishRequest of rows start..stop."""
        return request_body(self.events, start, stop)


def event_blocks(
    path: Path,
    entity: EntitySpec,
    fmt: Literal["csv", "jsonl"],
    *,
    source: str,
    limit: int | None = None,
    block_rows: int = 100_000,
) -> Iterator[EventBlock | RowError]:
    """The rows of `path` (the first `limit`) as EventBlocks of up to `block_rows` rows."""
    block = read_csv_block(path, entity, limit) if fmt == "csv" else None
    if block is None:
        yield from _row_by_row(path, entity, fmt, source, limit, block_rows)
        return
    refused = _refused(entity, block.typed)
    for start in range(0, block.num_rows, block_rows):
        yield from _encoded(entity, block, refused, start, min(start + block_rows, block.num_rows), source)


def _refused(entity: EntitySpec, typed: pa.Table) -> NDArray[np.bool_]:
    """Rows with a value protobuf refuses: an integer beyond int32 (every field is int32)."""
    refused = np.zeros(typed.num_rows, dtype=np.bool_)
    for spec in entity.fields:
        if spec.type is FieldType.INTEGER:
            column = typed.column(spec.name)
            beyond = pc.or_(pc.less(column, INT32_MIN), pc.greater(column, INT32_MAX))
            refused |= np.asarray(pc.fill_null(beyond, False), dtype=np.bool_)
    return refused


def _encoded(
    entity: EntitySpec, block: CsvBlock, refused: NDArray[np.bool_], start: int, stop: int, source: str
) -> Iterator[EventBlock | RowError]:
    one_by_one = refused[start:stop].copy()
    for index in [*block.slow, *block.errors]:
        if start <= index < stop:
            one_by_one[index - start] = True
    lines = block.lines[start:stop]
    typed = block.typed.slice(start, stop - start)
    if not one_by_one.any():
        events = framed_events(entity, typed, replay_event_ids(entity, block.file, lines), source)
        yield EventBlock(entity, block.file, events, lines, lambda i: block.record(start + i))
        return
    fast = ~one_by_one
    fast_events = framed_events(
        entity, typed.filter(pa.array(fast)), replay_event_ids(entity, block.file, lines[fast]), source
    )
    kept = np.flatnonzero(fast)  # row offsets, in file order, of the events sent
    slow_rows: list[int] = []
    slow_events: list[bytes] = []
    for offset in np.flatnonzero(one_by_one).tolist():
        index = start + offset
        if index in block.errors:
            yield block.errors[index]
            continue
        built = _event_bytes(entity, block.file, int(lines[offset]), block.record(index), source)
        if isinstance(built, RowError):
            yield built
            continue
        slow_rows.append(offset)
        slow_events.append(built)
    order = np.concatenate([kept, np.array(slow_rows, dtype=np.int64)])
    permutation = np.argsort(order, kind="stable")
    events = pc.take(pa.concat_arrays([fast_events, pa.array(slow_events, pa.binary())]), permutation)
    rows = order[permutation]
    if len(rows):
        yield EventBlock(
            entity, block.file, events, lines[rows], lambda i: block.record(start + int(rows[i]))
        )


def _event_bytes(entity: EntitySpec, file: str, line: int, record: Record, source: str) -> bytes | RowError:
    """One row's PublishRequest entry built by protobuf, or why it is not an event."""
    try:
        event = record_event(entity, record, event_id=replay_event_id(entity, file, line), source=source)
    except (TypeError, ValueError) as exc:
        return RowError(file, line, f"not an event: {exc}", orjson.dumps(record).decode())
    entry: bytes = ingestion_pb2.PublishRequest(events=[event]).SerializeToString()
    return entry


def _row_by_row(
    path: Path,
    entity: EntitySpec,
    fmt: Literal["csv", "jsonl"],
    source: str,
    limit: int | None,
    block_rows: int,
) -> Iterator[EventBlock | RowError]:
    items = read(path, entity, fmt, validate=False)
    if limit is not None:
        items = islice(items, limit)
    rows: list[Row] = []
    events: list[bytes] = []
    for item in items:
        if isinstance(item, RowError):
            yield item
            continue
        built = _event_bytes(entity, path.name, item.line, item.record, source)
        if isinstance(built, RowError):
            yield built
            continue
        rows.append(item)
        events.append(built)
        if len(rows) >= block_rows:
            yield _listed(entity, path.name, rows, events)
            rows, events = [], []
    if rows:
        yield _listed(entity, path.name, rows, events)


def _listed(entity: EntitySpec, file: str, rows: Sequence[Row], events: list[bytes]) -> EventBlock:
    lines = np.array([r.line for r in rows], dtype=np.int64)
    records = [r.record for r in rows]
    return EventBlock(entity, file, pa.array(events, pa.binary()), lines, records.__getitem__)
