"""The schema `nexus`, versioned: `migrations/NNNN_<name>.sql`, applied in order, each once.

`migrate` takes a transaction-scoped advisory lock, so sinks starting together apply a
migration once; applied versions are kept in `nexus.schema_migrations`. A database whose
schema is newer than this release knows is refused (an older sink must not write into a
layout it does not understand); a migration never edits one already released.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from keystone_nexus.errors import StateError

__all__ = ["Migration", "applied", "migrate", "migrations"]

SCHEMA = "nexus"
_LOCK = 0x6E657875  # "nexu": one advisory lock id for every migrator
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The migrations this release ships, by version (1, 2, ... without holes)."""
    found = []
    for entry in resources.files("keystone_nexus.state").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StateError(f"migrations are not numbered 1..{len(found)}: {[m.version for m in found]}")
    return found


async def applied(conn: psycopg.AsyncConnection[Any]) -> list[int]:
    """The versions applied to the database (empty when it has no schema `nexus` yet)."""
    cur = await conn.execute("SELECT to_regclass('nexus.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return []
    cur = await conn.execute("SELECT version FROM nexus.schema_migrations ORDER BY version")
    return [int(r[0]) for r in await cur.fetchall()]


async def migrate(conn: psycopg.AsyncConnection[Any]) -> list[Migration]:
    """Bring the schema to this release's version; the migrations applied now."""
    known = migrations()
    done: list[Migration] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            await conn.execute("CREATE SCHEMA IF NOT EXISTS nexus")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS nexus.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            have = set(await applied(conn))
            newest = max(have, default=0)
            if newest > len(known):
                raise StateError(
                    f"the state database's schema is at version {newest}, newer than this release "
                    f"knows ({len(known)}): upgrade nexus, or point state.dsn at another database"
                )
            for migration in known:
                if migration.version in have:
                    continue
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO nexus.schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                done.append(migration)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StateError(f"the state database refused the migration: {exc}") from None
    return done
