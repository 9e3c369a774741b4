"""MSK IAM tokens: signed from the AWS credential chain (fake keys here: the signer signs
locally), cached until shortly before they expire, handed to aiokafka off the event loop
and to librdkafka as (token, expiry in seconds)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.abc import AbstractTokenProvider
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

from keystone_nexus.errors import MskIamError
from keystone_nexus.kafka.msk_iam import AiokafkaTokenProvider, MskIamTokens
from tests.unit.mskkit import isolate_aws, presigned_url, use_keys


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path)
    use_keys(monkeypatch, "AKIDFIRSTKEY")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CountingSigner:
    """The AWS signer, counted, noting the thread it ran on."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: list[threading.Thread] = []

    def __call__(self, region: str) -> tuple[str, int]:
        self.calls += 1
        self.threads.append(threading.current_thread())
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return str(token), int(expiry_ms)


async def test_the_aiokafka_provider_gives_a_presigned_connect_url_for_the_region() -> None:
    provider = AiokafkaTokenProvider(MskIamTokens("eu-west-1"))
    assert isinstance(provider, AbstractTokenProvider)

    url = presigned_url(await provider.token())

    assert url.host == "kafka.eu-west-1.amazonaws.com"
    assert "?Action=kafka-cluster%3AConnect&" in url.raw
    assert url.query["Action"] == "kafka-cluster:Connect"
    assert url.region == "eu-west-1"
    assert url.key_id == "AKIDFIRSTKEY"
    assert url.query["X-Amz-Credential"].endswith("/eu-west-1/kafka-cluster/aws4_request")
    assert url.query["X-Amz-Expires"] == "900"
    assert len(url.query["X-Amz-Signature"]) == 64


async def test_the_signer_runs_in_a_thread_not_on_the_event_loop() -> None:
    signer = CountingSigner()
    await AiokafkaTokenProvider(MskIamTokens("eu-west-1", sign=signer)).token()
    assert signer.calls == 1
    assert signer.threads[0] is not threading.current_thread()


async def test_a_token_is_reused_until_the_margin_before_its_expiry_then_signed_anew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, signer = Clock(), CountingSigner()
    tokens = MskIamTokens("eu-west-1", refresh_margin_s=300, sign=signer, clock=clock)
    provider = AiokafkaTokenProvider(tokens)
    first = await provider.token()
    signed = tokens.fresh()
    assert signed is not None and signed.value == first
    assert 895 < signed.expires_at_s - time.time() <= 900  # the signer's 15 minutes, in seconds

    # New keys in the environment: a new signature would carry them, the cached token does not.
    use_keys(monkeypatch, "AKIDSECONDKEY")
    clock.now = signed.expires_at_s - 300 - 1
    assert await provider.token() == first
    assert tokens.oauth_cb("")[0] == first
    assert signer.calls == 1

    clock.now = signed.expires_at_s - 300 + 1
    second = await provider.token()
    assert second != first
    assert presigned_url(second).key_id == "AKIDSECONDKEY"
    assert signer.calls == 2


def test_the_librdkafka_callback_answers_the_token_and_its_expiry_in_seconds() -> None:
    tokens = MskIamTokens("ap-southeast-2")
    value, expiry_s = tokens.oauth_cb("ignored sasl.oauthbearer.config")

    assert isinstance(value, str) and isinstance(expiry_s, float)
    url = presigned_url(value)
    assert url.host == "kafka.ap-southeast-2.amazonaws.com"
    signed_at = datetime.strptime(url.query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert expiry_s == signed_at.timestamp() + int(url.query["X-Amz-Expires"])
    assert 895 < expiry_s - time.time() <= 900, "seconds since the epoch, not milliseconds"
    # The same token as aiokafka's provider gets from the same source.
    assert asyncio.run(AiokafkaTokenProvider(tokens).token()) == value


def test_concurrent_callers_share_one_signature() -> None:
    signer = CountingSigner()
    tokens = MskIamTokens("eu-west-1", sign=signer)
    values: list[str] = []
    threads = [threading.Thread(target=lambda: values.append(tokens.token().value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert signer.calls == 1
    assert len(set(values)) == 1 and len(values) == 8


async def test_no_credentials_is_an_error_that_says_where_they_come_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    provider = AiokafkaTokenProvider(MskIamTokens("eu-west-1"))
    with pytest.raises(MskIamError, match=r"eu-west-1: .*credential chain") as info:
        await provider.token()
    assert not info.value.retriable
    with pytest.raises(MskIamError):
        provider.tokens.oauth_cb("")


async def test_a_signer_that_hangs_is_a_retriable_error_after_the_timeout() -> None:
    release = threading.Event()

    def hanging(region: str) -> tuple[str, int]:
        release.wait(5)
        return "late", 0

    provider = AiokafkaTokenProvider(MskIamTokens("eu-west-1", sign=hanging), timeout_s=0.05)
    try:
        with pytest.raises(MskIamError, match=r"within 0\.05 s") as info:
            await provider.token()
        assert info.value.retriable
    finally:
        release.set()


def test_the_token_is_never_logged_nor_in_the_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="keystone_nexus")
    tokens = MskIamTokens("eu-west-1")
    signed = tokens.token()

    (record,) = [r for r in caplog.records if r.name == "keystone_nexus.msk_iam"]
    assert record.getMessage() == "msk_iam_token_signed"
    assert record.__dict__["region"] == "eu-west-1"
    assert 895 < record.__dict__["expires_in_s"] <= 900
    signature = presigned_url(signed.value).query["X-Amz-Signature"]
    for r in caplog.records:
        assert signed.value not in str(r.__dict__) and signature not in str(r.__dict__)
    assert signed.value not in repr(signed) and signature not in repr(signed)
