"""The composition root's Kafka security options for aiokafka: MSK IAM, SCRAM, TLS."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from keystone_nexus.config import AwsSettings, KafkaSettings, Settings
from keystone_nexus.kafka.msk_iam import AiokafkaTokenProvider
from keystone_nexus.wiring import kafka_consumer, kafka_security, sink_options
from tests.unit.mskkit import isolate_aws, presigned_url, use_keys


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith("NEXUS_")]:
        monkeypatch.delenv(key)
    isolate_aws(monkeypatch, tmp_path)
    use_keys(monkeypatch, "AKIDWIRING")


def iam_settings(**kafka: Any) -> Settings:
    return Settings(
        kafka=KafkaSettings(
            bootstrap_servers="b-1.nexus.abc123.c2.kafka.sa-east-1.amazonaws.com:9098",
            security_protocol="SASL_SSL",
            sasl_mechanism="AWS_MSK_IAM",
            **kafka,
        ),
        aws=AwsSettings(region="sa-east-1"),
    )


async def test_msk_iam_is_oauthbearer_with_a_token_provider_for_the_aws_region() -> None:
    settings = iam_settings()
    options = kafka_security(settings.kafka, aws_region=settings.aws.region)

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "OAUTHBEARER"
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, AiokafkaTokenProvider)
    assert "sasl_plain_username" not in options and "sasl_plain_password" not in options
    url = presigned_url(await provider.token())
    assert (url.host, url.region, url.key_id) == ("kafka.sa-east-1.amazonaws.com", "sa-east-1", "AKIDWIRING")
    # TLS from the system trust store: aiokafka refuses SASL_SSL without a context.
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


async def test_the_msk_iam_region_setting_overrides_the_aws_region() -> None:
    settings = iam_settings(msk_iam_region="us-west-2")
    provider = kafka_security(settings.kafka, aws_region=settings.aws.region)["sasl_oauth_token_provider"]
    assert presigned_url(await provider.token()).region == "us-west-2"


async def test_aiokafka_clients_take_the_options() -> None:
    """The consumer and the dead-letter producer are built with them (nothing connects)."""
    settings = iam_settings()
    consumer = kafka_consumer(settings)
    producer = AIOKafkaProducer(**kafka_security(settings.kafka, aws_region="sa-east-1"))
    reader = AIOKafkaConsumer(group_id=None, **kafka_security(settings.kafka, aws_region="sa-east-1"))
    try:
        client = consumer._client
        assert client._sasl_mechanism == "OAUTHBEARER"
        assert isinstance(client._sasl_oauth_token_provider, AiokafkaTokenProvider)
        assert client._sasl_oauth_token_provider.tokens.region == "sa-east-1"
        assert producer.client._sasl_mechanism == "OAUTHBEARER"
        assert reader._client._security_protocol == "SASL_SSL"
    finally:
        for closing in (consumer, producer, reader):
            await closing.stop()


def test_scram_still_passes_the_user_and_password() -> None:
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="nexus",
        sasl_password="pw",
    )
    options = kafka_security(kafka, aws_region="sa-east-1")
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("nexus", "pw")
    assert "sasl_oauth_token_provider" not in options
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_plaintext_has_no_tls_and_no_sasl() -> None:
    assert kafka_security(KafkaSettings(), aws_region="sa-east-1") == {"security_protocol": "PLAINTEXT"}


async def test_the_sinks_consumer_and_options_take_the_isolation_level() -> None:
    for level in ("read_committed", "read_uncommitted"):
        settings = Settings(kafka=KafkaSettings(isolation_level=level))
        consumer = kafka_consumer(settings)
        try:
            assert consumer._isolation_level == level
        finally:
            await consumer.stop()
        assert sink_options(settings).read_committed is (level == "read_committed")
