"""The IAM policies in docs/iam/ parse, grant no wildcard actions, and cover the lake
prefixes the code writes: the sink deletes nothing but its own fence probes; the
operator's replay and reprocess do.
On MSK with IAM access control, the sink reads the contract topics as its consumer group
and writes only the dead-letter topic; the operator reads the topics, in no group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keystone_nexus.config import KafkaSettings
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.lake.fence import PROBE_PREFIX
from keystone_nexus.ops.cloudwatch import NAMESPACE
from keystone_nexus.repair.redrive import REDRIVEN
from keystone_nexus.repair.reprocess import REPROCESS
from keystone_nexus.sink.naming import BRONZE, CHECKPOINTS, DLQ

IAM = Path(__file__).resolve().parents[2] / "docs" / "iam"
MSK = "arn:aws:kafka:REGION:ACCOUNT"
CLUSTER = "MSK_CLUSTER/MSK_CLUSTER_UUID"
TOPICS = {f"{MSK}:topic/{CLUSTER}/{topic}" for topic in contracts.topics()}
DEAD_LETTER = f"{MSK}:topic/{CLUSTER}/DEAD_LETTER_TOPIC"


def statements(name: str) -> list[dict[str, Any]]:
    doc = json.loads((IAM / name).read_text())
    assert doc["Version"] == "2012-10-17"
    return list(doc["Statement"])


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def resources(statement: dict[str, Any]) -> list[str]:
    value = statement["Resource"]
    return [value] if isinstance(value, str) else list(value)


def granted(name: str, action: str) -> set[str]:
    return {r for s in statements(name) if action in actions(s) for r in resources(s)}


def test_no_wildcard_actions_and_only_allow() -> None:
    for name in ("sink-policy.json", "operator-policy.json"):
        for statement in statements(name):
            assert statement["Effect"] == "Allow"
            assert all("*" not in a for a in actions(statement)), statement["Sid"]


def test_the_sink_writes_its_prefixes_and_deletes_only_its_fence_probes() -> None:
    puts = granted("sink-policy.json", "s3:PutObject")
    assert puts == {f"arn:aws:s3:::LAKE_BUCKET/LAKE_PREFIX/{p}/*" for p in (BRONZE, DLQ, CHECKPOINTS)}
    assert granted("sink-policy.json", "s3:DeleteObject") == {
        f"arn:aws:s3:::LAKE_BUCKET/LAKE_PREFIX/{PROBE_PREFIX}*"
    }


def test_the_operator_rewrites_the_lake_but_not_checkpoints() -> None:
    writable = {f"arn:aws:s3:::LAKE_BUCKET/LAKE_PREFIX/{p}/*" for p in (BRONZE, DLQ, REDRIVEN, REPROCESS)}
    assert granted("operator-policy.json", "s3:PutObject") == writable
    assert granted("operator-policy.json", "s3:DeleteObject") == writable


def test_metrics_only_in_the_service_namespace() -> None:
    (metrics,) = [s for s in statements("sink-policy.json") if "cloudwatch:PutMetricData" in actions(s)]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}


def kafka_actions(name: str) -> set[str]:
    return {a for s in statements(name) for a in actions(s) if a.startswith("kafka-cluster:")}


def test_the_sink_reads_the_topics_as_its_group_and_writes_only_dead_letters() -> None:
    sink = "sink-policy.json"
    assert granted(sink, "kafka-cluster:Connect") == {f"{MSK}:cluster/{CLUSTER}"}
    assert granted(sink, "kafka-cluster:ReadData") == TOPICS
    assert granted(sink, "kafka-cluster:DescribeTopic") == TOPICS | {DEAD_LETTER}
    group = {f"{MSK}:group/{CLUSTER}/{KafkaSettings().group_id}"}
    assert granted(sink, "kafka-cluster:DescribeGroup") == group
    assert granted(sink, "kafka-cluster:AlterGroup") == group
    assert granted(sink, "kafka-cluster:WriteData") == {DEAD_LETTER}
    (writes,) = [s for s in statements(sink) if "kafka-cluster:WriteData" in actions(s)]
    assert writes["Sid"] == "MskDeadLetterTopicRemoveWhenUnset"
    assert kafka_actions(sink) == {
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:ReadData",
        "kafka-cluster:DescribeGroup",
        "kafka-cluster:AlterGroup",
        "kafka-cluster:WriteData",
    }


def test_the_operator_reads_the_topics_in_no_group() -> None:
    operator = "operator-policy.json"
    assert granted(operator, "kafka-cluster:Connect") == {f"{MSK}:cluster/{CLUSTER}"}
    assert granted(operator, "kafka-cluster:ReadData") == TOPICS
    assert granted(operator, "kafka-cluster:DescribeTopic") == TOPICS
    assert kafka_actions(operator) == {
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:ReadData",
    }


def test_the_ingestion_producers_write_the_topics_idempotently_and_read_nothing() -> None:
    """The twin and `nexus replay` on MSK with IAM: librdkafka's idempotent producer needs
    WriteDataIdempotently on the cluster besides WriteData on each topic."""
    ingest = "ingest-policy.json"
    for statement in statements(ingest):
        assert statement["Effect"] == "Allow"
        assert all("*" not in a for a in actions(statement)), statement["Sid"]
    cluster = {f"{MSK}:cluster/{CLUSTER}"}
    assert granted(ingest, "kafka-cluster:Connect") == cluster
    assert granted(ingest, "kafka-cluster:WriteDataIdempotently") == cluster
    assert granted(ingest, "kafka-cluster:WriteData") == TOPICS
    assert granted(ingest, "kafka-cluster:DescribeTopic") == TOPICS
    assert kafka_actions(ingest) == {
        "kafka-cluster:Connect",
        "kafka-cluster:WriteDataIdempotently",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:WriteData",
    }
    assert not {a for s in statements(ingest) for a in actions(s) if a.startswith("s3:")}
