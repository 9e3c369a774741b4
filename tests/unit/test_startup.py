"""Start-up's waiting: the backoff, the one-line-per-window rule, what /readyz and
/healthz say while starting, and which errors stop start-up at once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from keystone_nexus.errors import ConfigError, RegistryUnavailableError, StoreUnavailableError
from keystone_nexus.ops.health import HealthServer
from keystone_nexus.ops.top import render
from keystone_nexus.startup import Backoff, Startup, StartupAborted, retriable, should_log


def test_the_backoff_doubles_from_half_a_second_to_a_cap_of_30_s() -> None:
    backoff = Backoff()
    middle = [backoff.delay(n, 0.5) for n in range(1, 10)]
    assert middle == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.delay(1, 0.0) == pytest.approx(0.4) and backoff.delay(1, 0.999) == pytest.approx(
        0.6, abs=1e-3
    )
    assert max(backoff.delay(n, r) for n in range(1, 40) for r in (0.0, 0.5, 0.999)) == 30.0


def test_one_line_per_window() -> None:
    def same_kind(failures: int, now: float) -> bool:
        return should_log(failures=failures, kind="E", last_kind="E", now=now, last_line=0.0, window_s=30.0)

    assert should_log(failures=1, kind="E", last_kind="", now=0.0, last_line=0.0, window_s=30.0)
    assert not any(same_kind(n, now=n * 2.0) for n in range(2, 15))
    assert same_kind(16, now=30.0)
    assert should_log(failures=3, kind="F", last_kind="E", now=3.0, last_line=0.0, window_s=30.0)


def test_what_is_worth_waiting_for() -> None:
    assert retriable(KafkaConnectionError("Unable to bootstrap"))
    assert retriable(StoreUnavailableError("S3 unreachable")) and retriable(RegistryUnavailableError("x"))
    assert retriable(TimeoutError())
    assert not retriable(ConfigError("kafka.topics: ...")) and not retriable(ValueError("bug"))


def _startup() -> Startup:
    return Startup(backoff=Backoff(initial_s=0.01, max_s=0.02))


async def test_retriable_failures_are_waited_out_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    notes: list[str] = []
    startup, tries = Startup(backoff=Backoff(initial_s=0.01, max_s=0.02), notify=notes.append), []
    seen: list[list[str]] = []

    async def attempt() -> str:
        tries.append(1)
        seen.append(startup.reasons())
        if len(tries) < 5:
            raise KafkaConnectionError("Unable to bootstrap from [127.0.0.1:1]")
        return "connected"

    with caplog.at_level(logging.INFO, logger="keystone_nexus.startup"):
        assert await startup.wait_for("Kafka", "127.0.0.1:1", attempt, asyncio.Event()) == "connected"
    assert len(tries) == 5
    assert seen[0] == ["starting: connecting to Kafka"]
    assert seen[-1][0].startswith(
        "waiting for Kafka (127.0.0.1:1): KafkaConnectionError: Unable to bootstrap"
    )
    assert "(attempt 4," in seen[-1][0]
    events = [r.getMessage() for r in caplog.records]
    assert events == ["waiting for Kafka", "Kafka available"]
    assert cast(Any, caplog.records[1]).attempts == 5
    assert startup.waiting == {} and startup.waited
    # systemd: what it waits for once, and the start timeout extended at every try
    assert [n for n in notes if n.startswith("STATUS=")] == ["STATUS=waiting for Kafka (127.0.0.1:1)"]
    assert sum(n.startswith("EXTEND_TIMEOUT_USEC=") for n in notes) == 4


async def test_an_error_waiting_cannot_fix_stops_at_once() -> None:
    startup, tries = _startup(), []

    async def attempt() -> None:
        tries.append(1)
        raise ConfigError("lake.uri: the bucket does not exist")

    with pytest.raises(ConfigError, match=r"lake\.uri"):
        await startup.wait_for("S3", "s3://lake", attempt, asyncio.Event())
    assert len(tries) == 1 and startup.waiting == {}


async def test_a_stop_while_waiting_ends_start_up() -> None:
    startup, stop = Startup(backoff=Backoff(initial_s=60, max_s=60)), asyncio.Event()

    async def attempt() -> None:
        raise StoreUnavailableError("S3 unreachable")

    waiting = asyncio.create_task(startup.wait_for("S3", "s3://lake", attempt, stop))
    await asyncio.sleep(0.05)
    assert startup.waiting_for() == ["S3"]
    stop.set()
    with pytest.raises(StartupAborted, match="S3"):
        await asyncio.wait_for(waiting, 2)


async def test_a_hung_attempt_is_bounded_and_tried_again() -> None:
    startup, tries = Startup(backoff=Backoff(initial_s=0.01, max_s=0.01), attempt_timeout_s=0.05), []

    async def attempt() -> str:
        tries.append(1)
        if len(tries) == 1:
            await asyncio.sleep(60)
        return "ok"

    assert await asyncio.wait_for(startup.wait_for("Glue", "reg", attempt, asyncio.Event()), 5) == "ok"
    assert len(tries) == 2


async def test_health_while_starting_is_alive_and_not_ready() -> None:
    startup = _startup()
    server = HealthServer(None, "127.0.0.1:1", "127.0.0.1", 0, liveness_bound_s=30, startup=startup)
    gate = asyncio.Event()

    async def attempt() -> None:
        if not gate.is_set():
            raise KafkaConnectionError("Unable to bootstrap from [127.0.0.1:1]")

    waiting = asyncio.create_task(startup.wait_for("Kafka", "127.0.0.1:1", attempt, asyncio.Event()))
    await asyncio.sleep(0.05)
    live = await server.healthz(cast(Any, None))
    ready = await server.readyz(cast(Any, None))
    status_answer = await server.status(cast(Any, None))
    status = orjson.loads(cast(bytes, status_answer.body))
    metrics = await server.metrics(cast(Any, None))
    gate.set()
    await waiting
    assert (live.status, orjson.loads(cast(bytes, live.body))["status"]) == (200, "starting")
    doc = orjson.loads(cast(bytes, ready.body))
    assert ready.status == 503 and doc["starting"] and doc["waiting_for"] == ["Kafka"]
    assert doc["reasons"][0].startswith("waiting for Kafka (127.0.0.1:1)")
    assert status_answer.status == 503 and status["starting"] and status["waiting_for"] == ["Kafka"]
    assert "waiting for Kafka" in render(status, None, 1.0)  # what `nexus top` shows meanwhile
    assert metrics.status == 200 and b"nexus_" in cast(bytes, metrics.body)
