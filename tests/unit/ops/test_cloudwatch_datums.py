from keystone_nexus.ops.cloudwatch import datums

STATUS = {
    "topics": {
        "olist.orders.v1": {"sum_offset_lag": 30, "max_offset_lag": 20, "estimated_max_time_lag_s": 4.5}
    },
    "partitions": [
        {"topic": "olist.orders.v1", "partition": 0, "offset_lag": 20},
        {"topic": "olist.orders.v1", "partition": 1, "offset_lag": 10},
    ],
    "totals": {"records_valid": 150, "records_dead": 3, "bytes_written": 9000, "files": 4, "failures": 0},
}


def test_lag_is_named_as_msk_names_it_with_group_and_topic() -> None:
    found = {d["MetricName"]: d for d in datums(STATUS, {}, group="g")}
    assert found["SumOffsetLag"]["Value"] == 30
    assert found["MaxOffsetLag"]["Value"] == 20
    assert found["EstimatedMaxTimeLag"]["Unit"] == "Seconds"
    assert found["SumOffsetLag"]["Dimensions"] == [
        {"Name": "ConsumerGroup", "Value": "g"},
        {"Name": "Topic", "Value": "olist.orders.v1"},
    ]
    assert "OffsetLag" not in found, "per-partition metrics only when asked"


def test_throughput_is_the_delta_since_the_last_publish() -> None:
    found = {
        d["MetricName"]: d["Value"] for d in datums(STATUS, {"records_valid": 100, "files": 4}, group="g")
    }
    assert found["RecordsWritten"] == 50
    assert found["FilesWritten"] == 0
    assert found["RecordsDeadLettered"] == 3


def test_per_partition_when_asked() -> None:
    per = [d for d in datums(STATUS, {}, group="g", per_partition=True) if d["MetricName"] == "OffsetLag"]
    assert [d["Value"] for d in per] == [20, 10]
    assert per[0]["Dimensions"][-1] == {"Name": "Partition", "Value": "0"}
