"""Open the lake's object store named by a uri: the one place that maps a uri to an
implementation.

* ``file:///abs/path`` or ``file://./relative/path`` (relative to the working
  directory) -- :class:`~keystone_nexus.lake.local.LocalStore`;
* ``s3://bucket`` or ``s3://bucket/prefix`` -- :class:`~keystone_nexus.lake.s3.S3Store`
  with its own client built from `aws`.

`limits` tune the S3 store (retry attempts and wait, multipart threshold, part size,
concurrency) and `calls` records its requests; the local store has nothing to tune or
time and ignores them.
"""

from __future__ import annotations

from typing import Unpack

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.lake.local import LocalStore
from keystone_nexus.lake.s3 import S3Limits, S3Store
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.ops.metrics import AwsCallMetrics

__all__ = ["open_store"]


def _local_root(uri: str) -> str:
    path = uri.removeprefix("file://")
    if path.startswith("/") or path in (".", "..") or path.startswith(("./", "../")):
        return path
    raise ValueError(
        f"lake uri {uri!r}: write file:///absolute/path or file://./relative/path "
        "(file://host/... is not supported)"
    )


async def open_store(
    uri: str, aws: AwsOptions, *, calls: AwsCallMetrics | None = None, **limits: Unpack[S3Limits]
) -> ObjectStore:
    """The object store at `uri`; close it with ``await store.close()``."""
    if uri.startswith("file://"):
        return LocalStore(_local_root(uri))
    if uri.startswith("s3://"):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"lake uri {uri!r} names no bucket: write s3://bucket/prefix")
        return await S3Store.open(aws, bucket, prefix, calls=calls, **limits)
    raise ValueError(f"lake uri {uri!r} is neither file:///path nor s3://bucket/prefix")
