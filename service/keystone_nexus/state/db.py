"""Connections to the state database: PostgreSQL from a DSN, with a password or an RDS
IAM authentication token.

With IAM authentication (`state.iam_auth`) the DSN names no password: each connection is
opened with a fresh token from the RDS signer (valid 15 minutes; a connection, once open,
outlives it), over TLS as RDS requires. Tokens are signed locally from the AWS
credentials in use; no call to AWS is made.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from keystone_nexus.errors import StateError, StateUnavailableError

__all__ = ["connect", "describe", "rds_iam_token"]

CONNECT_TIMEOUT_S = 10


def describe(dsn: str) -> str:
    """`user@host:port/database` of a DSN, without its password (for logs and errors)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "an unreadable DSN"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host, port, database = parts.get("host", "localhost"), parts.get("port", 5432), parts.get("dbname", "")
    return f"{user}{host}:{port}/{database}"


def rds_iam_token(dsn: str, region: str, *, endpoint_url: str | None = None) -> str:
    """An RDS IAM authentication token for the DSN's host, port and user."""
    import boto3

    parts = conninfo_to_dict(dsn)
    if not parts.get("host") or not parts.get("user"):
        raise StateError("state.dsn: IAM authentication needs a host and a user in the DSN")
    rds = boto3.client("rds", region_name=region, endpoint_url=endpoint_url)
    return str(
        rds.generate_db_auth_token(
            DBHostname=str(parts["host"]),
            Port=int(parts.get("port") or 5432),
            DBUsername=str(parts["user"]),
            Region=region,
        )
    )


async def connect(
    dsn: str, *, iam_region: str | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection; StateUnavailableError when the server cannot be reached
    or refuses for a reason waiting can change, StateError when it refuses the login."""
    extra: dict[str, Any] = {}
    if iam_region is not None:
        extra["password"] = await asyncio.to_thread(rds_iam_token, dsn, iam_region)
        extra["sslmode"] = "require"
    try:
        return await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=max(1, round(connect_timeout_s)), **extra
        )
    except psycopg.OperationalError as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        where = describe(dsn)
        if "password authentication failed" in message or "does not exist" in message:
            raise StateError(f"PostgreSQL at {where} refused the connection: {message}") from None
        raise StateUnavailableError(f"PostgreSQL at {where} is unreachable: {message}") from None
