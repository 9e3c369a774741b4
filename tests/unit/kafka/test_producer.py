"""librdkafka's producer settings from KafkaSettings: MSK IAM through `oauth_cb`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from keystone_nexus.config import IngestSettings, KafkaSettings
from keystone_nexus.errors import ConfigError
from keystone_nexus.ingest.server import ingest_producer_config
from keystone_nexus.kafka.producer import producer_config
from tests.unit.mskkit import isolate_aws, presigned_url, use_keys

IAM = KafkaSettings(
    bootstrap_servers="b-1.nexus.abc123.c2.kafka.eu-central-1.amazonaws.com:9098",
    security_protocol="SASL_SSL",
    sasl_mechanism="AWS_MSK_IAM",
)


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path)
    use_keys(monkeypatch, "AKIDPRODUCER")


def test_msk_iam_is_oauthbearer_with_a_callback_signing_for_the_aws_region() -> None:
    config = producer_config(IAM, aws_region="eu-central-1")

    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "OAUTHBEARER"
    assert not {"sasl.username", "sasl.password"} & config.keys()
    token, expiry_s = config["oauth_cb"]("")
    url = presigned_url(token)
    assert (url.host, url.region, url.key_id) == (
        "kafka.eu-central-1.amazonaws.com",
        "eu-central-1",
        "AKIDPRODUCER",
    )
    assert url.query["Action"] == "kafka-cluster:Connect"
    assert 895 < expiry_s - time.time() <= 900
    assert config["oauth_cb"]("") == (token, expiry_s), "cached between calls"


def test_the_msk_iam_region_setting_overrides_the_aws_region() -> None:
    kafka = IAM.model_copy(update={"msk_iam_region": "us-west-2"})
    token, _ = producer_config(kafka, aws_region="eu-central-1")["oauth_cb"]("")
    assert presigned_url(token).region == "us-west-2"


def test_msk_iam_without_a_region_names_the_settings_to_set() -> None:
    with pytest.raises(ConfigError, match="NEXUS_KAFKA__MSK_IAM_REGION or NEXUS_AWS__REGION"):
        producer_config(IAM)


def test_the_ingestion_twin_passes_the_region_and_keeps_its_properties() -> None:
    config = ingest_producer_config(IAM, IngestSettings(), {"linger.ms": "1"}, aws_region="eu-central-1")
    assert config["sasl.mechanism"] == "OAUTHBEARER" and config["linger.ms"] == "1"
    assert presigned_url(config["oauth_cb"]("")[0]).region == "eu-central-1"


def test_librdkafka_takes_the_callback_and_its_answer() -> None:
    """confluent-kafka calls oauth_cb while building the producer and fails after 10 s
    when it has no token; nothing connects (the broker address refuses)."""
    config = producer_config(
        IAM.model_copy(update={"bootstrap_servers": "127.0.0.1:1"}), aws_region="eu-central-1"
    )
    answers: list[tuple[str, float]] = []
    errors: list[str] = []
    callback = config["oauth_cb"]

    def recording(oauthbearer_config: str) -> tuple[str, float]:
        answers.append(callback(oauthbearer_config))
        return answers[-1]

    extra: dict[str, Any] = {"oauth_cb": recording, "error_cb": lambda e: errors.append(str(e))}
    producer = Producer({**config, **extra, "log_level": 0})
    producer.poll(0)
    assert len(answers) == 1
    assert presigned_url(answers[0][0]).region == "eu-central-1"
    assert not [e for e in errors if "OAUTH" in e.upper() or "token" in e], errors
    assert producer.flush(0) == 0
