"""The lake in a local directory (``file://``): the embedded default and the test double
of S3, keeping the same contract (see :mod:`keystone_nexus.lake.store`).

An object is a plain file at ``root/<key>``, so DuckDB and dbt read the lake directly.

How a put works, and why it is safe:

1. the bytes go to ``.~tmp.<random>`` in the target's directory, then fdatasync;
2. under an exclusive ``flock`` on the directory's ``.~lock`` file, the condition is
   checked against the current file, the temp file gets an mtime strictly greater
   than the current file's, is fsynced, and ``os.replace``-d over the key; then the
   directory is fsynced.

Readers open the key and see either the old or the new inode, never a partial file.
flock locks are per open file, so they exclude other processes and other threads of
this one alike: two processes may compare-and-swap the same key. Deletes take the same
lock, so a conditional put never resurrects an object deleted after its check.

The etag is ``<mtime_ns>-<size>-<inode>`` in hex, read from the open file. As every put
under the lock moves the mtime forward, it changes on each put, identical bytes
included; this needs a filesystem with sub-second timestamps (ext4, xfs, btrfs, tmpfs,
APFS). A crash can leave ``.~tmp.*`` files; they are never listed. Deleting the last
key of a directory leaves the (empty) directory behind.

Blocking file I/O runs in worker threads (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import builtins
import fcntl
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from keystone_nexus.errors import PreconditionFailedError, StoreError
from keystone_nexus.lake.store import RESERVED_PREFIX, StoredObject, check_key, check_prefix, check_put

__all__ = ["LocalStore"]

T = TypeVar("T")

LOCK_NAME = f"{RESERVED_PREFIX}lock"
TMP_PREFIX = f"{RESERVED_PREFIX}tmp."
_fdatasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _etag(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(directory: Path) -> None:
    """Create `directory` and missing parents, each entry made durable."""
    if directory.is_dir():
        return
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue  # a concurrent put made it (and syncs it)
        _fsync_dir(path.parent)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _current(path: Path) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LocalStore:
    """An :class:`~keystone_nexus.lake.store.ObjectStore` over the directory `root`
    (created on the first put)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(root))
        self.uri = f"file://{self.root}"

    def __repr__(self) -> str:
        return f"LocalStore({self.uri!r})"

    async def _run(self, what: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except OSError as exc:
            raise StoreError(f"{what} in {self.uri}: {exc}") from exc

    # -- the contract

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        check_put(key, if_match, if_none_match)
        return await self._run(f"put {key!r}", lambda: self._put(key, data, if_match, if_none_match))

    async def get(self, key: str) -> StoredObject | None:
        check_key(key)
        return await self._run(f"get {key!r}", lambda: self._get(key))

    async def list(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        return await self._run(f"list {prefix!r}", lambda: self._list(prefix))

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._run(f"delete {key!r}", lambda: self._delete(key))

    async def close(self) -> None:
        return None

    # -- blocking parts, run in worker threads

    def _put(self, key: str, data: bytes, if_match: str | None, if_none_match: bool) -> str:
        path = self.root / key
        directory = path.parent
        _ensure_dir(directory)
        tmp = directory / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        replaced = False
        try:
            _write_all(fd, data)
            _fdatasync(fd)  # the slow part, outside the lock
            with _locked(directory):
                current = _current(path)
                if if_none_match and current is not None:
                    raise PreconditionFailedError(f"put {key!r} in {self.uri}: an object already exists")
                if if_match is not None and (current is None or _etag(current) != if_match):
                    found = "no object" if current is None else f"etag {_etag(current)}"
                    raise PreconditionFailedError(
                        f"put {key!r} in {self.uri}: expected etag {if_match}, found {found}"
                    )
                mtime = time.time_ns()
                if current is not None:
                    mtime = max(mtime, current.st_mtime_ns + 1)
                os.utime(fd, ns=(mtime, mtime))
                os.fsync(fd)
                try:
                    os.replace(tmp, path)
                except IsADirectoryError as exc:
                    raise StoreError(
                        f"put {key!r} in {self.uri}: the key is a directory of other keys"
                    ) from exc
                replaced = True
                _fsync_dir(directory)
            return _etag(os.fstat(fd))
        finally:
            os.close(fd)
            if not replaced:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)

    def _get(self, key: str) -> StoredObject | None:
        try:
            fd = os.open(self.root / key, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None  # a directory of other keys
            with open(fd, "rb", closefd=False) as file:
                return StoredObject(key=key, data=file.read(), etag=_etag(st))
        finally:
            os.close(fd)

    def _list(self, prefix: str) -> builtins.list[str]:
        head = prefix.rpartition("/")[0]
        base = self.root / head if head else self.root
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            stem = "" if rel == "." else f"{rel}/"
            dirnames[:] = [
                d
                for d in dirnames
                if not d.startswith(RESERVED_PREFIX)
                and (f"{stem}{d}/".startswith(prefix) or prefix.startswith(f"{stem}{d}/"))
            ]
            keys.extend(
                f"{stem}{name}"
                for name in filenames
                if not name.startswith(RESERVED_PREFIX) and f"{stem}{name}".startswith(prefix)
            )
        return sorted(keys)

    def _delete(self, key: str) -> None:
        path = self.root / key
        if not path.parent.is_dir() or path.is_dir():
            return
        with _locked(path.parent):
            try:
                os.unlink(path)
            except FileNotFoundError:
                return
            _fsync_dir(path.parent)
