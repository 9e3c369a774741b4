"""The local-directory lake store, and the object-store contract both stores keep.

The `check_*` coroutines are the contract: each takes an empty store and fails if the
store breaks a promise of `ObjectStore`. `CONTRACT` lists them for the parametrized
test here and for the S3 store's test in tests/integration/test_lake_s3.py.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.errors import PreconditionFailedError, StoreError
from keystone_nexus.lake import LocalStore, ObjectStore, open_store

# --------------------------------------------------------------------- contract


async def check_roundtrip(store: ObjectStore) -> None:
    assert await store.get("a.bin") is None
    assert await store.list("") == []
    data = bytes(range(256)) * 10
    etag = await store.put("a.bin", data)
    got = await store.get("a.bin")
    assert got is not None
    assert (got.key, got.data, got.etag) == ("a.bin", data, etag)
    assert await store.list("") == ["a.bin"]
    await store.delete("a.bin")
    assert await store.get("a.bin") is None
    assert await store.list("") == []
    await store.delete("a.bin")  # absent is fine
    await store.put("empty", b"")
    empty = await store.get("empty")
    assert empty is not None and empty.data == b""


async def check_nested_keys_and_prefixes(store: ObjectStore) -> None:
    keys = ["z", "ab", "a/bc", "a/b/d", "a/b/c", "a/b/e/f/g.parquet"]
    for key in keys:
        await store.put(key, key.encode())
    assert await store.list("") == sorted(keys)
    assert await store.list("a/") == ["a/b/c", "a/b/d", "a/b/e/f/g.parquet", "a/bc"]
    assert await store.list("a/b") == ["a/b/c", "a/b/d", "a/b/e/f/g.parquet", "a/bc"]
    assert await store.list("a/b/") == ["a/b/c", "a/b/d", "a/b/e/f/g.parquet"]
    assert await store.list("a/b/e/f/g") == ["a/b/e/f/g.parquet"]
    assert await store.list("a") == ["a/b/c", "a/b/d", "a/b/e/f/g.parquet", "a/bc", "ab"]
    assert await store.list("nothing/") == []
    assert await store.list("a/b/x") == []
    for key in keys:
        got = await store.get(key)
        assert got is not None and got.data == key.encode()
    assert await store.get("a/b") is None  # a "directory" is no object
    await store.delete("a/b/c")
    assert await store.list("a/b/") == ["a/b/d", "a/b/e/f/g.parquet"]


async def check_etag_changes_on_each_put(store: ObjectStore) -> None:
    etags = [await store.put("k", f"version {i}".encode()) for i in range(5)]
    assert len(set(etags)) == 5
    got = await store.get("k")
    assert got is not None and got.etag == etags[-1] and got.data == b"version 4"


async def check_if_none_match(store: ObjectStore) -> None:
    first = await store.put("once", b"first", if_none_match=True)
    with pytest.raises(PreconditionFailedError) as info:
        await store.put("once", b"second", if_none_match=True)
    assert not info.value.retriable
    got = await store.get("once")
    assert got is not None and (got.data, got.etag) == (b"first", first)
    await store.delete("once")
    await store.put("once", b"third", if_none_match=True)  # absent again


async def check_if_match(store: ObjectStore) -> None:
    stale = await store.put("cas", b"v1")
    current = await store.put("cas", b"v2")
    with pytest.raises(PreconditionFailedError):
        await store.put("cas", b"v3 from a stale reader", if_match=stale)
    got = await store.get("cas")
    assert got is not None and (got.data, got.etag) == (b"v2", current)
    newer = await store.put("cas", b"v3", if_match=current)
    assert newer not in (stale, current)
    got = await store.get("cas")
    assert got is not None and (got.data, got.etag) == (b"v3", newer)
    with pytest.raises(PreconditionFailedError):
        await store.put("missing", b"x", if_match=newer)  # nothing to match
    assert await store.get("missing") is None
    await store.delete("cas")
    with pytest.raises(PreconditionFailedError):
        await store.put("cas", b"resurrected", if_match=newer)
    assert await store.get("cas") is None


async def check_rejects_bad_keys(store: ObjectStore) -> None:
    for key in ["", "/abs", "a/../b", "..", "a/./b", "a//b", "a/", ".~lock", "x/.~tmp.1"]:
        with pytest.raises(ValueError):
            await store.put(key, b"x")
        with pytest.raises(ValueError):
            await store.get(key)
        with pytest.raises(ValueError):
            await store.delete(key)
    for prefix in ["/abs", "../", "a/../"]:
        with pytest.raises(ValueError):
            await store.list(prefix)
    with pytest.raises(ValueError):
        await store.put("k", b"x", if_match="e", if_none_match=True)
    assert await store.list("") == []


async def cas_increments(store: ObjectStore, key: str, times: int) -> int:
    """Add 1 to the counter at `key` `times` times by read-modify-write with if_match;
    return how many conditional puts lost and were retried."""
    conflicts = 0
    for _ in range(times):
        while True:
            current = await store.get(key)
            assert current is not None
            try:
                await store.put(key, str(int(current.data) + 1).encode(), if_match=current.etag)
                break
            except PreconditionFailedError:
                conflicts += 1
    return conflicts


async def check_concurrent_cas(store: ObjectStore) -> None:
    await store.put("counter", b"0", if_none_match=True)
    conflicts = await asyncio.gather(*(cas_increments(store, "counter", 8) for _ in range(4)))
    got = await store.get("counter")
    assert got is not None and int(got.data) == 32, f"lost updates ({sum(conflicts)} conflicts)"


CONTRACT: list[Callable[[ObjectStore], Awaitable[None]]] = [
    check_roundtrip,
    check_nested_keys_and_prefixes,
    check_etag_changes_on_each_put,
    check_if_none_match,
    check_if_match,
    check_rejects_bad_keys,
    check_concurrent_cas,
]


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_contract(tmp_path: Path, check: Callable[[ObjectStore], Awaitable[None]]) -> None:
    store = LocalStore(tmp_path / "lake")
    try:
        await check(store)
    finally:
        await store.close()


# ------------------------------------------------------------------ local only


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_files_are_plain_and_internal_files_hidden(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    await store.put("bronze/orders/part-0.parquet", b"PAR1")
    with pytest.raises(PreconditionFailedError):
        await store.put("bronze/orders/part-0.parquet", b"other", if_none_match=True)
    assert (tmp_path / "bronze/orders/part-0.parquet").read_bytes() == b"PAR1"
    # Only the object and the directory's lock file: no temp file survives a put,
    # not even a failed one.
    assert _files(tmp_path) == ["bronze/orders/.~lock", "bronze/orders/part-0.parquet"]
    (tmp_path / "bronze/orders/.~tmp.leftover-of-a-crash").write_bytes(b"partial")
    assert await store.list("") == ["bronze/orders/part-0.parquet"]


async def test_etag_changes_on_identical_bytes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    etags = [await store.put("same", b"identical bytes") for _ in range(20)]
    assert len(set(etags)) == 20
    with pytest.raises(PreconditionFailedError):
        await store.put("same", b"identical bytes", if_match=etags[-2])
    await store.put("same", b"identical bytes", if_match=etags[-1])


async def test_readers_never_see_a_partial_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    versions = [bytes([65 + i]) * (2 * 1024 * 1024) for i in range(3)]
    await store.put("big", versions[0])
    done = False
    seen: set[bytes] = set()

    async def writer() -> None:
        nonlocal done
        for i in range(15):
            await store.put("big", versions[i % 3])
        done = True

    async def reader() -> None:
        while not done:
            got = await store.get("big")
            assert got is not None and got.data in versions, "a partial or mixed object"
            seen.add(got.data[:1])

    await asyncio.gather(writer(), reader(), reader())
    assert len(seen) >= 2  # the readers did overlap the writes


async def test_filesystem_errors_are_store_errors(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    await store.put("a", b"a file")
    with pytest.raises(StoreError) as info:
        await store.put("a/b", b"under a file")
    assert not info.value.retriable
    await store.put("d/e", b"x")
    with pytest.raises(StoreError, match="directory"):
        await store.put("d", b"over a directory")


async def test_open_store_file_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aws = AwsOptions()
    absolute = await open_store(f"file://{tmp_path}/abs", aws)
    await absolute.put("k", b"1")
    assert (tmp_path / "abs/k").read_bytes() == b"1"
    assert absolute.uri == f"file://{tmp_path}/abs"
    monkeypatch.chdir(tmp_path)
    relative = await open_store("file://./rel/lake", aws)
    await relative.put("k", b"2")
    assert (tmp_path / "rel/lake/k").read_bytes() == b"2"
    assert relative.uri == f"file://{tmp_path}/rel/lake"
    for bad in ["file://host/path", "file://", "s3://", "gs://bucket/x", "/just/a/path"]:
        with pytest.raises(ValueError):
            await open_store(bad, aws)


# ------------------------------------------------- CAS across processes (flock)

PROCESSES = 4
INCREMENTS = 25


def _cas_worker(root: str, times: int, start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    asyncio.run(cas_increments(LocalStore(root), "counter", times))


async def test_cas_race_across_processes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    await store.put("counter", b"0", if_none_match=True)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [
        ctx.Process(target=_cas_worker, args=(str(tmp_path), INCREMENTS, start)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        await asyncio.to_thread(worker.join, 120)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    got = await store.get("counter")
    assert got is not None and int(got.data) == PROCESSES * INCREMENTS
    assert sorted(os.listdir(tmp_path)) == [".~lock", "counter"]
