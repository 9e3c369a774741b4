"""AWS clients through aioboto3, pointed at AWS or at a local endpoint (moto).

The one place that knows how to build a client: region, endpoint, timeouts and
botocore's own retries (kept at one attempt: our adapters retry with tenacity, in one
place each, deciding by error type).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aioboto3
from botocore.config import Config


@dataclass(frozen=True, slots=True)
class AwsOptions:
    region: str = "us-east-1"
    endpoint_url: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_pool_connections: int = 32


def client(options: AwsOptions, service: str) -> AbstractAsyncContextManager[Any]:
    """An aioboto3 client context manager for `service` ("s3", "glue", ...)."""
    session = aioboto3.Session(region_name=options.region)
    config = Config(
        connect_timeout=options.connect_timeout_s,
        read_timeout=options.read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=options.max_pool_connections,
    )
    return session.client(service, endpoint_url=options.endpoint_url, config=config)  # type: ignore[no-any-return]
