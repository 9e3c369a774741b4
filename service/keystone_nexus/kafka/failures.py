"""What a command says when Kafka fails it: one classification of aiokafka's errors for
the tools beside the sink (counts, replay, reprocess). The sink itself waits for Kafka at
start-up instead (`keystone_nexus.startup`).

An error that trying again can help (refused or timed-out connections: aiokafka's
`retriable`, or a timeout of ours) is a :class:`KafkaUnavailableError`; any other
(credentials refused, a protocol the brokers do not speak) is a ConfigError: the
settings have to change.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError

from keystone_nexus.errors import ConfigError, KafkaUnavailableError, NexusError

SETTING = "NEXUS_KAFKA__BOOTSTRAP_SERVERS"


def kafka_failure(bootstrap_servers: str, exc: BaseException) -> NexusError:
    """The one-line error for `exc`, raised by a Kafka client of `bootstrap_servers`."""
    detail = str(exc).strip() or "no answer in time"
    if isinstance(exc, TimeoutError) or (isinstance(exc, KafkaError) and exc.retriable):
        return KafkaUnavailableError(
            f"Kafka at {bootstrap_servers} did not answer ({detail}): start it, or point {SETTING} at it"
        )
    return ConfigError(
        f"Kafka at {bootstrap_servers} refused the client ({detail}): check the "
        "NEXUS_KAFKA__SECURITY_PROTOCOL and NEXUS_KAFKA__SASL_* settings"
    )
