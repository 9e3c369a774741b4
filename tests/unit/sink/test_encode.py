import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keystone_nexus.sink.encode import to_parquet


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
