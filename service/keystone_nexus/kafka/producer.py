"""Producing to Kafka through librdkafka (confluent-kafka).

librdkafka's idempotent producer works against both MSK and the local broker
(aiokafka's fails against the latter), so every tool that writes events uses this.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from keystone_nexus.config import KafkaSettings
from keystone_nexus.contracts.events import KafkaEvent
from keystone_nexus.kafka import msk_iam


def producer_config(
    kafka: KafkaSettings, *, aws_region: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """librdkafka's producer settings; `overrides` (librdkafka's names) win. `aws_region`
    is the settings' `aws.region`, where MSK IAM tokens are signed unless
    `kafka.msk_iam_region` says: with AWS_MSK_IAM one of them is needed."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": kafka.client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 200_000,
        # The Java client's partitioner, so every producer puts a key on the same partition.
        "partitioner": "murmur2_random",
        "security.protocol": kafka.security_protocol,
    }
    tokens = msk_iam.tokens_for(kafka, aws_region)
    if tokens is not None:
        config["sasl.mechanism"] = "OAUTHBEARER"
        # Called once when the producer is built (it waits for the token), then before expiry.
        config["oauth_cb"] = tokens.oauth_cb
    elif kafka.sasl_mechanism:
        config["sasl.mechanism"] = kafka.sasl_mechanism
    if kafka.sasl_username:
        config["sasl.username"] = kafka.sasl_username
    if kafka.sasl_password:
        config["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.ssl_cafile:
        config["ssl.ca.location"] = str(kafka.ssl_cafile)
    config.update(overrides)
    return config


class DeliveryCounter:
    """Counts broker acknowledgements per topic; remembers the first errors."""

    def __init__(self) -> None:
        self.delivered: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.errors: list[str] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        topic = msg.topic() or "?"
        if err is None:
            self.delivered[topic] += 1
        else:
            self.failed[topic] += 1
            if len(self.errors) < 10:
                self.errors.append(f"{topic}: {err}")


class EventProducer:
    def __init__(self, config: dict[str, Any]) -> None:
        self._producer = Producer(config)
        self.deliveries = DeliveryCounter()

    def send(self, event: KafkaEvent) -> None:
        """Queue one event; when librdkafka's queue is full, wait for room (backpressure)."""
        while True:
            try:
                self._producer.produce(
                    event.topic,
                    value=event.value,
                    key=event.key,
                    headers=list(event.headers),
                    on_delivery=self.deliveries,
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60.0) -> int:
        """Wait for every queued event's acknowledgement; returns how many are still queued."""
        remaining: int = self._producer.flush(timeout_s)
        return remaining
