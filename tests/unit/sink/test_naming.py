from hypothesis import given
from hypothesis import strategies as st

from keystone_nexus.sink import naming

topics = st.from_regex(r"olist\.[a-z_]{1,20}\.v[0-9]", fullmatch=True)


@given(topic=topics, partition=st.integers(0, 10_000), offset=st.integers(0, 2**63 - 1))
def test_names_round_trip_and_sort_by_offset(topic: str, partition: int, offset: int) -> None:
    name = naming.object_name(topic, partition, offset)
    assert naming.parse_object_name(f"bronze/x/dt=2020-01-01/hr=00/{name}") == (topic, partition, offset)
    if offset < 2**63 - 1:
        assert name < naming.object_name(topic, partition, offset + 1)


@given(st.integers(0, 4_102_444_800_000))
def test_hour_partition_is_utc(timestamp_ms: int) -> None:
    dt, hr = naming.hour_partition(timestamp_ms)
    hours = timestamp_ms // 3_600_000
    assert naming.hour_partition(hours * 3_600_000) == (dt, hr)
    assert len(dt) == 10 and 0 <= int(hr) < 24


def test_layout() -> None:
    assert naming.hour_partition(1_514_764_800_000) == ("2018-01-01", "00")
    assert (
        naming.bronze_key("orders", "olist.orders.v1", 3, 42, "2018-01-01", "07")
        == "bronze/orders/dt=2018-01-01/hr=07/olist.orders.v1+3+0000000000000000042.parquet"
    )
    assert naming.dlq_key("orders", "olist.orders.v1", 3, 42, "2018-01-01", "07").startswith("dlq/orders/dt=")
    assert naming.checkpoint_key("olist.orders.v1", 3) == "_checkpoints/olist.orders.v1/3.json"
