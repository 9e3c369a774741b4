"""The bronze sink against a real broker: exactly once through crashes, kills,
rebalances and a paused zombie instance; with its checkpoints in the lake, and (the same
tests) in PostgreSQL (state.checkpoints = postgres)."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from keystone_nexus.dev import stack as devstack
from keystone_nexus.sink.commit import CRASH_POINTS
from tests.integration.sinkkit import (
    Broker,
    Produced,
    SinkProcess,
    lake_coords,
    produce_known_set,
    sink_env,
    wait_caught_up,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Checkpoints:
    """Where a test's checkpoints live: the settings that say so, and the DSN to read them."""

    env: dict[str, str]
    dsn: str | None = None


@pytest.fixture(params=["lake", "postgres"])
def checkpoints(request: pytest.FixtureRequest) -> Checkpoints:
    if request.param == "lake":
        return Checkpoints({})
    dsn = request.getfixturevalue("state_dsn")
    return Checkpoints({"NEXUS_STATE__DSN": dsn, "NEXUS_STATE__CHECKPOINTS": "postgres"}, dsn)


def assert_exactly_once(lake: Path, produced: Produced) -> None:
    bronze = lake_coords(lake, "bronze")
    dlq = lake_coords(lake, "dlq")
    assert not [c for c, n in bronze.items() if n > 1], "duplicates in bronze"
    assert not [c for c, n in dlq.items() if n > 1], "duplicates in the dead-letter store"
    assert set(bronze) == produced.valid, (
        f"missing {len(produced.valid - set(bronze))}, unexpected {len(set(bronze) - produced.valid)}"
    )
    assert set(dlq) == produced.invalid


def catch_up_and_check(
    env: dict[str, str], tmp_path: Path, lake: Path, produced: Produced, dsn: str | None = None
) -> None:
    """A clean run after the damage: it must catch up and leave every record exactly once."""
    final = SinkProcess(env, tmp_path)
    try:
        alive = lambda: final.proc.poll() is None  # noqa: E731
        assert wait_caught_up(lake, produced.ends, 90, alive=alive, dsn=dsn), final.log()
    finally:
        assert final.stop() == 0, final.log()
    assert_exactly_once(lake, produced)


def test_crash_at_every_commit_step_then_catch_up(
    broker: Broker, tmp_path: Path, checkpoints: Checkpoints
) -> None:
    produced = produce_known_set(broker.bootstrap, 400)
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        **checkpoints.env,
    )
    for point in CRASH_POINTS:
        run = SinkProcess(env, tmp_path, NEXUS_SINK__CRASH_AT=f"{point}:3")
        code = run.wait(90)
        assert code == 137, f"{point}: expected the injected crash, got {code}\n{run.log()}"
    catch_up_and_check(env, tmp_path, lake, produced, checkpoints.dsn)


def test_random_kill_9_while_writing(broker: Broker, tmp_path: Path, checkpoints: Checkpoints) -> None:
    produced = produce_known_set(broker.bootstrap, 600)
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        **checkpoints.env,
    )
    rng = random.Random(7)
    for _ in range(3):
        run = SinkProcess(env, tmp_path, NEXUS_SINK__MAX_BATCH_RECORDS="15")
        time.sleep(5 + rng.random() * 3)  # the group join takes ~5 s; then it writes
        run.kill()
    catch_up_and_check(env, tmp_path, lake, produced, checkpoints.dsn)


def test_two_instances_rebalance_and_a_paused_zombie(
    broker: Broker, tmp_path: Path, checkpoints: Checkpoints
) -> None:
    produced = produce_known_set(broker.bootstrap, 300)
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_SINK__MAX_BATCH_RECORDS="10",
        **checkpoints.env,
    )
    a = SinkProcess(env, tmp_path)
    b = c = None
    try:
        time.sleep(7)
        b = SinkProcess(env, tmp_path)  # joins: the group rebalances between a and b
        time.sleep(8)
        a.signal(signal.SIGSTOP)  # a becomes a zombie: b takes its partitions after the session timeout
        more = produce_known_set(broker.bootstrap, 200, start=10_000)
        time.sleep(15)
        a.signal(signal.SIGCONT)  # the zombie wakes with stale state and must not corrupt the lake
        c = SinkProcess(env, tmp_path)
        produced.valid |= more.valid
        produced.invalid |= more.invalid
        for key, end in more.ends.items():
            produced.ends[key] = max(produced.ends.get(key, 0), end)
        assert wait_caught_up(lake, produced.ends, 120, dsn=checkpoints.dsn), b.log()
    finally:
        for run in (a, b, c):
            if run is not None:
                run.stop()
    assert_exactly_once(lake, produced)


def test_sigterm_exits_zero_and_flushes_what_it_has(broker: Broker, tmp_path: Path) -> None:
    produced = produce_known_set(broker.bootstrap, 100)
    lake = tmp_path / "lake"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_SINK__MAX_BATCH_RECORDS="100000",
        NEXUS_SINK__MAX_LATENCY_S="3600",
        NEXUS_SINK__IDLE_FLUSH_S="3600",
        NEXUS_HEALTH__PORT=str(port := devstack.free_port()),
    )
    run = SinkProcess(env, tmp_path)
    total = len(produced.valid | produced.invalid)
    deadline = time.monotonic() + 120
    buffered = 0
    while buffered < total and time.monotonic() < deadline:  # joined and buffered everything
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/status"
        with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=5) as response:
            buffered = sum(p["buffered"] for p in json.load(response)["partitions"])
    assert buffered == total, run.log()
    assert not lake_coords(lake, "bronze")  # nothing is due by count or age
    started = time.monotonic()
    assert run.stop() == 0, run.log()
    assert time.monotonic() - started < 15
    assert_exactly_once(lake, produced)
