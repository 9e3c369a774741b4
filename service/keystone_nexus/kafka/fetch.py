"""Lean fetched records: the sink's consumer gets aiokafka's parsed records as they are.

aiokafka parses each record of a fetched batch (in C) and then wraps it in a
`ConsumerRecord`: eleven fields set in Python, the headers copied into a tuple, the
key and value sizes measured. The sink reads four of those fields (offset, timestamp,
key, value; the parsed record has them, and its headers), and that wrapping alone cost
about a seventh of the sink's CPU on the consume loop, the part that cannot run on
another core.

The CRC check of each record batch was another quarter of aiokafka's parsing time: its
CRC-32C is a byte-wise table loop (about 400 MB/s here). For the sink's consumer the
check runs through google-crc32c (hardware CRC instructions, GB/s) over the same bytes
instead, and a batch whose CRC does not match still raises `CorruptRecordException`
before any of its records is returned.

Both isolation levels take the lean path. Under read_committed it drops what aiokafka
drops: the batches of aborted transactions (by the fetch response's aborted list, and by
the transaction markers where a broker leaves that list empty) and the markers
themselves; the consumer's position still passes them, so a checkpoint can too.

A consumer opts in by passing `RAW_RECORDS` as its value deserializer; any other
consumer in the process gets `ConsumerRecord`s and aiokafka's own checks as before.
The hooks replace aiokafka's `PartitionRecords._consumer_record` and
`PartitionRecords._unpack_records` and wrap the `MemoryRecords` its fetcher builds (all
private, stable since aiokafka 0.8); if a release changes them, `install()` leaves
aiokafka alone and the sink falls back to ConsumerRecords, which it reads the same way.
tests/integration/test_sink_fetch.py pins the behaviour.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import google_crc32c
from aiokafka import errors
from aiokafka.consumer import fetcher
from aiokafka.record.control_record import ABORT_MARKER, ControlRecord
from aiokafka.record.memory_records import MemoryRecords

__all__ = ["RAW_RECORDS", "install", "position"]


class _RawRecords:
    """The marker deserializer: values pass unchanged (and, hooked, records too)."""

    def __call__(self, value: bytes | None) -> bytes | None:
        return value

    def __repr__(self) -> str:
        return "RAW_RECORDS"


RAW_RECORDS = _RawRecords()
_HOOKED = "_keystone_lean"

# Kafka's batch framing (every message format): base offset (8 bytes), then the length
# of the rest (4 bytes). In format v2 the CRC-32C covers everything from the attributes
# (byte 21) to the end of the batch.
_LENGTH_AT = 8
_FRAMING = 12
_CRC_FROM = 21
_MAGIC_AT = 16


class _FetchedRecords:
    """aiokafka's `MemoryRecords` with the bytes it was parsed from kept at hand."""

    __slots__ = ("_records", "data")

    def __init__(self, data: bytes, records: Any) -> None:
        self.data = data
        self._records = records

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        return self._records.next_batch()

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())


def _lean_records(self: Any) -> Iterator[Any]:
    """aiokafka's `_unpack_records` for a RAW_RECORDS consumer: the same records and
    positions, with the hardware CRC check, and under read_committed the same filtering
    of aborted transactions (its own `_consume_aborted_up_to` and `_contains_abort_marker`
    over the fetch response's aborted list), plus `_TransactionOutcomes` for a broker that
    leaves that list empty."""
    tp = self._tp
    records: _FetchedRecords = self._records
    data = records.data
    check_crcs = self._check_crcs
    committed_only = self._isolation_level == fetcher.READ_COMMITTED
    outcomes: _TransactionOutcomes | None = None
    start = 0
    while records.has_next():
        batch = records.next_batch()
        batch_start = start
        end = start + _FRAMING + int.from_bytes(data[start + _LENGTH_AT : start + _FRAMING], "big")
        if check_crcs:
            if data[start + _MAGIC_AT] >= 2:
                intact = google_crc32c.value(data[start + _CRC_FROM : end]) == batch.crc
            else:  # message formats 0 and 1 (CRC-32 per message): aiokafka's own check
                intact = batch.validate_crc()
            if not intact:
                raise errors.CorruptRecordException(f"Invalid CRC - {tp}")
        start = end
        if committed_only and batch.producer_id is not None:
            self._consume_aborted_up_to(batch.base_offset)
            if batch.is_control_batch and self._contains_abort_marker(batch):
                # discard, not remove: Kafka may send an abort marker for an empty partition
                self._aborted_producers.discard(batch.producer_id)
            aborted = batch.is_transactional and batch.producer_id in self._aborted_producers
            if batch.is_transactional and not batch.is_control_batch and not aborted:
                if outcomes is None:
                    outcomes = _TransactionOutcomes(data, batch_start)
                verdict = outcomes.aborted(batch.producer_id, batch.base_offset)
                if verdict is None and batch_start > 0:
                    # Its marker is past this response: fetch again from this batch, so that
                    # the next response holds as much of the transaction as it can.
                    return
                aborted = bool(verdict)
            if aborted:
                self.next_fetch_offset = max(self.next_fetch_offset, batch.next_offset)
                continue
        if batch.is_control_batch:
            self.next_fetch_offset = max(self.next_fetch_offset, batch.next_offset)
            continue
        for record in batch:
            offset = record.offset
            if offset < self.next_fetch_offset:
                continue  # the part of a batch before the fetched offset
            self.next_fetch_offset = offset + 1
            yield record
        # After the batch's last offset, which compaction may have removed (never back).
        self.next_fetch_offset = max(self.next_fetch_offset, batch.next_offset)


# Record batch v2 header fields, from the batch's start (Kafka's DefaultRecordBatch).
_ATTRIBUTES_AT = 21
_PRODUCER_ID_AT = 43
_CONTROL = 0x20


class _TransactionOutcomes:
    """How each transaction in a fetch response ended, read from its control markers.

    A read-committed fetch stops at the last stable offset, so every transaction in it
    has ended, and its producer's next marker says how: the first marker of the same
    producer after a batch commits or aborts it (a producer has one transaction open
    per partition at a time). Kafka also sends the aborted transactions as a list, which
    aiokafka's filtering reads; some brokers (Tansu) send that list empty, and then the
    markers are all there is. A transaction whose marker is past the response is
    undecided (None): the caller fetches again from it, and trusts the broker's list
    when it is still undecided at the start of a response (as aiokafka does).
    """

    def __init__(self, data: bytes, start: int) -> None:
        self._markers: dict[int, list[tuple[int, bool]]] = {}
        while start + _FRAMING <= len(data):
            end = start + _FRAMING + int.from_bytes(data[start + _LENGTH_AT : start + _FRAMING], "big")
            if end > len(data):
                break  # a partial batch at the end of the response
            if data[start + _MAGIC_AT] >= 2 and data[start + _ATTRIBUTES_AT + 1] & _CONTROL:
                producer = int.from_bytes(data[start + _PRODUCER_ID_AT : start + _PRODUCER_ID_AT + 8], "big")
                marker = MemoryRecords(data[start:end]).next_batch()
                abort = ControlRecord.parse(next(marker).key) == ABORT_MARKER
                self._markers.setdefault(producer, []).append((marker.base_offset, abort))
            start = end

    def aborted(self, producer_id: int, offset: int) -> bool | None:
        """Whether the transaction of `producer_id`'s batch at `offset` aborted; None if
        its marker is not in the response."""
        for marker_offset, abort in self._markers.get(producer_id, ()):
            if marker_offset > offset:
                return abort
        return None


def install() -> bool:
    """Hook aiokafka once per process; True when consumers using RAW_RECORDS get lean records."""
    records_class: Any = fetcher.PartitionRecords
    original = getattr(records_class, "_consumer_record", None)
    original_unpack = getattr(records_class, "_unpack_records", None)
    memory_records = getattr(fetcher, "MemoryRecords", None)
    if original is None or original_unpack is None or memory_records is None:
        return False
    if getattr(original, _HOOKED, False):
        return True
    if list(inspect.signature(original).parameters) != ["self", "tp", "record"]:
        return False
    if list(inspect.signature(original_unpack).parameters) != ["self"]:
        return False
    for helper in ("_consume_aborted_up_to", "_contains_abort_marker"):  # read_committed's filter
        if not callable(getattr(records_class, helper, None)):
            return False

    def consumer_record(self: Any, tp: Any, record: Any) -> Any:
        if self._value_deserializer is RAW_RECORDS:
            return record
        return original(self, tp, record)

    def unpack_records(self: Any) -> Iterator[Any]:
        lean = self._value_deserializer is RAW_RECORDS and isinstance(self._records, _FetchedRecords)
        return _lean_records(self) if lean else original_unpack(self)

    def fetched_records(data: Any) -> Any:
        parsed = memory_records(data)
        return _FetchedRecords(data, parsed) if isinstance(data, bytes) else parsed

    setattr(consumer_record, _HOOKED, True)
    records_class._consumer_record = consumer_record
    records_class._unpack_records = unpack_records
    fetcher.MemoryRecords = fetched_records
    return True


def position(consumer: Any, tp: Any) -> int | None:
    """`consumer`'s fetch position in `tp` now, or None when it has none (unassigned,
    awaiting an offset reset). aiokafka's `position()` is a coroutine that waits for one;
    the consume loop's cut decisions read it as `highwater()` is read, without waiting.
    The position passes what the fetch skipped (transaction markers, aborted batches)."""
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)
    except AttributeError:  # no subscription yet, or a release that moved the state
        return None
    if state is None or not state.has_valid_position:
        return None
    return int(state.position)
