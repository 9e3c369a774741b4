"""Kafka failing a command (counts, replay, reprocess): refused or timed out is a
KafkaUnavailableError naming the brokers and the setting; a refusal that settings must
fix is a ConfigError."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

from keystone_nexus.dev.stack import free_port
from keystone_nexus.errors import ConfigError, KafkaUnavailableError
from keystone_nexus.kafka.admin import reachable, topic_counts
from keystone_nexus.kafka.failures import kafka_failure
from keystone_nexus.kafka.range_reader import KafkaRangeReader


def test_a_refused_connection_is_unavailable_and_names_the_setting() -> None:
    error = kafka_failure("b-1:9092", KafkaConnectionError("Unable to bootstrap"))
    assert isinstance(error, KafkaUnavailableError) and error.retriable
    assert "b-1:9092" in str(error) and "NEXUS_KAFKA__BOOTSTRAP_SERVERS" in str(error)
    assert isinstance(kafka_failure("b-1:9092", TimeoutError()), KafkaUnavailableError)


def test_refused_credentials_are_a_configuration_error() -> None:
    error = kafka_failure("b-1:9096", SaslAuthenticationFailed("bad password"))
    assert isinstance(error, ConfigError) and not error.retriable
    assert "NEXUS_KAFKA__SASL_" in str(error)


async def test_each_kafka_client_of_the_commands_says_kafka_is_unavailable() -> None:
    servers = f"127.0.0.1:{free_port()}"
    with pytest.raises(KafkaUnavailableError, match=servers):
        await reachable(servers)
    with pytest.raises(KafkaUnavailableError, match=servers):
        await topic_counts(servers, ["olist.orders.v1"])
    with pytest.raises(KafkaUnavailableError, match=servers):
        await KafkaRangeReader(servers)("olist.orders.v1", 0, 0, 10)
