"""Small Kafka administration helpers over librdkafka: record counts per topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition


def topic_counts(config: dict[str, Any], topics: Sequence[str], timeout_s: float = 10.0) -> dict[str, int]:
    """Records held per topic: the sum over partitions of high minus low watermark."""
    consumer = Consumer({**config, "group.id": "keystone-nexus-admin", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        counts: dict[str, int] = {}
        for topic in topics:
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None:
                counts[topic] = 0
                continue
            total = 0
            for partition in meta.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s, cached=False
                )
                total += max(0, high - max(low, 0))
            counts[topic] = total
        return counts
    finally:
        consumer.close()
