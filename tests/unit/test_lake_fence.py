"""The fence probe: a store that enforces conditional writes passes and keeps no probe;
one that ignores them stops the sink's start-up with a one-line reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from keystone_nexus import wiring
from keystone_nexus.config import HealthSettings, KafkaSettings, LakeSettings, RegistrySettings, Settings
from keystone_nexus.dev.stack import free_port
from keystone_nexus.errors import FencingUnsupportedError, StoreUnavailableError
from keystone_nexus.lake import LocalStore
from keystone_nexus.lake.fence import PROBE_PREFIX, probe_fencing, probe_key
from keystone_nexus.lake.store import ObjectStore, StoredObject


class IgnoresConditions:
    """A store that drops `if_none_match` (and, with `if_match_too`, `if_match`) as
    some S3-compatible servers do: every put lands."""

    def __init__(self, inner: ObjectStore, *, if_match_too: bool = False) -> None:
        self.inner, self.if_match_too = inner, if_match_too
        self.uri = inner.uri

    async def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        if self.if_match_too:
            if_match = None
        return await self.inner.put(key, data, if_match=if_match)

    async def get(self, key: str) -> StoredObject | None:
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()


async def test_a_store_that_fences_passes_and_keeps_no_probe(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    await probe_fencing(store, "ip-10-0-0-7:4242:1a2b3c4d")
    assert await store.list("") == []


def test_the_probe_key_is_fresh_and_clearly_named() -> None:
    a, b = probe_key("ip-10-0-0-7:4242:1a2b"), probe_key("ip-10-0-0-7:4242:1a2b")
    assert a != b and a.startswith(f"{PROBE_PREFIX}ip-10-0-0-7-4242-1a2b-")
    assert PROBE_PREFIX == "_checkpoints/_fence_probe/" and not a.endswith(".json")


@pytest.mark.parametrize("if_match_too", [False, True])
async def test_a_store_that_ignores_if_none_match_is_refused(tmp_path: Path, if_match_too: bool) -> None:
    store = IgnoresConditions(LocalStore(tmp_path), if_match_too=if_match_too)
    with pytest.raises(FencingUnsupportedError) as refused:
        await probe_fencing(store, "owner")
    message = str(refused.value)
    assert f"the object store at file://{tmp_path} ignores conditional writes (If-None-Match)" in message
    assert "exactly-once needs them" in message and "\n" not in message
    assert await store.list("") == [], "the probe is deleted also when it fails"


async def test_a_store_that_ignores_only_if_match_is_refused(tmp_path: Path) -> None:
    class IgnoresIfMatch(IgnoresConditions):
        async def put(
            self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
        ) -> str:
            return await self.inner.put(key, data, if_none_match=if_none_match)

    with pytest.raises(FencingUnsupportedError, match=r"ignores conditional writes \(If-Match\)"):
        await probe_fencing(IgnoresIfMatch(LocalStore(tmp_path)), "owner")


async def test_a_store_that_cannot_be_reached_is_waited_for_not_refused(tmp_path: Path) -> None:
    class Down(IgnoresConditions):
        async def put(
            self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
        ) -> str:
            raise StoreUnavailableError("put: S3 unreachable or not answering")

    with pytest.raises(StoreUnavailableError) as down:
        await probe_fencing(Down(LocalStore(tmp_path)), "owner")
    assert down.value.retriable


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),  # nothing listens: waited for
        lake=LakeSettings(uri=f"file://{tmp_path / 'lake'}"),
        registry=RegistrySettings(local_path=tmp_path / "registry"),
        health=HealthSettings(port=0),
    )


async def test_the_sink_refuses_to_start_on_a_store_that_does_not_fence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def open_lake(settings: Settings, calls: Any = None) -> ObjectStore:
        return IgnoresConditions(LocalStore(tmp_path / "lake"))

    monkeypatch.setattr(wiring, "open_lake", open_lake)
    with pytest.raises(FencingUnsupportedError, match=r"ignores conditional writes \(If-None-Match\)"):
        await asyncio.wait_for(wiring.run_sink(_settings(tmp_path), asyncio.Event()), 30)
