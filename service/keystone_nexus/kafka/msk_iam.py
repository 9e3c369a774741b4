"""Amazon MSK IAM access control: SASL/OAUTHBEARER tokens signed with AWS credentials.

MSK's IAM listener (port 9098, SASL_SSL) takes, over OAUTHBEARER, a token that is a
SigV4-presigned `kafka-cluster:Connect` URL for `kafka.<region>.amazonaws.com`,
base64url-encoded. AWS's `aws-msk-iam-sasl-signer-python` signs it locally with the
default credential chain (AWS_* variables, a profile, the instance or task role); it
lives 15 minutes. `MskIamTokens` reuses one until `refresh_margin_s` before its expiry,
then signs a new one, so a connection authenticated with it has minutes left.

Both Kafka clients take the same `MskIamTokens`:

- aiokafka (the sink, its dead-letter producer, reprocess, topic counts) through
  `AiokafkaTokenProvider`, whose `token()` signs in a thread: finding the credentials can
  be a blocking call to the instance metadata service or STS;
- librdkafka (replay, the ingestion twin) through `MskIamTokens.oauth_cb`, which answers
  (token, expiry in seconds since the epoch).

A token is a credential: it is never logged, and `repr` leaves it out.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka.abc import AbstractTokenProvider

from keystone_nexus.config import KafkaSettings
from keystone_nexus.errors import ConfigError, MskIamError

__all__ = ["AiokafkaTokenProvider", "MskIamToken", "MskIamTokens", "Signer", "tokens_for"]

log = logging.getLogger("keystone_nexus.msk_iam")

Signer = Callable[[str], tuple[str, int]]
"""region -> (token, expiry in milliseconds since the epoch), as the AWS signer answers."""


def _sign_with_default_credentials(region: str) -> tuple[str, int]:
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    return str(token), int(expiry_ms)


@dataclass(frozen=True)
class MskIamToken:
    value: str = field(repr=False)
    expires_at_s: float


class MskIamTokens:
    """MSK IAM tokens for one region, cached until `refresh_margin_s` before they expire.

    `token()` blocks while it signs and is safe to call from any thread: concurrent
    callers wait for the one signature.
    """

    def __init__(
        self,
        region: str,
        *,
        refresh_margin_s: float = 300.0,
        sign: Signer = _sign_with_default_credentials,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.refresh_margin_s = refresh_margin_s
        self._sign = sign
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: MskIamToken | None = None

    def fresh(self) -> MskIamToken | None:
        """The cached token while it is more than `refresh_margin_s` from its expiry."""
        cached = self._cached
        if cached is not None and self._clock() < cached.expires_at_s - self.refresh_margin_s:
            return cached
        return None

    def token(self) -> MskIamToken:
        """The cached token, or a newly signed one."""
        with self._lock:
            cached = self.fresh()
            if cached is not None:
                return cached
            try:
                value, expiry_ms = self._sign(self.region)
            except Exception as exc:
                # The signer's errors name no secret; a missing credential chain shows as
                # "'NoneType' object has no attribute 'access_key'", hence the advice.
                raise MskIamError(
                    f"no MSK IAM token for {self.region}: {type(exc).__name__}: {exc}; the AWS "
                    "credential chain (AWS_* variables, a profile, the instance or task role) "
                    "must give credentials allowed kafka-cluster:Connect"
                ) from exc
            signed = MskIamToken(value, expiry_ms / 1000)
            self._cached = signed
        log.info(
            "msk_iam_token_signed",
            extra={"region": self.region, "expires_in_s": round(signed.expires_at_s - self._clock())},
        )
        return signed

    def oauth_cb(self, _oauthbearer_config: str) -> tuple[str, float]:
        """librdkafka's `oauth_cb`: (token, expiry in seconds since the epoch).

        confluent-kafka calls it when the client is built (which fails after 10 s without
        a token) and before the token expires; what it raises is not shown, so it is
        logged here (librdkafka asks again 10 s later).
        """
        try:
            signed = self.token()
        except MskIamError as exc:
            log.error("msk_iam_token_failed", extra={"region": self.region, "error": str(exc)})
            raise
        return signed.value, signed.expires_at_s


class AiokafkaTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """aiokafka's `sasl_oauth_token_provider` for MSK IAM; signs off the event loop."""

    def __init__(self, tokens: MskIamTokens, *, timeout_s: float = 30.0) -> None:
        self.tokens = tokens
        self.timeout_s = timeout_s

    async def token(self) -> str:
        cached = self.tokens.fresh()
        if cached is not None:
            return cached.value
        try:
            signed = await asyncio.wait_for(asyncio.to_thread(self.tokens.token), self.timeout_s)
        except TimeoutError:
            raise MskIamError(
                f"no MSK IAM token for {self.tokens.region} within {self.timeout_s:g} s: the AWS "
                "credential chain (instance metadata, STS) did not answer",
                retriable=True,
            ) from None
        return signed.value


def tokens_for(kafka: KafkaSettings, aws_region: str | None) -> MskIamTokens | None:
    """The token source the settings ask for: None unless `sasl_mechanism` is AWS_MSK_IAM.

    The region is `kafka.msk_iam_region`, else `aws_region` (the settings' `aws.region`).
    """
    if kafka.sasl_mechanism != "AWS_MSK_IAM":
        return None
    region = kafka.msk_iam_region or aws_region
    if not region:
        raise ConfigError(
            "kafka.sasl_mechanism AWS_MSK_IAM needs the cluster's region: "
            "set NEXUS_KAFKA__MSK_IAM_REGION or NEXUS_AWS__REGION"
        )
    return MskIamTokens(region)
