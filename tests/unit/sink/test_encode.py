import io
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystone_nexus.sink import naming
from keystone_nexus.sink.encode import partition_times, to_parquet


@pytest.mark.parametrize("writer", ["pyarrow", "fastparquet"])
@pytest.mark.parametrize("compression", ["snappy", "zstd"])
def test_both_writers_produce_parquet_that_reads_back(writer, compression) -> None:
    table = pa.table(
        {
            "order_id": ["a" * 32, "b" * 32],
            "price": [1.5, None],
            "_offset": pa.array([7, 8], pa.int64()),
            "_kafka_timestamp": pa.array(
                [1_700_000_000_000, 1_700_000_000_001], pa.timestamp("ms", tz="UTC")
            ),
        }
    )
    data = to_parquet(table, compression, writer)
    assert data[:4] == b"PAR1"
    back = pq.read_table(io.BytesIO(data))
    assert back.column("order_id").to_pylist() == ["a" * 32, "b" * 32]
    assert back.column("price").to_pylist() == [1.5, None]
    assert back.column("_offset").to_pylist() == [7, 8]
    codec = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).compression
    assert codec.lower() == compression


ARRIVAL_MS = 1_764_115_200_000  # 2025-11-26 00:00 UTC


def _timed(payload_times: Sequence[str | None]) -> pa.Table:
    return pa.table(
        {
            "order_purchase_timestamp": pa.array(payload_times, pa.string()),
            "_kafka_timestamp": pa.array([ARRIVAL_MS] * len(payload_times), pa.timestamp("ms", tz="UTC")),
        }
    )


def test_payload_time_partitions_rows_by_their_field_and_empty_ones_by_arrival() -> None:
    table = _timed(["2017-10-02 10:56:33", None, "not a time", "2018-03-05 23:59:59"])
    times = partition_times(table, "order_purchase_timestamp").to_pylist()
    assert [naming.hour_partition(t) for t in times] == [
        ("2017-10-02", "10"),
        ("2025-11-26", "00"),
        ("2025-11-26", "00"),
        ("2018-03-05", "23"),
    ]
    assert partition_times(table, None).to_pylist() == [ARRIVAL_MS] * 4


def test_a_batch_keeps_its_most_populated_payload_hours_and_sends_stray_ones_to_arrival() -> None:
    busy = ["2017-10-02 10:00:00"] * 5 + ["2017-10-02 11:00:00"] * 3
    stray = [f"2016-01-{day:02d} 0{day % 10}:00:00" for day in range(1, 29)]  # 28 hours, one row each
    table = _timed(busy + stray)
    hours = [
        naming.hour_partition(t) for t in partition_times(table, "order_purchase_timestamp", 3).to_pylist()
    ]
    assert hours[:8] == [("2017-10-02", "10")] * 5 + [("2017-10-02", "11")] * 3
    # One of the single-row hours is kept (ties go to the later hour); the rest arrive.
    assert hours[8:] == [("2025-11-26", "00")] * 27 + [("2016-01-28", "08")]
    assert len(set(hours)) == 4
    # Unlimited, every payload hour gets its own partition.
    assert len(set(partition_times(table, "order_purchase_timestamp").to_pylist())) == 30


@given(st.lists(st.integers(0, 40), min_size=1, max_size=200), st.integers(1, 10), st.randoms())
def test_the_hour_cap_depends_on_the_batch_not_the_row_order(hours, cap, rnd) -> None:
    texts = [f"2017-01-{1 + h // 24:02d} {h % 24:02d}:30:00" for h in hours]
    order = list(range(len(texts)))
    rnd.shuffle(order)
    first = partition_times(_timed(texts), "order_purchase_timestamp", cap).to_pylist()
    second = partition_times(_timed([texts[i] for i in order]), "order_purchase_timestamp", cap).to_pylist()
    assert [first[i] for i in order] == second
    payload_hours = {t // 3_600_000 for t in first if t != ARRIVAL_MS}
    assert len(payload_hours) <= cap
