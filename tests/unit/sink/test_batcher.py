from hypothesis import given
from hypothesis import strategies as st

from keystone_nexus.sink.batcher import RECORD_OVERHEAD, CutReason, CutRules, PartitionBuffer, RawRecord


def _records(sizes: list[int], start: int = 0) -> list[RawRecord]:
    return [RawRecord(start + i, 1_700_000_000_000 + i, b"k", b"x" * n) for i, n in enumerate(sizes)]


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=300),
    max_records=st.integers(min_value=1, max_value=50),
    max_bytes=st.integers(min_value=64, max_value=5000),
)
def test_cuts_are_contiguous_bounded_and_deterministic(sizes, max_records, max_bytes) -> None:
    rules = CutRules(max_records=max_records, max_bytes=max_bytes, max_age_s=1e9)

    def cut_all() -> list[list[int]]:
        buffer = PartitionBuffer()
        for record in _records(sizes):
            buffer.append(record, now=0.0)
        batches = []
        while buffer.records:
            assert buffer.due(rules, 0.0) in (CutReason.RECORDS, CutReason.BYTES, None)
            batches.append([r.offset for r in buffer.cut(rules)])
        assert buffer.size == 0
        return batches

    first = cut_all()
    assert first == cut_all(), "the same records must cut into the same batches"
    flat = [o for batch in first for o in batch]
    assert flat == list(range(len(sizes)))
    for batch in first:
        assert 1 <= len(batch) <= max_records
        # a batch only exceeds the byte bound by its last record
        assert sum(sizes[o] + 1 + RECORD_OVERHEAD for o in batch[:-1]) < max_bytes


def test_due_by_count_bytes_and_age() -> None:
    rules = CutRules(max_records=3, max_bytes=10_000, max_age_s=5)
    buffer = PartitionBuffer()
    assert buffer.due(rules, 0) is None
    for record in _records([1, 1]):
        buffer.append(record, now=10.0)
    assert buffer.due(rules, 12.0) is None
    assert buffer.due(rules, 15.0) is CutReason.AGE
    buffer.append(_records([1], start=2)[0], now=11.0)
    assert buffer.due(rules, 11.0) is CutReason.RECORDS
    big = PartitionBuffer()
    big.append(RawRecord(0, 0, None, b"x" * 20_000), now=0)
    assert big.due(rules, 0) is CutReason.BYTES


def test_redelivered_records_are_ignored() -> None:
    buffer = PartitionBuffer()
    for record in _records([1, 1, 1]):
        buffer.append(record, now=0)
    buffer.append(_records([1], start=1)[0], now=0)
    assert [r.offset for r in buffer.records] == [0, 1, 2]


def test_a_recorded_cut_is_repeated_exactly() -> None:
    rules = CutRules(max_records=2, max_bytes=10_000, max_age_s=1)
    buffer = PartitionBuffer(forced_end=4)
    for record in _records([1, 1, 1], start=0):
        buffer.append(record, now=0)
    assert buffer.due(rules, 100.0) is None, "a recorded cut waits for its last offset, whatever the age"
    for record in _records([1, 1, 1], start=3):
        buffer.append(record, now=0)
    assert buffer.due(rules, 0) is CutReason.REPLAY
    assert [r.offset for r in buffer.cut(rules)] == [0, 1, 2, 3, 4]
    assert [r.offset for r in buffer.records] == [5]
    assert buffer.forced_end is None


def test_a_partition_read_to_its_end_is_flushed_when_it_goes_quiet() -> None:
    rules = CutRules(max_records=1000, max_bytes=10**9, max_age_s=60, idle_flush_s=2)
    buffer = PartitionBuffer()
    buffer.extend(_records([1, 1, 1]), now=10.0)
    assert buffer.due(rules, 11.0, high_water=3) is None, "not quiet for long enough yet"
    assert buffer.due(rules, 12.5, high_water=5) is None, "more to read: wait for it"
    assert buffer.due(rules, 12.5, high_water=3) is CutReason.CAUGHT_UP
    buffer.extend(_records([1], start=3), now=12.0)
    assert buffer.due(rules, 13.0, high_water=4) is None, "a new record restarts the quiet period"


def test_the_end_of_a_backlog_is_flushed_at_once_when_it_is_worth_a_file() -> None:
    rules = CutRules(
        max_records=1000, max_bytes=10**9, idle_flush_s=2, caught_up_bytes=3 * RECORD_OVERHEAD + 300
    )
    buffer = PartitionBuffer()
    buffer.extend(_records([100, 100]), now=10.0)
    assert buffer.due(rules, 10.0, high_water=2) is None, "caught up, but too little for a file: wait"
    buffer.extend(_records([100], start=2), now=10.0)
    assert buffer.due(rules, 10.0, high_water=4) is None, "not caught up: more to read"
    assert buffer.due(rules, 10.0, high_water=3) is CutReason.CAUGHT_UP


def test_a_cleared_buffer_takes_nothing_until_it_is_reset_where_the_consumer_was_sought() -> None:
    rules = CutRules(max_records=3, max_bytes=1 << 20, max_age_s=3600)
    buffer = PartitionBuffer(origin=10)
    buffer.extend([RawRecord(o, 0, None, b"x") for o in (8, 9, 10, 11, 13)], now=0.0)
    assert [r.offset for r in buffer.records] == [10, 11, 13], "below the origin: re-delivered"
    assert [r.offset for r in buffer.cut(rules)] == [10, 11, 13]
    assert (buffer.last_cut_from, buffer.origin) == (10, 14)
    buffer.clear()  # a failed batch: where the consumer reads now is unknown
    buffer.extend([RawRecord(o, 0, None, b"x") for o in (20, 21)], now=0.0)
    assert not buffer.records
    buffer.reset(14, forced_end=16)  # sought back to the checkpoint, a cut to repeat
    buffer.extend([RawRecord(o, 0, None, b"x") for o in (15, 16, 17)], now=0.0)
    assert [r.offset for r in buffer.cut(rules)] == [15, 16]
    assert (buffer.last_cut_from, buffer.origin) == (14, 17)


def test_a_partition_whose_end_is_transaction_markers_is_caught_up_by_the_position() -> None:
    """Records 0-2, then the commit marker at 3 (skipped by the fetch, position 4)."""
    rules = CutRules(max_records=1000, max_bytes=10**9, max_age_s=60, idle_flush_s=2)
    buffer = PartitionBuffer()
    buffer.extend(_records([1, 1, 1]), now=10.0)
    assert buffer.due(rules, 13.0, high_water=4) is None, "without the position, offset 3 looks unread"
    assert buffer.due(rules, 13.0, position=3, high_water=4) is None
    assert buffer.due(rules, 13.0, position=4, high_water=4) is CutReason.CAUGHT_UP


def test_a_recorded_cut_ending_on_skipped_offsets_is_repeated_once_the_position_passes_it() -> None:
    rules = CutRules(max_records=2, max_bytes=10_000, max_age_s=1)
    buffer = PartitionBuffer(forced_end=4)  # records 0-2, then markers or an aborted batch at 3-4
    assert buffer.due(rules, 0, position=5) is None, "nothing buffered yet (a seek back is pending)"
    for record in _records([1, 1, 1], start=0):
        buffer.append(record, now=0)
    assert buffer.due(rules, 0, position=3) is None
    assert buffer.due(rules, 0, position=5) is CutReason.REPLAY
    assert [r.offset for r in buffer.cut(rules)] == [0, 1, 2]
    assert buffer.forced_end is None


def test_a_cut_that_covers_skipped_offsets_reads_the_next_run_from_past_them() -> None:
    """Records 0-2, markers at 3-4: the cut ends at 4 (position 5), so the next batch is
    read from 5, where its checkpoint says it starts."""
    rules = CutRules(max_records=1000, max_bytes=10**9, max_age_s=60)
    buffer = PartitionBuffer()
    buffer.extend(_records([1, 1, 1]), now=0.0)
    assert [r.offset for r in buffer.cut(rules)] == [0, 1, 2]
    buffer.skipped_to(5)
    buffer.extend(_records([1, 1], start=5), now=1.0)
    assert [r.offset for r in buffer.cut(rules)] == [5, 6]
    assert buffer.last_cut_from == 5


def test_a_run_of_markers_after_the_last_cut_is_skipped_once_quiet() -> None:
    """Nothing buffered, the fetch past the last cut (an aborted transaction, markers) and
    read to the end for `idle_flush_s`: the checkpoint may follow the fetch position."""
    rules = CutRules(idle_flush_s=2.0)
    buffer = PartitionBuffer()
    buffer.extend(_records([5] * 10), now=0.0)
    buffer.cut(rules)  # offsets 0..9; the origin is 10
    assert buffer.skipped_end(rules, 1.0, position=10, high_water=10) is None, "nothing skipped"
    assert buffer.skipped_end(rules, 1.0, position=22, high_water=30) is None, "not read to the end"
    assert buffer.skipped_end(rules, 2.0, position=22, high_water=22) is None, "not quiet for long yet"
    assert buffer.skipped_end(rules, 4.0, position=22, high_water=22) == 21
    buffer.skipped_to(22)
    assert buffer.skipped_end(rules, 9.0, position=22, high_water=22) is None, "once"
    buffer.extend(_records([5], start=25), now=9.0)
    assert buffer.skipped_end(rules, 20.0, position=26, high_water=26) is None, "records: a cut's job"
    buffer.clear()
    assert buffer.skipped_end(rules, 30.0, position=26, high_water=26) is None, "origin unknown"


def test_an_aborted_transaction_at_the_start_of_a_partition_is_skipped() -> None:
    rules = CutRules(idle_flush_s=0.0)
    assert PartitionBuffer().skipped_end(rules, 0.0, position=11, high_water=11) == 10
