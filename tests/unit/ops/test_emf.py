"""The embedded-metric-format lines: valid EMF, the same datums as PutMetricData."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from keystone_nexus.ops.cloudwatch import datums
from keystone_nexus.ops.emf import MAX_METRICS_PER_LINE, EmfWriter, documents

STATUS: dict[str, Any] = {
    "topics": {
        "olist.orders.v1": {"sum_offset_lag": 30, "max_offset_lag": 20, "estimated_max_time_lag_s": 4.5},
        "olist.payments.v1": {"sum_offset_lag": 0, "max_offset_lag": 0, "estimated_max_time_lag_s": 0.0},
    },
    "partitions": [
        {"topic": "olist.orders.v1", "partition": 0, "offset_lag": 20},
        {"topic": "olist.orders.v1", "partition": 1, "offset_lag": 10},
    ],
    "totals": {"records_valid": 150, "records_dead": 3, "bytes_written": 9000, "files": 4, "failures": 0},
}


def assert_valid_emf(doc: dict[str, Any]) -> None:
    """The structure CloudWatch Logs requires to extract metrics from a log event."""
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_500_000_000_000
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        assert all(isinstance(s, list) and len(s) <= 30 for s in directive["Dimensions"])
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(doc[name], str), f"dimension {name} must be a top-level string"
        assert 0 < len(directive["Metrics"]) <= MAX_METRICS_PER_LINE
        for metric in directive["Metrics"]:
            assert set(metric) == {"Name", "Unit"}
            assert isinstance(doc[metric["Name"]], int | float), f"{metric['Name']} needs a top-level value"


def test_each_line_is_valid_emf_and_holds_what_put_metric_data_would() -> None:
    stamp = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    put = datums(STATUS, {}, group="g", per_partition=True, now=stamp)
    docs = documents(put, "KeystoneNexus")
    for doc in docs:
        assert_valid_emf(orjson.loads(orjson.dumps(doc)))
        assert doc["_aws"]["Timestamp"] == int(stamp.timestamp() * 1000)
    # Every datum appears once, with its unit, under its own dimension values.
    found = []
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        dims = {name: doc[name] for name in directive["Dimensions"][0]}
        found += [(m["Name"], m["Unit"], doc[m["Name"]], dims) for m in directive["Metrics"]]
    expected = [
        (d["MetricName"], d["Unit"], d["Value"], {x["Name"]: x["Value"] for x in d["Dimensions"]})
        for d in put
    ]
    assert sorted(map(repr, found)) == sorted(map(repr, expected))
    orders = next(d for d in docs if d.get("Topic") == "olist.orders.v1" and "Partition" not in d)
    assert orders["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ConsumerGroup", "Topic"]]
    assert (orders["SumOffsetLag"], orders["MaxOffsetLag"], orders["EstimatedMaxTimeLag"]) == (30, 20, 4.5)
    units = {m["Name"]: m["Unit"] for m in orders["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"SumOffsetLag": "Count", "MaxOffsetLag": "Count", "EstimatedMaxTimeLag": "Seconds"}
    group_only = next(d for d in docs if "Topic" not in d)
    assert group_only["ConsumerGroup"] == "g" and group_only["BytesWritten"] == 9000


def test_a_line_holds_at_most_100_metrics() -> None:
    many = [
        {
            "MetricName": f"M{i}",
            "Dimensions": [{"Name": "ConsumerGroup", "Value": "g"}],
            "Value": i,
            "Unit": "Count",
        }
        for i in range(250)
    ]
    docs = documents(many)
    assert [len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in docs] == [100, 100, 50]
    for doc in docs:
        assert_valid_emf(doc)


async def test_the_writer_writes_lines_with_throughput_as_deltas() -> None:
    status = {**STATUS, "totals": dict(STATUS["totals"])}
    lines: list[str] = []
    writer = EmfWriter(lambda: status, lines.append, group="g", namespace="Test")
    await writer.publish_once()
    status["totals"]["records_valid"] = 175
    await writer.publish_once()
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    docs = [orjson.loads(line) for line in lines]
    for doc in docs:
        assert_valid_emf(doc)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Test"
    written = [d["RecordsWritten"] for d in docs if "RecordsWritten" in d]
    assert written == [150, 25]
    assert writer.lines == len(lines) == 2 * 3  # two topics and the group's throughput, twice
