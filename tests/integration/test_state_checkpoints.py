"""The PostgreSQL checkpoint store against the stack's PostgreSQL: the conditions the
checkpoint code relies on hold, and a lake whose object store ignores conditional writes
passes the fence probe once its checkpoints live in PostgreSQL (and is refused, with the
way out named, when they do not). The exactly-once suite runs over it too
(test_sink_exactly_once.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from keystone_nexus.errors import FencingUnsupportedError, PreconditionFailedError, StateError
from keystone_nexus.lake.fence import probe_fencing
from keystone_nexus.lake.local import LocalStore
from keystone_nexus.state.checkpoints import PostgresCheckpoints, SplitStore
from keystone_nexus.state.db import connect
from keystone_nexus.state.migrate import migrate
from tests.unit.test_lake_fence import IgnoresConditions

pytestmark = pytest.mark.integration

KEY = "_checkpoints/olist.orders.v1/0.json"


async def _migrated(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def test_create_only_and_replace_the_version_read(state_dsn: str) -> None:
    async def run() -> None:
        await _migrated(state_dsn)
        store = PostgresCheckpoints(lambda: connect(state_dsn), "s3://lake/a")
        other_lake = PostgresCheckpoints(lambda: connect(state_dsn), "s3://lake/b")
        try:
            first = await store.put(KEY, b"one", if_none_match=True)
            with pytest.raises(PreconditionFailedError):
                await store.put(KEY, b"two", if_none_match=True)
            second = await store.put(KEY, b"two", if_match=first)
            with pytest.raises(PreconditionFailedError):  # a zombie holding the first version
                await store.put(KEY, b"zombie", if_match=first)
            found = await store.get(KEY)
            assert found is not None and (found.data, found.etag) == (b"two", second)
            assert await other_lake.get(KEY) is None, "each lake has its own checkpoints"
            assert await store.list("_checkpoints/olist.") == [KEY]
            assert await store.list("_checkpoints/olist_") == [], "LIKE wildcards are escaped"
            await store.delete(KEY)
            assert await store.get(KEY) is None
        finally:
            await store.close()
            await other_lake.close()

    asyncio.run(run())


def test_a_lake_that_cannot_fence_is_safe_with_its_checkpoints_in_postgresql(
    state_dsn: str, tmp_path: Path
) -> None:
    async def run() -> None:
        await _migrated(state_dsn)
        lake = IgnoresConditions(LocalStore(tmp_path / "lake"), if_match_too=True)
        with pytest.raises(FencingUnsupportedError, match="NEXUS_STATE__CHECKPOINTS=postgres"):
            await probe_fencing(lake, "host:1:a")
        split = SplitStore(lake, PostgresCheckpoints(lambda: connect(state_dsn), lake.uri))
        try:
            await probe_fencing(split, "host:1:b")
            await split.put("bronze/x/a.parquet", b"data")
            await split.put(KEY, b"cp", if_none_match=True)
            assert await split.list("") == [KEY, "bronze/x/a.parquet"]
            assert not (tmp_path / "lake" / "_checkpoints" / "olist.orders.v1").exists()
        finally:
            await split.close()

    asyncio.run(run())


def test_an_unmigrated_database_says_to_migrate(state_dsn: str) -> None:
    async def run() -> None:
        store = PostgresCheckpoints(lambda: connect(state_dsn), "s3://lake/a")
        try:
            with pytest.raises(StateError, match="nexus state migrate"):
                await store.get(KEY)
        finally:
            await store.close()

    asyncio.run(run())
    with psycopg.connect(state_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('nexus')").fetchone() == (None,)
