"""CloudWatch datums put to moto's server over HTTP and read back."""

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.ops.cloudwatch import THROUGHPUT, CloudWatchPublisher

pytestmark = pytest.mark.integration


def _status(partitions: int) -> dict[str, object]:
    return {
        "topics": {
            "olist.orders.v1": {"sum_offset_lag": 42, "max_offset_lag": 7, "estimated_max_time_lag_s": 1.5}
        },
        "partitions": [
            {"topic": "olist.orders.v1", "partition": p, "offset_lag": p % 7} for p in range(partitions)
        ],
        "totals": {"records_valid": 1000, "records_dead": 2, "bytes_written": 1, "files": 1, "failures": 0},
    }


async def test_datums_reach_cloudwatch_in_calls_of_at_most_1000(
    stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    namespace = f"Test{uuid.uuid4().hex[:8]}"
    options = AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)
    publisher = await CloudWatchPublisher.open(
        options, lambda: _status(1200), group="g1", namespace=namespace, per_partition=True
    )
    try:
        await publisher.publish_once()
    finally:
        await publisher.close()
    assert publisher.published == 3 + 1200 + len(THROUGHPUT) and publisher.dropped == 0
    cw = boto3.client("cloudwatch", endpoint_url=stack.aws_endpoint_url, region_name=stack.region)
    names = {
        m["MetricName"]
        for page in cw.get_paginator("list_metrics").paginate(Namespace=namespace)
        for m in page["Metrics"]
    }
    assert {"SumOffsetLag", "MaxOffsetLag", "EstimatedMaxTimeLag", "OffsetLag", "RecordsWritten"} <= names
    stats = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="SumOffsetLag",
        Dimensions=[{"Name": "ConsumerGroup", "Value": "g1"}, {"Name": "Topic", "Value": "olist.orders.v1"}],
        StartTime=datetime.now(tz=UTC) - timedelta(minutes=5),
        EndTime=datetime.now(tz=UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [42.0]


async def test_an_unreachable_cloudwatch_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    options = AwsOptions(endpoint_url="http://127.0.0.1:9", connect_timeout_s=0.3, read_timeout_s=0.3)
    publisher = await CloudWatchPublisher.open(options, lambda: _status(2), group="g", attempts=2)
    try:
        await publisher.publish_once()
    finally:
        await publisher.close()
    assert publisher.published == 0 and publisher.dropped == 3 + len(THROUGHPUT)


def test_dashboard_and_alarms_are_put_and_read_back(stack, tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, **stack.env(), "NEXUS_KAFKA__GROUP_ID": f"g-{uuid.uuid4().hex[:6]}"}
    env = {
        k: v
        for k, v in env.items()
        if not k.startswith("NEXUS_") or k in stack.env() or k == "NEXUS_KAFKA__GROUP_ID"
    }
    group = env["NEXUS_KAFKA__GROUP_ID"]
    nexus = [sys.executable, "-m", "keystone_nexus", "cloudwatch"]
    shown = subprocess.run(
        [*nexus, "dashboard", "--apply"], env=env, capture_output=True, text=True, check=True
    )
    printed = json.loads(shown.stdout)
    subprocess.run(
        [*nexus, "alarms", "--apply", "--lag-threshold", "500"], env=env, capture_output=True, check=True
    )

    cw = boto3.client(
        "cloudwatch",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stored = json.loads(cw.get_dashboard(DashboardName=f"keystone-nexus-{group}")["DashboardBody"])
    assert stored == printed
    lag_widget = stored["widgets"][0]["properties"]["metrics"]
    assert len(lag_widget) == len(stack.topics)
    alarms = {
        a["AlarmName"]: a
        for a in cw.describe_alarms(AlarmNamePrefix=f"keystone-nexus-{group}")["MetricAlarms"]
    }
    assert len(alarms) == len(stack.topics) + 3
    lag = alarms[f"keystone-nexus-{group}-olist.orders.v1-lag"]
    assert (lag["MetricName"], lag["Threshold"], lag["EvaluationPeriods"]) == ("SumOffsetLag", 500.0, 5)
    assert alarms[f"keystone-nexus-{group}-no-data-written"]["ComparisonOperator"] == "LessThanThreshold"
    out_of_range = alarms[f"keystone-nexus-{group}-offsets-out-of-range"]
    assert (out_of_range["MetricName"], out_of_range["Threshold"]) == ("OffsetsOutOfRange", 0.0)
