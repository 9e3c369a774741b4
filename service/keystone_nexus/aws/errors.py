"""One classification of the errors AWS calls raise, for every adapter (the S3 store, the
Glue Data Catalog, the Glue Schema Registry, Secrets Manager, the dev stack): the error
code, the HTTP status, and whether trying again later can help.

Transient: throttling, a service error (5xx, or a code AWS marks as internal or
unavailable), a timeout, a request that did not reach AWS or got no answer (a network
error). Everything else (denied, not found, invalid, a failed condition, no credentials)
is not: the adapter translates it into its own error, naming what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "SlowDown",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "InternalError",
        "InternalFailure",
        "InternalServiceException",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "OperationTimeoutException",
        "ConcurrentModificationException",
        "ResourceNotReadyException",
    }
)
NETWORK_ERRORS = (BotoConnectionError, HTTPClientError, TimeoutError, ConnectionError)


@dataclass(frozen=True, slots=True)
class AwsFailure:
    code: str  # the AWS error code ("" when the call got no AWS answer)
    status: int  # the HTTP status (0 when there was none)
    transient: bool  # trying again later can help
    network: bool  # no answer at all: unreachable, reset, timed out


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or "" for other errors."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def classify(exc: BaseException) -> AwsFailure:
    code, status = error_code(exc), http_status(exc)
    network = isinstance(exc, NETWORK_ERRORS)
    transient = network or code in TRANSIENT_CODES or status >= 500 or status == 429 or code[:1] == "5"
    return AwsFailure(code=code, status=status, transient=transient, network=network)
