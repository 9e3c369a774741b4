"""The sink's lean fetch path on hand-built record batches: the same records and
positions as aiokafka's own path, and a corrupted batch refused before any record."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from aiokafka import errors
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import TopicPartition

from keystone_nexus.sink import fetch

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


def _records(data: bytes, *, fetch_offset: int = 0, check_crcs: bool = True, raw: bool = True) -> Any:
    return fetcher.PartitionRecords(
        TP,
        fetcher.MemoryRecords(data),
        [],
        fetch_offset,
        None,
        fetch.RAW_RECORDS if raw else None,
        check_crcs,
        fetcher.READ_UNCOMMITTED,
    )


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
