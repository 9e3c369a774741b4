"""The S3 lake store against moto's server over real HTTP: the object-store contract
(shared with the local store), multipart uploads, and outages made by pausing moto."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.errors import PreconditionFailedError, StoreError, StoreUnavailableError
from keystone_nexus.lake import ObjectStore, S3Store, open_store
from tests.unit.test_lake_local import CONTRACT, check_concurrent_cas

# moto checks If-Match and then writes without a lock, so simultaneous compare-and-swaps
# can both succeed against it (seen: lost counter updates under load). S3 itself makes
# the check atomic; atomicity is proven here against the local store (tests/unit), and the
# S3 adapter's conditional requests are checked one at a time below.
S3_CONTRACT = [check for check in CONTRACT if check is not check_concurrent_cas]

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture
def aws(stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> AwsOptions:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)


def _uri(stack: StackInfo) -> str:
    return f"s3://{stack.bucket}/test-lake-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture(loop_scope="function")
async def store(stack: StackInfo, aws: AwsOptions) -> AsyncIterator[ObjectStore]:
    opened = await open_store(_uri(stack), aws)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize("check", S3_CONTRACT, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_contract(store: ObjectStore, check: Callable[[ObjectStore], Awaitable[None]]) -> None:
    await check(store)


async def test_keys_live_under_the_uri_prefix(stack: StackInfo, aws: AwsOptions) -> None:
    uri = _uri(stack)
    store = await open_store(uri + "/", aws)
    try:
        assert isinstance(store, S3Store) and store.uri == uri
        await store.put("dt=2024-01-01/part-0.parquet", b"PAR1")
        prefix = uri.removeprefix(f"s3://{stack.bucket}/")
        async with client(aws, "s3") as s3:
            listed = await s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
        assert [o["Key"] for o in listed["Contents"]] == [f"{prefix}/dt=2024-01-01/part-0.parquet"]
    finally:
        await store.close()


async def test_list_paginates(stack: StackInfo, aws: AwsOptions) -> None:
    store = await open_store(_uri(stack), aws, list_page_size=7)
    try:
        keys = [f"p/{i:02d}" for i in range(30)]
        await asyncio.gather(*(store.put(k, b"") for k in keys))
        await store.put("q", b"")
        assert await store.list("p/") == keys  # 5 pages
        assert await store.list("") == [*keys, "q"]
    finally:
        await store.close()


async def _uploads(aws: AwsOptions, bucket: str, prefix: str) -> list[str]:
    async with client(aws, "s3") as s3:
        found = await s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [u["Key"] for u in found.get("Uploads", [])]


async def test_multipart_put_reads_back_identical(stack: StackInfo, aws: AwsOptions) -> None:
    store = await open_store(_uri(stack), aws, multipart_threshold=5 * MiB, part_size=5 * MiB)
    assert isinstance(store, S3Store)
    try:
        data = os.urandom(20 * MiB + 12345)
        started = time.perf_counter()
        etag = await store.put("big.bin", data)
        seconds = time.perf_counter() - started
        print(f"multipart put of {len(data) / MiB:.1f} MiB: {len(data) / MiB / seconds:.0f} MiB/s")
        assert etag.strip('"').endswith("-5")  # S3's multipart ETag: digest of 5 parts
        got = await store.get("big.bin")
        assert got is not None and got.etag == etag and got.data == data
        assert await _uploads(aws, stack.bucket, store.prefix) == []
        small = await store.put("small.bin", data[: 5 * MiB])  # at the threshold: one PutObject
        assert "-" not in small
    finally:
        await store.close()


async def test_cancelled_multipart_put_is_aborted(stack: StackInfo, aws: AwsOptions) -> None:
    store = await open_store(
        _uri(stack), aws, multipart_threshold=5 * MiB, part_size=5 * MiB, max_concurrency=1
    )
    assert isinstance(store, S3Store)
    try:
        put = asyncio.create_task(store.put("big.bin", os.urandom(60 * MiB)))
        deadline = time.monotonic() + 10
        while not await _uploads(aws, stack.bucket, store.prefix):
            assert time.monotonic() < deadline and not put.done(), "no upload was started"
            await asyncio.sleep(0.01)
        put.cancel()
        with pytest.raises(asyncio.CancelledError):
            await put
        assert await _uploads(aws, stack.bucket, store.prefix) == []
        assert await store.get("big.bin") is None
    finally:
        await store.close()


async def test_missing_bucket_is_not_retried(aws: AwsOptions) -> None:
    store = await open_store(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x", aws, attempts=5)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="bucket does not exist") as info:
            await store.put("k", b"x")
        assert not info.value.retriable
        assert time.monotonic() - started < 1.0
    finally:
        await store.close()


# ------------------------------------------------------------------ outages


def _moto(stack: StackInfo) -> devstack.ManagedProcess:
    return devstack.processes(stack.state_dir)["moto"]


async def test_put_rides_out_a_short_outage(stack: StackInfo, aws: AwsOptions) -> None:
    impatient = dataclasses.replace(aws, connect_timeout_s=0.5, read_timeout_s=0.5)
    store = await open_store(_uri(stack), impatient, attempts=12, max_wait_s=0.5)
    moto = _moto(stack)
    data = os.urandom(256 * 1024)
    try:
        await store.put("warm-up", b"")
        await asyncio.to_thread(moto.pause)
        try:
            started = time.monotonic()
            plain = asyncio.create_task(store.put("plain.bin", data))
            create = asyncio.create_task(store.put("checkpoint", b'{"offset": 42}', if_none_match=True))
            await asyncio.sleep(2.0)
            assert not plain.done() and not create.done()
        finally:
            await asyncio.to_thread(moto.resume)
        # The timed-out tries of the conditional put reach moto once it resumes, so
        # its retry meets an object that already exists: its own, which is success.
        plain_etag, create_etag = await plain, await create
        assert time.monotonic() - started >= 2.0
        got = await store.get("plain.bin")
        assert got is not None and (got.data, got.etag) == (data, plain_etag)
        got = await store.get("checkpoint")
        assert got is not None and (got.data, got.etag) == (b'{"offset": 42}', create_etag)
    finally:
        await store.close()


async def test_outage_beyond_the_budget_is_retriable(stack: StackInfo, aws: AwsOptions) -> None:
    impatient = dataclasses.replace(aws, connect_timeout_s=0.3, read_timeout_s=0.3)
    store = await open_store(_uri(stack), impatient, attempts=3, max_wait_s=0.2)
    moto = _moto(stack)
    try:
        await store.put("warm-up", b"")
        await asyncio.to_thread(moto.pause)
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError) as info:
                await store.put("k", b"x")
            assert info.value.retriable
            # Three tries, each cut after connect + read timeout (0.6 s), then no more.
            assert 1.5 <= time.monotonic() - started < 5.0
            with pytest.raises(StoreUnavailableError) as info:
                await store.get("warm-up")
            assert info.value.retriable
        finally:
            await asyncio.to_thread(moto.resume)
        assert await store.get("warm-up") is not None
    finally:
        await store.close()


async def test_unreachable_endpoint_is_retriable(aws: AwsOptions) -> None:
    options = dataclasses.replace(aws, endpoint_url=f"http://127.0.0.1:{devstack.free_port()}")
    store = await open_store("s3://bucket/prefix", options, attempts=2, max_wait_s=0.1)
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await store.list("")
        assert info.value.retriable
    finally:
        await store.close()


# ------------------------------------------------------------- a lost answer


class _LoseOneAnswer:
    """A TCP proxy in front of moto that passes everything through, except the answer
    to the first PutObject with If-None-Match: moto gets the whole request and acts
    on it, then the client's connection is closed instead of answered, so the client
    cannot know whether its put landed."""

    def __init__(self, endpoint_url: str) -> None:
        target = urlsplit(endpoint_url)
        self._target = (str(target.hostname), int(target.port or 80))
        self.lost = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection(*self._target)
        doomed = False

        async def upstream() -> None:
            nonlocal doomed
            while data := await client_in.read(1 << 16):
                if not self.lost and b"\r\nif-none-match: *" in data.lower():
                    doomed = True
                server_out.write(data)
                await server_out.drain()

        async def downstream() -> None:
            pending = b""
            while data := await server_in.read(1 << 16):
                if not doomed:
                    client_out.write(data)
                    await client_out.drain()
                    continue
                pending += data
                # Pass on "100 Continue" (the client sends its body after it) ...
                while pending[9:12] == b"100" and b"\r\n\r\n" in pending:
                    interim, _, pending = pending.partition(b"\r\n\r\n")
                    client_out.write(interim + b"\r\n\r\n")
                    await client_out.drain()
                # ... but lose the final answer.
                if len(pending) >= 12 and pending[9:12] != b"100":
                    self.lost += 1
                    return

        try:
            await asyncio.wait(
                [asyncio.create_task(upstream()), asyncio.create_task(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            client_out.close()
            server_out.close()


async def test_conditional_put_whose_answer_was_lost(stack: StackInfo, aws: AwsOptions) -> None:
    proxy = _LoseOneAnswer(stack.aws_endpoint_url)
    proxied = dataclasses.replace(aws, endpoint_url=await proxy.start())
    store = await open_store(_uri(stack), proxied, attempts=3, max_wait_s=0.1)
    try:
        # The retry of the put meets the object its lost first try wrote: success.
        etag = await store.put("checkpoint", b'{"offset": 7}', if_none_match=True)
        assert proxy.lost == 1
        got = await store.get("checkpoint")
        assert got is not None and (got.data, got.etag) == (b'{"offset": 7}', etag)
        # Someone else's object still fails the condition.
        with pytest.raises(PreconditionFailedError):
            await store.put("checkpoint", b'{"offset": 7}', if_none_match=True)
        with pytest.raises(PreconditionFailedError):
            await store.put("checkpoint", b'{"offset": 8}', if_match='"0123456789abcdef0123456789abcdef"')
    finally:
        await store.close()
        await proxy.close()
