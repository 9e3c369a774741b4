"""The sink's lean fetch path on hand-built record batches: the same records and
positions as aiokafka's own path, and a corrupted batch refused before any record."""

from __future__ import annotations

import struct
from typing import Any

import google_crc32c
import pytest
from aiokafka import errors
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import TopicPartition

from keystone_nexus.kafka import fetch

TP = TopicPartition("olist.orders.v1", 0)
PER_BATCH = 25


def _batches(count: int, *, first_offset: int = 0) -> bytes:
    out = bytearray()
    for b in range(count):
        builder = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=0,
            is_transactional=0,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=1 << 20,
        )
        for i in range(PER_BATCH):
            n = b * PER_BATCH + i
            key = None if n % 7 == 3 else f"k{n}".encode()
            value = None if n % 11 == 5 else f'{{"n": {n}}}'.encode()
            builder.append(
                i,
                timestamp=1_700_000_000_000 + n,
                key=key,
                value=value,
                headers=[("event_id", f"e{n}".encode())],
            )
        batch = bytearray(builder.build())
        struct.pack_into(">q", batch, 0, first_offset + b * PER_BATCH)
        out += batch
    return bytes(out)


def _records(
    data: bytes,
    *,
    fetch_offset: int = 0,
    check_crcs: bool = True,
    raw: bool = True,
    committed: bool = False,
    aborted: list[tuple[int, int]] | None = None,
) -> Any:
    return fetcher.PartitionRecords(
        TP,
        fetcher.MemoryRecords(data),
        aborted or [],
        fetch_offset,
        None,
        fetch.RAW_RECORDS if raw else None,
        check_crcs,
        fetcher.READ_COMMITTED if committed else fetcher.READ_UNCOMMITTED,
    )


def _transactional(producer_id: int, base_offset: int, count: int) -> bytes:
    """A batch of `count` records of an open transaction of `producer_id`."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=1,
        producer_id=producer_id,
        producer_epoch=0,
        base_sequence=base_offset,
        batch_size=1 << 20,
    )
    for i in range(count):
        builder.append(
            i,
            timestamp=1_700_000_000_000 + i,
            key=None,
            value=f"p{producer_id}-{base_offset + i}".encode(),
            headers=[],
        )
    batch = bytearray(builder.build())
    struct.pack_into(">q", batch, 0, base_offset)
    return bytes(batch)


def _marker(producer_id: int, offset: int, *, abort: bool) -> bytes:
    """The control batch that ends `producer_id`'s transaction (commit or abort)."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=1,
        producer_id=producer_id,
        producer_epoch=0,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    builder.append(
        0,
        timestamp=1_700_000_000_000,
        key=struct.pack(">hh", 0, 0 if abort else 1),
        value=b"\0" * 6,
        headers=[],
    )
    batch = bytearray(builder.build())
    struct.pack_into(">q", batch, 0, offset)
    batch[22] |= 0x20  # the control bit of the attributes
    struct.pack_into(">I", batch, 17, google_crc32c.value(bytes(batch[21:])))
    return bytes(batch)


# Two producers interleaved: 1 commits 0-4 (its marker at 36), 2 aborts 5-9 (35), a plain
# batch 10-34, then 1 aborts 37-39 (43) and 2 commits 40-42 (44).
MIXED = b"".join(
    [
        _transactional(1, 0, 5),
        _transactional(2, 5, 5),
        _batches(1, first_offset=10),
        _marker(2, 35, abort=True),
        _marker(1, 36, abort=False),
        _transactional(1, 37, 3),
        _transactional(2, 40, 3),
        _marker(1, 43, abort=True),
        _marker(2, 44, abort=False),
    ]
)
MIXED_COMMITTED = [*range(0, 5), *range(10, 35), *range(40, 43)]
MIXED_ABORTED = [(2, 5), (1, 37)]  # what Kafka sends: (producer id, first offset)


def _fields(record: Any) -> tuple[Any, ...]:
    return (record.offset, record.timestamp, record.key, record.value, tuple(record.headers))


@pytest.fixture(scope="module", autouse=True)
def hooked() -> None:
    assert fetch.install()


def test_lean_path_gives_what_aiokafka_gives() -> None:
    data = _batches(4, first_offset=100)
    lean = _records(data)
    plain = _records(data, raw=False)
    assert isinstance(lean._records, fetch._FetchedRecords)
    got = list(lean)
    assert [_fields(r) for r in got] == [_fields(r) for r in plain]
    assert [r.offset for r in got] == list(range(100, 200))
    assert lean.next_fetch_offset == plain.next_fetch_offset == 200


def test_records_before_the_fetched_offset_are_skipped_and_positions_follow_each_record() -> None:
    records = _records(_batches(3), fetch_offset=10)
    first = next(records)
    assert first.offset == 10
    assert records.next_fetch_offset == 11  # a getmany cut here resumes at 11, not at the batch end
    rest = list(records)
    assert [r.offset for r in rest] == list(range(11, 3 * PER_BATCH))
    assert records.next_fetch_offset == 3 * PER_BATCH


@pytest.mark.parametrize("where", ["value", "attributes", "last byte"])
def test_a_corrupted_batch_raises_before_any_of_its_records(where: str) -> None:
    data = bytearray(_batches(3))
    second = 12 + struct.unpack_from(">i", data, 8)[0]  # where the second batch starts
    end = second + 12 + struct.unpack_from(">i", data, second + 8)[0]
    at = {"value": (second + end) // 2, "attributes": second + 21, "last byte": end - 1}[where]
    data[at] ^= 0x40
    records = _records(bytes(data))
    got = []
    with pytest.raises(errors.CorruptRecordException, match="Invalid CRC"):
        for record in records:
            got.append(record.offset)
    assert got == list(range(PER_BATCH))  # the first batch, intact, and nothing of the second


def test_without_crc_checks_nothing_is_verified() -> None:
    data = bytearray(_batches(1))
    data[-1] ^= 0x01
    assert len(list(_records(bytes(data), check_crcs=False))) == PER_BATCH


def test_other_consumers_keep_aiokafkas_path() -> None:
    plain = _records(_batches(1), raw=False)
    record = next(plain)
    assert type(record).__name__ == "ConsumerRecord"


def test_read_committed_drops_what_aiokafka_drops_by_the_brokers_aborted_list() -> None:
    lean = _records(MIXED, committed=True, aborted=MIXED_ABORTED)
    plain = _records(MIXED, committed=True, aborted=MIXED_ABORTED, raw=False)
    got = list(lean)
    assert [_fields(r) for r in got] == [_fields(r) for r in plain]
    assert [r.offset for r in got] == MIXED_COMMITTED
    assert lean.next_fetch_offset == plain.next_fetch_offset == 45  # past the last marker


def test_read_committed_reads_the_markers_when_the_broker_sends_no_aborted_list() -> None:
    """Tansu sends the aborted list empty: aiokafka then returns the aborted records."""
    lean = _records(MIXED, committed=True)
    assert [r.offset for r in lean] == MIXED_COMMITTED
    assert lean.next_fetch_offset == 45
    plain = [r.offset for r in _records(MIXED, committed=True, raw=False)]
    assert plain == [*range(0, 35), *range(37, 43)]


def test_read_uncommitted_still_returns_aborted_transactions() -> None:
    lean = [_fields(r) for r in _records(MIXED)]
    assert lean == [_fields(r) for r in _records(MIXED, raw=False)]
    assert [f[0] for f in lean] == [*range(0, 35), *range(37, 43)]


def test_a_transaction_whose_marker_is_past_the_response_is_fetched_again() -> None:
    data = _transactional(1, 0, 5) + _marker(1, 5, abort=False) + _transactional(2, 6, 5)
    first = _records(data, committed=True)
    assert [r.offset for r in first] == list(range(5))
    assert first.next_fetch_offset == 6  # the next fetch starts at the undecided batch
    # Still undecided at the start of a response: the broker's (empty) aborted list is
    # trusted, as aiokafka trusts it, so a transaction larger than a fetch still moves on.
    again = _records(_transactional(2, 6, 5), fetch_offset=6, committed=True)
    assert [r.offset for r in again] == list(range(6, 11))
    assert again.next_fetch_offset == 11
    # Its abort marker in the response: dropped.
    decided = _records(_transactional(2, 6, 5) + _marker(2, 11, abort=True), fetch_offset=6, committed=True)
    assert list(decided) == [] and decided.next_fetch_offset == 12
