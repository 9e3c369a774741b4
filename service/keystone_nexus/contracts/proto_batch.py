"""Olist rows as protobuf Event bytes, a column at a time.

`framed_events` turns a typed table of one entity (olist.bulk_reader's columns) into, per
row, the bytes of one `events` entry of a PublishRequest (ingestion.proto): field 1's
tag, the Event's length, the Event -- byte for byte what
`PublishRequest(events=[record_event(...)]).SerializeToString()` writes for that row, as
tests/unit/contracts/test_proto_batch.py checks for every entity. A run of them, back to
back, is a PublishRequest (`request_body`). No message object is made: building and
serializing one costs ~15 µs a row in Python, this ~1 µs.

The wire format (protobuf's encoding guide), as protobuf writes it here: fields in number
order; a string is tag, varint byte length, UTF-8; a double tag and 8 little-endian
bytes; an int32 tag and the varint of its 64-bit two's complement (10 bytes when
negative); an enum as an int. A null value is not written, nor -- for a field without
`optional` (proto3's implicit presence) -- a default one ("", 0, a double whose bits are
all zero, so -0.0 is written). Each field becomes a column of its encoded bytes (numpy
builds the fixed-size heads, pyarrow joins them per row); the Event around the payload
is its id, the source, the entity enum and the payload as a length-delimited field.

Values protobuf would refuse (an int32 out of range) are the caller's to keep out:
olist.bulk_reader marks them suspect, and suspects go through record_event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.descriptor import FieldDescriptor
from numpy.typing import NDArray

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts.entities import EntitySpec

__all__ = ["framed_events", "request_body"]

_LENGTH_DELIMITED, _VARINT, _FIXED64 = 2, 0, 1
_WIRE_TYPES = {
    FieldDescriptor.TYPE_STRING: _LENGTH_DELIMITED,
    FieldDescriptor.TYPE_DOUBLE: _FIXED64,
    FieldDescriptor.TYPE_INT32: _VARINT,
    FieldDescriptor.TYPE_INT64: _VARINT,
}
_EVENTS_FIELD = 1  # PublishRequest.events
_EVENT = olist_pb2.Event.DESCRIPTOR.fields_by_name


@dataclass(frozen=True)
class _Field:
    name: str
    tag: bytes
    wire_type: int
    implicit: bool  # proto3 implicit presence: a default value is not written


@cache
def _fields(entity: EntitySpec) -> tuple[_Field, ...]:
    descriptor = entity.message_class().DESCRIPTOR
    fields: list[Any] = list(descriptor.fields)
    out = []
    for fd in sorted(fields, key=lambda f: f.number):
        if fd.type not in _WIRE_TYPES:
            raise TypeError(f"{fd.full_name}: no column encoding for proto type {fd.type}")
        wire_type = _WIRE_TYPES[fd.type]
        out.append(_Field(fd.name, _varint((fd.number << 3) | wire_type), wire_type, not fd.has_presence))
    return tuple(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def framed_events(
    entity: EntitySpec, typed: pa.Table, event_ids: NDArray[np.uint8], source: str
) -> pa.BinaryArray:
    """Per row of `typed` (the entity's columns), the PublishRequest entry of its Event.

    `event_ids` is (rows, n) ASCII bytes (contracts.events.replay_event_ids).
    """
    rows = typed.num_rows
    if len(event_ids) != rows:
        raise ValueError(f"{len(event_ids)} event ids for {rows} rows")
    payload: list[_Segment] = []
    for f in _fields(entity):
        payload += _encoded(f, typed.column(f.name).combine_chunks())
    payload_length = sum((_sizes(s, rows) for s in payload), np.zeros(rows, dtype=np.int64))
    envelope = _Cells(_envelope(entity, event_ids, source))
    payload_tag = _varint((_EVENT[entity.payload_field].number << 3) | _LENGTH_DELIMITED)
    payload_head = _heads(payload_tag, payload_length.astype(np.uint64))
    event_length = envelope.cells.shape[1] + _sizes(payload_head, rows) + payload_length
    frame_tag = _varint((_EVENTS_FIELD << 3) | _LENGTH_DELIMITED)
    frame_head = _heads(frame_tag, event_length.astype(np.uint64))
    return _assemble([frame_head, envelope, payload_head, *payload], rows)


def request_body(framed: pa.BinaryArray, start: int, stop: int) -> bytes:
    """The PublishRequest of events start..stop of `framed` (its entries back to back)."""
    offsets = np.frombuffer(
        framed.buffers()[1], dtype=np.int32, count=len(framed) + 1, offset=framed.offset * 4
    )
    data = framed.buffers()[2]
    body: bytes = data[int(offsets[start]) : int(offsets[stop])].to_pybytes()
    return body


@dataclass(frozen=True)
class _Cells:
    """Bytes of one width per row, of which row i writes its first `size[i]` (None: all)."""

    cells: NDArray[np.uint8]  # (rows, width)
    size: NDArray[np.int64] | None = None


# A run of each row's bytes: fixed-width cells (numpy), or variable-length (pyarrow).
_Segment: TypeAlias = "_Cells | pa.Array"


def _sizes(segment: _Segment, rows: int) -> NDArray[np.int64]:
    if isinstance(segment, _Cells):
        if segment.size is None:
            return np.full(rows, segment.cells.shape[1], dtype=np.int64)
        return segment.size
    lengths: NDArray[np.int64] = np.asarray(pc.binary_length(segment), dtype=np.int64)
    return lengths


def _assemble(segments: Sequence[_Segment], rows: int) -> pa.Array:
    """Each row's segments back to back. Neighbouring cells are stacked into one matrix
    first, so pyarrow joins only around the variable-length strings."""
    pieces: list[pa.Array] = []
    run: list[_Cells] = []
    for segment in [*segments, None]:
        if isinstance(segment, _Cells):
            run.append(segment)
            continue
        if run:
            pieces.append(_binary(run, rows))
            run = []
        if segment is not None:
            pieces.append(segment)
    if len(pieces) == 1:
        return pieces[0]
    return pc.binary_join_element_wise(*pieces, b"")


def _binary(run: Sequence[_Cells], rows: int) -> pa.Array:
    """A binary array of the run's cells, each row's written bytes back to back."""
    cells = run[0].cells if len(run) == 1 else np.hstack([c.cells for c in run])
    if all(c.size is None for c in run):
        width = cells.shape[1]
        offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
        data = np.ascontiguousarray(cells)
    else:
        keep = np.hstack(
            [
                np.ones(c.cells.shape, dtype=np.bool_)
                if c.size is None
                else np.arange(c.cells.shape[1]) < c.size[:, None]
                for c in run
            ]
        )
        offsets = np.zeros(rows + 1, dtype=np.int32)
        np.cumsum(keep.sum(axis=1), out=offsets[1:])
        data = cells[keep]
    return pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _envelope(entity: EntitySpec, event_ids: NDArray[np.uint8], source: str) -> NDArray[np.uint8]:
    """Event fields 1 (event_id), 3 (source) and 4 (entity): (rows, n), alike in length."""
    rows, width = event_ids.shape
    id_head = _varint((_EVENT["event_id"].number << 3) | _LENGTH_DELIMITED) + _varint(width)
    tail = b""
    if source:
        raw = source.encode()
        tail += _varint((_EVENT["source"].number << 3) | _LENGTH_DELIMITED) + _varint(len(raw)) + raw
    tail += _varint((_EVENT["entity"].number << 3) | _VARINT) + _varint(entity.entity_enum)
    out = np.empty((rows, len(id_head) + width + len(tail)), dtype=np.uint8)
    out[:, : len(id_head)] = np.frombuffer(id_head, dtype=np.uint8)
    out[:, len(id_head) : len(id_head) + width] = event_ids
    out[:, len(id_head) + width :] = np.frombuffer(tail, dtype=np.uint8)
    return out


def _encoded(field: _Field, values: pa.Array) -> list[_Segment]:
    """The field's bytes for every row (nothing where it is not written)."""
    rows = len(values)
    present = np.asarray(values.is_valid(), dtype=np.bool_)
    if field.wire_type == _LENGTH_DELIMITED:
        raw = values.cast(pa.binary())
        length = np.asarray(pc.fill_null(pc.binary_length(raw), 0), dtype=np.int64)
        if field.implicit:
            present &= length > 0
        head = _heads(field.tag, length.astype(np.uint64), present)
        return [head, _strings(raw, length, rows)]
    tag = np.frombuffer(field.tag, dtype=np.uint8)
    if field.wire_type == _FIXED64:
        bits = np.asarray(pc.fill_null(values, 0.0), dtype=np.float64).view(np.uint64)
        if field.implicit:
            present &= bits != 0
        cells = np.empty((rows, len(tag) + 8), dtype=np.uint8)
        cells[:, : len(tag)] = tag
        cells[:, len(tag) :] = bits.astype("<u8").view(np.uint8).reshape(-1, 8)
        return [_Cells(cells, None if present.all() else np.where(present, cells.shape[1], 0))]
    number = np.asarray(pc.fill_null(values, 0), dtype=np.int64)
    if field.implicit:
        present &= number != 0
    return [_heads(field.tag, number.view(np.uint64), present)]


def _strings(raw: pa.Array, length: NDArray[np.int64], rows: int) -> _Segment:
    """A string column's bytes: as cells when every row has one of the same length (ids,
    timestamps, states), which then stack with their neighbours."""
    if rows and raw.null_count == 0 and length.min() == length.max():
        offsets = np.frombuffer(raw.buffers()[1], dtype=np.int32, count=rows + 1, offset=raw.offset * 4)
        first, width = int(offsets[0]), int(length[0])
        data = np.frombuffer(raw.buffers()[2], dtype=np.uint8, count=rows * width, offset=first)
        return _Cells(data.reshape(rows, width))
    filled: pa.Array = pc.fill_null(raw, b"")
    return filled


def _heads(prefix: bytes, value: NDArray[np.uint64], present: NDArray[np.bool_] | None = None) -> _Cells:
    """Per row `prefix` and the varint of `value` (nothing where not `present`)."""
    rows = len(value)
    top = int(value.max()) if rows else 0
    width = len(prefix) + max(1, (top.bit_length() + 6) // 7)
    cells = np.zeros((rows, width), dtype=np.uint8)
    cells[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    size = np.full(rows, len(prefix) + 1, dtype=np.int64)
    rest = value.copy()
    for k in range(width - len(prefix)):
        more = rest >= 0x80
        cells[:, len(prefix) + k] = (rest & 0x7F).astype(np.uint8) | (more.astype(np.uint8) << 7)
        size += more
        rest >>= np.uint64(7)
    if present is not None and not present.all():
        size = np.where(present, size, 0)
    return _Cells(cells, None if (size == width).all() else size)
