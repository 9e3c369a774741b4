"""The lake's object store: the interface both implementations keep, and its key rules.

Keys are relative to the store's root and '/'-separated, like S3 keys; the same key
names the same object in a ``file://`` lake and in an ``s3://`` lake. A key must not
be empty or absolute, and no segment may be empty, '.', '..', or start with '.~'
(names starting with '.~' are the local store's temp and lock files).

Conditional puts are compare-and-swap on the etag, an opaque version token:

* ``if_none_match=True`` -- create only: fails if any object exists at the key;
* ``if_match=etag`` -- replace only the version read: fails if the object changed
  or is gone.

A failed condition raises :class:`~keystone_nexus.errors.PreconditionFailedError`;
read the object again and decide. The etag changes whenever the content changes. The
local store also changes it on every put of identical bytes; S3's etag is a digest of
the content, so rewriting identical bytes there keeps it (a CAS that expected those
bytes still holds). Conditional puts are meant for small objects (checkpoints,
markers): on S3 they always go in one PutObject, never in a multipart upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["ObjectStore", "StoredObject", "check_key", "check_prefix"]

RESERVED_PREFIX = ".~"


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    data: bytes
    etag: str  # opaque version token; pass back as if_match


@runtime_checkable
class ObjectStore(Protocol):
    """An async key -> bytes store with atomic, optionally conditional, puts."""

    uri: str

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Write `data` at `key` (relative to the store root, '/'-separated). Atomic: a
        reader sees the old or the new object, never a partial one. if_match: only if
        the current object's etag equals it; if_none_match: only if no object exists.
        Raises PreconditionFailedError when the condition fails. Returns the new etag."""
        ...

    async def get(self, key: str) -> StoredObject | None:
        """The object at `key`, or None when there is none."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Every key starting with `prefix` ('' for all), recursively, sorted."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object at `key`; an absent key is fine."""
        ...

    async def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...


def _check_segments(segments: list[str], what: str, text: str) -> None:
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"{what} {text!r}: empty, '.' and '..' segments are not allowed")
        if segment.startswith(RESERVED_PREFIX):
            raise ValueError(f"{what} {text!r}: segments starting with {RESERVED_PREFIX!r} are reserved")


def check_key(key: str) -> str:
    """`key` itself if it is a valid object key, else ValueError saying why."""
    if not key:
        raise ValueError("object key is empty")
    if key.startswith("/"):
        raise ValueError(f"object key {key!r} is absolute; keys are relative to the store root")
    if "\0" in key:
        raise ValueError(f"object key {key!r} contains a NUL character")
    _check_segments(key.split("/"), "object key", key)
    return key


def check_put(key: str, if_match: str | None, if_none_match: bool) -> str:
    """The checks every store makes before a put: a valid key and one condition at most."""
    check_key(key)
    if if_match is not None and if_none_match:
        raise ValueError("pass if_match or if_none_match, not both")
    return key


def check_prefix(prefix: str) -> str:
    """`prefix` itself if it can start valid keys ('' and 'a/b/' and 'a/dt=20' can)."""
    if not prefix:
        return prefix
    if prefix.startswith("/"):
        raise ValueError(f"list prefix {prefix!r} is absolute; prefixes are relative to the store root")
    if "\0" in prefix:
        raise ValueError(f"list prefix {prefix!r} contains a NUL character")
    # The last segment is only matched as text ('dt=20' or '' after a trailing '/').
    _check_segments(prefix.split("/")[:-1], "list prefix", prefix)
    return prefix
