"""The fence probe: does the lake's object store really enforce conditional writes?

Exactly-once rests on them: the checkpoint of a partition is written with
``If-None-Match: *`` (the first) or ``If-Match: <etag>`` (every later one), so a
zombie owner's write loses instead of overwriting its successor's. A store that
silently ignores the conditions (some S3-compatible servers, proxies, older
gateways) accepts both writes, and duplicates follow without a single error. So the
sink probes once at start-up, before it owns anything:

1. put a probe object with ``if_none_match`` -- it must succeed;
2. put it again with ``if_none_match`` -- it must fail (PreconditionFailed);
3. put it with ``if_match`` of an etag it does not have -- it must fail too;
4. delete the probe.

The probe key is ``_checkpoints/_fence_probe/<owner>-<random>``: a fresh key each
time, so two sinks starting together never see each other's probe, and a name no
checkpoint can have (checkpoints are ``_checkpoints/<topic>/<partition>.json``).

A store that cannot be reached raises StoreUnavailableError (retriable: start-up
waits for the store); one that ignores a condition raises FencingUnsupportedError.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable
from contextlib import suppress

from keystone_nexus.errors import FencingUnsupportedError, PreconditionFailedError, StoreError
from keystone_nexus.lake.store import ObjectStore
from keystone_nexus.sink.naming import CHECKPOINTS

__all__ = ["PROBE_PREFIX", "probe_fencing"]

PROBE_PREFIX = f"{CHECKPOINTS}/_fence_probe/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'


def probe_key(owner: str) -> str:
    """A fresh probe key for `owner` (its unsafe characters replaced)."""
    return f"{PROBE_PREFIX}{_UNSAFE.sub('-', owner).strip('-.') or 'owner'}-{uuid.uuid4().hex[:12]}"


def _refusal(store: ObjectStore, header: str) -> FencingUnsupportedError:
    return FencingUnsupportedError(
        f"the object store at {store.uri} ignores conditional writes ({header}); exactly-once "
        "needs them to fence a stale owner's checkpoint: use S3 or a store that answers "
        "412 PreconditionFailed to a failed condition, or keep the checkpoints in PostgreSQL "
        "(NEXUS_STATE__CHECKPOINTS=postgres with NEXUS_STATE__DSN)"
    )


async def _refused(put: Awaitable[str]) -> bool:
    try:
        await put
    except PreconditionFailedError:
        return True
    return False


async def probe_fencing(store: ObjectStore, owner: str) -> None:
    """Return when `store` enforces If-None-Match and If-Match; raise otherwise."""
    key = probe_key(owner)
    body = f"fence probe of {owner}\n".encode()
    await store.put(key, body, if_none_match=True)
    try:
        if not await _refused(store.put(key, body, if_none_match=True)):
            raise _refusal(store, "If-None-Match")
        if not await _refused(store.put(key, body, if_match=_NO_SUCH_ETAG)):
            raise _refusal(store, "If-Match")
    finally:
        with suppress(StoreError):  # a probe left behind is harmless: nothing reads the prefix
            await store.delete(key)
