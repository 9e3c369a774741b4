"""The CloudWatch dashboard and alarms, as code (pure builders + a small apply step).

`nexus cloudwatch dashboard` prints the dashboard body; `--apply` puts it.
`nexus cloudwatch alarms` prints the alarms; `--apply` puts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keystone_nexus.ops.cloudwatch import NAMESPACE


def _metric(name: str, group: str, topic: str | None = None, stat: str = "Maximum") -> list[Any]:
    dims: list[Any] = ["ConsumerGroup", group]
    if topic is not None:
        dims += ["Topic", topic]
    return [NAMESPACE, name, *dims, {"stat": stat}]


def dashboard_body(group: str, topics: Sequence[str], region: str) -> dict[str, Any]:
    """Lag per topic, throughput, DLQ rate, flush errors: one row each."""

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stacked: bool = False) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "metrics": metrics,
                "view": "timeSeries",
                "stacked": stacked,
                "period": 60,
            },
        }

    return {
        "widgets": [
            widget(
                "Offset lag per topic (SumOffsetLag)",
                [_metric("SumOffsetLag", group, t) for t in topics],
                0,
                0,
            ),
            widget(
                "Time lag per topic (EstimatedMaxTimeLag, s)",
                [_metric("EstimatedMaxTimeLag", group, t) for t in topics],
                12,
                0,
            ),
            widget("Records written / min", [_metric("RecordsWritten", group, stat="Sum")], 0, 6),
            widget("Dead-lettered / min", [_metric("RecordsDeadLettered", group, stat="Sum")], 12, 6),
            widget("Bytes written / min", [_metric("BytesWritten", group, stat="Sum")], 0, 12),
            widget(
                "Batch failures (S3, registry) / min", [_metric("BatchFailures", group, stat="Sum")], 12, 12
            ),
        ]
    }


def alarms(
    group: str,
    topics: Sequence[str],
    *,
    lag_threshold: int = 100_000,
    lag_periods: int = 5,
    dlq_threshold: int = 100,
    actions: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """put_metric_alarm arguments: lag above threshold for N periods, DLQ rate, offsets out of
    range, no data written."""
    common: dict[str, Any] = {"Namespace": NAMESPACE, "Period": 60, "AlarmActions": list(actions)}
    out = [
        {
            **common,
            "AlarmName": f"keystone-nexus-{group}-{topic}-lag",
            "AlarmDescription": f"Offset lag of {topic} above {lag_threshold} for {lag_periods} minutes",
            "MetricName": "SumOffsetLag",
            "Dimensions": [{"Name": "ConsumerGroup", "Value": group}, {"Name": "Topic", "Value": topic}],
            "Statistic": "Maximum",
            "EvaluationPeriods": lag_periods,
            "Threshold": float(lag_threshold),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "breaching",
        }
        for topic in topics
    ]
    out.append(
        {
            **common,
            "AlarmName": f"keystone-nexus-{group}-dead-letters",
            "AlarmDescription": f"More than {dlq_threshold} dead-lettered records a minute",
            "MetricName": "RecordsDeadLettered",
            "Dimensions": [{"Name": "ConsumerGroup", "Value": group}],
            "Statistic": "Sum",
            "EvaluationPeriods": 3,
            "Threshold": float(dlq_threshold),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
    )
    out.append(
        {
            **common,
            "AlarmName": f"keystone-nexus-{group}-offsets-out-of-range",
            "AlarmDescription": "A partition's checkpoint is below its log start or beyond its end "
            "(retention overtook the sink, or the topic was re-created): see the operator's guide",
            "MetricName": "OffsetsOutOfRange",
            "Dimensions": [{"Name": "ConsumerGroup", "Value": group}],
            "Statistic": "Sum",
            "EvaluationPeriods": 1,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
    )
    out.append(
        {
            **common,
            "AlarmName": f"keystone-nexus-{group}-no-data-written",
            "AlarmDescription": "Nothing written to bronze for 15 minutes while lag is reported",
            "MetricName": "RecordsWritten",
            "Dimensions": [{"Name": "ConsumerGroup", "Value": group}],
            "Statistic": "Sum",
            "EvaluationPeriods": 15,
            "Threshold": 1.0,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching",
        }
    )
    return out
