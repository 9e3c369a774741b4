"""Partition checkpoints in PostgreSQL, for lakes whose object store cannot fence.

`state.checkpoints = postgres` keeps every `_checkpoints/...` key of the lake in
`nexus.checkpoints` (one row per lake and key) instead of the object store; data, dead
letters and gaps stay in the lake. The conditions the checkpoint code relies on hold as
they do on S3, each in one statement (so in one transaction):

* create only (`if_none_match`): INSERT ... ON CONFLICT DO NOTHING; no row inserted
  means another owner created it first;
* replace the version read (`if_match`): UPDATE ... WHERE version = <read>, bumping the
  version; no row updated means it changed meanwhile (a zombie loses here).

The version is the etag. A server that cannot be reached raises StoreUnavailableError,
as an unreachable S3 does, so the sink's retries and start-up waits treat both alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from keystone_nexus.errors import PreconditionFailedError, StateNotMigratedError, StoreUnavailableError
from keystone_nexus.lake.store import ObjectStore, StoredObject, check_key, check_prefix, check_put
from keystone_nexus.sink.naming import CHECKPOINTS

__all__ = ["PostgresCheckpoints", "SplitStore"]

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


class PostgresCheckpoints:
    """An ObjectStore for one lake's checkpoint keys, in nexus.checkpoints."""

    def __init__(self, connect: Connect, lake_uri: str) -> None:
        self._connect = connect
        self.lake = lake_uri
        self.uri = f"postgresql checkpoints of {lake_uri}"
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._opening = asyncio.Lock()

    async def _run(self, query: Any, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            async with self._opening:
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                conn = self._conn
            cur = await conn.execute(query, params)
            return list(await cur.fetchall()) if cur.description else []
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._conn = None
            raise StoreUnavailableError(f"{self.uri}: PostgreSQL is unreachable: {exc}") from None
        except psycopg.errors.UndefinedTable:
            raise StateNotMigratedError(
                "the state database has no schema nexus yet: run `nexus state migrate`"
            ) from None
        except Exception as exc:
            if getattr(exc, "retriable", False):  # the connection could not be opened
                raise StoreUnavailableError(f"{self.uri}: {exc}") from None
            raise

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        check_put(key, if_match, if_none_match)
        if if_none_match:
            rows = await self._run(
                "INSERT INTO nexus.checkpoints (lake, key, body, version) VALUES (%s, %s, %s, 1)"
                " ON CONFLICT (lake, key) DO NOTHING RETURNING version",
                (self.lake, key, data),
            )
        elif if_match is not None:
            if not if_match.isdigit():
                raise PreconditionFailedError(f"{key}: version {if_match!r} is not one of this store's")
            rows = await self._run(
                "UPDATE nexus.checkpoints SET body = %s, version = version + 1, updated_at = now()"
                " WHERE lake = %s AND key = %s AND version = %s RETURNING version",
                (data, self.lake, key, int(if_match)),
            )
        else:
            rows = await self._run(
                "INSERT INTO nexus.checkpoints (lake, key, body, version) VALUES (%s, %s, %s, 1)"
                " ON CONFLICT (lake, key) DO UPDATE SET body = EXCLUDED.body,"
                " version = nexus.checkpoints.version + 1, updated_at = now() RETURNING version",
                (self.lake, key, data),
            )
        if not rows:
            condition = "If-None-Match" if if_none_match else f"If-Match {if_match}"
            raise PreconditionFailedError(f"{key}: {condition} failed (another owner wrote it)")
        return str(rows[0][0])

    async def get(self, key: str) -> StoredObject | None:
        rows = await self._run(
            "SELECT body, version FROM nexus.checkpoints WHERE lake = %s AND key = %s",
            (self.lake, check_key(key)),
        )
        return StoredObject(key, bytes(rows[0][0]), str(rows[0][1])) if rows else None

    async def list(self, prefix: str) -> list[str]:
        escaped = check_prefix(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._run(
            "SELECT key FROM nexus.checkpoints WHERE lake = %s AND key LIKE %s ORDER BY key",
            (self.lake, escaped + "%"),
        )
        return [str(r[0]) for r in rows]

    async def delete(self, key: str) -> None:
        await self._run(
            "DELETE FROM nexus.checkpoints WHERE lake = %s AND key = %s", (self.lake, check_key(key))
        )

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class SplitStore:
    """The lake's store with its `_checkpoints/` keys kept in another store."""

    def __init__(self, lake: ObjectStore, checkpoints: ObjectStore) -> None:
        self.lake, self.checkpoints = lake, checkpoints
        self.uri = lake.uri

    def _for(self, key: str) -> ObjectStore:
        return self.checkpoints if key.startswith(f"{CHECKPOINTS}/") else self.lake

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        return await self._for(key).put(key, data, if_match=if_match, if_none_match=if_none_match)

    async def get(self, key: str) -> StoredObject | None:
        return await self._for(key).get(key)

    async def list(self, prefix: str) -> list[str]:
        if prefix.startswith(f"{CHECKPOINTS}/"):
            return await self.checkpoints.list(prefix)
        found = await self.lake.list(prefix)
        if CHECKPOINTS.startswith(prefix) or prefix == CHECKPOINTS:
            found = sorted({*found, *await self.checkpoints.list(prefix)})
        return found

    async def delete(self, key: str) -> None:
        await self._for(key).delete(key)

    async def close(self) -> None:
        try:
            await self.checkpoints.close()
        finally:
            await self.lake.close()
