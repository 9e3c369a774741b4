"""One classification of AWS errors, and every adapter agreeing with it."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from keystone_nexus.aws.errors import classify
from keystone_nexus.errors import NexusError
from keystone_nexus.lake import s3
from keystone_nexus.registry import glue
from keystone_nexus.sink import glue_catalog


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


CASES = [
    (_client_error("ThrottlingException", 400), True),
    (_client_error("SlowDown", 503), True),
    (_client_error("TooManyRequestsException", 429), True),
    (_client_error("InternalServiceException", 500), True),
    (_client_error("SomethingNew", 502), True),  # any 5xx
    (_client_error("AccessDeniedException", 403), False),
    (_client_error("ValidationException", 400), False),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
    (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
    (TimeoutError(), True),
    (NoCredentialsError(), False),
]


@pytest.mark.parametrize(("exc", "transient"), CASES)
def test_the_classification(exc: BaseException, transient: bool) -> None:
    assert classify(exc).transient is transient


@pytest.mark.parametrize(("exc", "transient"), CASES)
def test_every_adapter_retries_exactly_what_the_classification_calls_transient(
    exc: BaseException, transient: bool
) -> None:
    translated: list[NexusError] = [
        s3._translate(exc, "put k"),
        glue_catalog._translate(exc, "get_table t"),
        glue._translate(exc, "get_schema_version v"),  # type: ignore[arg-type]
    ]
    assert [error.retriable for error in translated] == [transient] * 3, translated


def test_a_failed_condition_is_no_outage() -> None:
    failure = classify(_client_error("PreconditionFailed", 412))
    assert (failure.code, failure.status, failure.transient) == ("PreconditionFailed", 412, False)
    assert type(s3._translate(_client_error("PreconditionFailed", 412), "put k")).__name__ == (
        "PreconditionFailedError"
    )
