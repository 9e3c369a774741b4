"""The lake in S3 (``s3://bucket/prefix``) through aioboto3, keeping the contract of
:mod:`keystone_nexus.lake.store`.

* Keys are stored under the uri's prefix: key ``a/b`` of ``s3://lake/bronze`` is the
  object ``bronze/a/b`` of bucket ``lake``.
* Conditional puts use PutObject with ``IfMatch`` / ``IfNoneMatch="*"``; HTTP 412
  PreconditionFailed and 409 ConditionalRequestConflict (a concurrent conditional
  write), and NoSuchKey on an ``if_match`` put, raise PreconditionFailedError.
  Conditional puts always go in one PutObject, whatever their size (S3 takes up to
  5 GiB that way): they are meant for small objects such as checkpoints.
* Unconditional puts larger than ``multipart_threshold`` bytes go in a multipart
  upload of ``part_size`` parts, ``max_concurrency`` at a time; a failed upload is
  aborted.
* The etag is S3's ETag: a digest of the content, so it stays the same when identical
  bytes are written again.

Retries live here and only here (:meth:`S3Store._call`): errors that say "try again"
(throttling, 5xx, connection errors and timeouts) become StoreUnavailableError and
are retried with exponential backoff and jitter, up to ``attempts`` tries with waits
of at most ``max_wait_s``; every other error is raised at once. Each try is timed, and
counted as an error when it fails, in ``calls`` (service ``s3``, the S3 operation).

Every try is bounded in time. Requests without a body rely on the connect and read
timeouts of :class:`~keystone_nexus.aws.clients.AwsOptions`. Requests with one (PutObject,
UploadPart) also get a deadline of ``timeout_s + size / min_upload_rate`` (``timeout_s``
is connect + read timeout): botocore sends them with ``Expect: 100-continue``, and
aiohttp neither times the wait for the "100 Continue" nor the sending of the body, so
a server that accepts the connection and then stalls would hang them for ever.

A retried conditional put is ambiguous: a try whose answer was lost (a dropped
connection, a timeout after the body was sent) may have landed, and then the retry
fails its own condition. So each conditional put carries a random id in its user
metadata (``nexus-write-id``, the same on every try); when the condition fails, the
store reads the object's metadata (one HeadObject) and reports success if the id is
its own. This does not count on seeing the retry: botocore may retry inside one try.
Comparing content instead would be wrong: two writers of identical bytes would both
see "their" object and both claim the same compare-and-swap.
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from functools import partial
from typing import Any, TypedDict, TypeVar, Unpack

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.aws.errors import NETWORK_ERRORS, classify, error_code
from keystone_nexus.errors import PreconditionFailedError, StoreError, StoreUnavailableError
from keystone_nexus.lake.store import StoredObject, check_key, check_prefix, check_put
from keystone_nexus.ops.metrics import AwsCallMetrics

__all__ = ["MIN_PART_SIZE", "S3Limits", "S3Store"]

T = TypeVar("T")

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last

_CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict"}
WRITE_ID = "nexus-write-id"  # user metadata on conditional puts, for _landed


class S3Limits(TypedDict, total=False):
    """Tuning of :class:`S3Store` (see its constructor)."""

    attempts: int
    max_wait_s: float
    multipart_threshold: int
    part_size: int
    max_concurrency: int
    min_upload_rate: float
    list_page_size: int


def _condition_failed(exc: ClientError) -> bool:
    failure = classify(exc)
    return failure.code in _CONDITION_FAILED or failure.status == 412


def _translate(exc: BaseException, what: str) -> StoreError:
    failure = classify(exc)
    if isinstance(exc, ClientError):
        if _condition_failed(exc):
            return PreconditionFailedError(f"{what}: the condition failed ({failure.code})")
        if failure.transient:
            return StoreUnavailableError(f"{what}: S3 unavailable, try again later: {exc}")
        if failure.code == "NoSuchBucket":
            return StoreError(f"{what}: the bucket does not exist; create it or fix the lake uri")
        return StoreError(f"{what}: {exc}")
    if failure.network:
        return StoreUnavailableError(f"{what}: S3 unreachable or not answering: {exc}")
    return StoreError(f"{what}: {exc}")


class S3Store:
    """An :class:`~keystone_nexus.lake.store.ObjectStore` over `s3` (an aioboto3 S3
    client), rooted at `prefix` in `bucket`. Usually made with :meth:`open`."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        prefix: str = "",
        *,
        attempts: int = 6,
        max_wait_s: float = 5.0,
        multipart_threshold: int = 16 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 4,
        min_upload_rate: float = 1 * MiB,
        list_page_size: int = 1000,
        timeout_s: float = 35.0,
        calls: AwsCallMetrics | None = None,
    ) -> None:
        """`attempts` tries per request, waiting at most `max_wait_s` between two;
        unconditional puts above `multipart_threshold` bytes go in `part_size` parts,
        `max_concurrency` at a time; a request with a body may take `timeout_s` plus
        its size over `min_upload_rate` (bytes/s); `list` asks for `list_page_size`
        keys a page (S3 gives at most 1000); `calls` records each request's latency
        and errors."""
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be >= {MIN_PART_SIZE} (5 MiB, S3's minimum), got {part_size}")
        if multipart_threshold < 1:
            raise ValueError(f"multipart_threshold must be >= 1, got {multipart_threshold}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if min_upload_rate <= 0 or timeout_s <= 0:
            raise ValueError(f"min_upload_rate and timeout_s must be > 0, got {min_upload_rate}, {timeout_s}")
        if list_page_size < 1:
            raise ValueError(f"list_page_size must be >= 1, got {list_page_size}")
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.min_upload_rate = min_upload_rate
        self.list_page_size = list_page_size
        self.timeout_s = timeout_s
        self.calls = calls or AwsCallMetrics()
        self._root = f"{self.prefix}/" if self.prefix else ""
        self._stack: AsyncExitStack | None = None

    @classmethod
    async def open(
        cls,
        options: AwsOptions,
        bucket: str,
        prefix: str = "",
        *,
        calls: AwsCallMetrics | None = None,
        **limits: Unpack[S3Limits],
    ) -> S3Store:
        """A store with its own S3 client, released by :meth:`close`."""
        stack = AsyncExitStack()
        s3 = await stack.enter_async_context(client(options, "s3"))
        try:
            timeout_s = options.connect_timeout_s + options.read_timeout_s
            store = cls(s3, bucket, prefix, timeout_s=timeout_s, calls=calls, **limits)
        except BaseException:
            await stack.aclose()
            raise
        store._stack = stack
        return store

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r})"

    def _deadline(self, body: bytes) -> float:
        return self.timeout_s + len(body) / self.min_upload_rate

    async def _call(
        self,
        what: str,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        deadline_s: float | None = None,
    ) -> T:
        """The one retry loop: `call` again while it fails with a retriable error;
        each try within `deadline_s` seconds, if given, and timed as `operation`."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: getattr(e, "retriable", False)),
            wait=wait_exponential_jitter(multiplier=0.1, max=self.max_wait_s, jitter=0.1),
            stop=stop_after_attempt(self.attempts),
            reraise=True,
        ):
            with attempt, self.calls.timed("s3", operation):
                try:
                    async with asyncio.timeout(deadline_s):
                        return await call()
                except (ClientError, BotoCoreError, *NETWORK_ERRORS) as exc:
                    raise _translate(exc, what) from exc
        raise AssertionError("unreachable")

    # -- the contract

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        check_put(key, if_match, if_none_match)
        what = f"put {key!r} in {self.uri}"
        if if_match is None and not if_none_match and len(data) > self.multipart_threshold:
            return await self._put_multipart(what, self._root + key, data)
        return await self._put_single(what, self._root + key, data, if_match, if_none_match)

    async def get(self, key: str) -> StoredObject | None:
        check_key(key)

        async def get_once() -> StoredObject | None:
            try:
                response = await self._s3.get_object(Bucket=self.bucket, Key=self._root + key)
            except ClientError as exc:
                if error_code(exc) == "NoSuchKey":
                    return None
                raise
            async with response["Body"] as body:
                data = await body.read()
            return StoredObject(key=key, data=data, etag=str(response["ETag"]))

        return await self._call(f"get {key!r} from {self.uri}", "GetObject", get_once)

    async def list(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        what = f"list {prefix!r} in {self.uri}"
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": self._root + prefix,
            "MaxKeys": self.list_page_size,
        }
        keys: list[str] = []
        while True:
            page = await self._call(what, "ListObjectsV2", partial(self._s3.list_objects_v2, **args))
            keys.extend(str(item["Key"])[len(self._root) :] for item in page.get("Contents", ()))
            if not page.get("IsTruncated"):
                return sorted(keys)
            args["ContinuationToken"] = str(page["NextContinuationToken"])

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call(
            f"delete {key!r} from {self.uri}",
            "DeleteObject",
            partial(self._s3.delete_object, Bucket=self.bucket, Key=self._root + key),
        )

    # -- puts

    async def _put_single(
        self, what: str, full_key: str, data: bytes, if_match: str | None, if_none_match: bool
    ) -> str:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full_key, "Body": data}
        write_id = ""
        if if_match is not None or if_none_match:
            write_id = uuid.uuid4().hex  # the same for every try of this put
            args["Metadata"] = {WRITE_ID: write_id}
        if if_match is not None:
            args["IfMatch"] = if_match
        if if_none_match:
            args["IfNoneMatch"] = "*"

        async def put_once() -> str:
            try:
                response = await self._s3.put_object(**args)
            except ClientError as exc:
                gone = if_match is not None and error_code(exc) == "NoSuchKey"
                if not (gone or _condition_failed(exc)):
                    raise
                if (etag := await self._landed(full_key, write_id)) is not None:
                    return etag  # an earlier try of this put landed, its answer was lost
                wanted = f"etag {if_match}" if if_match is not None else "no object"
                found = "no object" if gone else "another version" if if_match else "an object"
                raise PreconditionFailedError(
                    f"{what}: expected {wanted}, found {found} ({error_code(exc)})"
                ) from exc
            return str(response["ETag"])

        return await self._call(what, "PutObject", put_once, deadline_s=self._deadline(data))

    async def _landed(self, full_key: str, write_id: str) -> str | None:
        """The current ETag if the current object was written by the put `write_id`."""
        try:
            head = await self._s3.head_object(Bucket=self.bucket, Key=full_key)
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return str(head["ETag"]) if head.get("Metadata", {}).get(WRITE_ID) == write_id else None

    async def _put_multipart(self, what: str, full_key: str, data: bytes) -> str:
        target = {"Bucket": self.bucket, "Key": full_key}
        created = await self._call(
            what,
            "CreateMultipartUpload",
            partial(self._s3.create_multipart_upload, **target, ChecksumAlgorithm="CRC32"),
        )
        upload = {**target, "UploadId": str(created["UploadId"])}
        try:
            parts = await self._upload_parts(what, upload, data)
            completed = await self._call(
                what,
                "CompleteMultipartUpload",
                partial(self._s3.complete_multipart_upload, **upload, MultipartUpload={"Parts": parts}),
            )
            return str(completed["ETag"])
        except BaseException:
            with suppress(Exception):
                await self._call(
                    f"abort {what}",
                    "AbortMultipartUpload",
                    partial(self._s3.abort_multipart_upload, **upload),
                )
            raise

    async def _upload_parts(
        self, what: str, upload: dict[str, str], data: bytes
    ) -> builtins.list[dict[str, Any]]:
        slots = asyncio.Semaphore(self.max_concurrency)

        async def one(number: int, start: int) -> dict[str, Any]:
            async with slots:
                chunk = data[start : start + self.part_size]
                response = await self._call(
                    f"{what} (part {number})",
                    "UploadPart",
                    partial(
                        self._s3.upload_part,
                        **upload,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumAlgorithm="CRC32",
                    ),
                    deadline_s=self._deadline(chunk),
                )
            part = {"PartNumber": number, "ETag": str(response["ETag"])}
            if "ChecksumCRC32" in response:
                part["ChecksumCRC32"] = str(response["ChecksumCRC32"])
            return part

        starts = range(0, len(data), self.part_size)
        tasks = [asyncio.create_task(one(n, start)) for n, start in enumerate(starts, start=1)]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
