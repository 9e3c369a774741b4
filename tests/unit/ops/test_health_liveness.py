"""/healthz against the configured liveness bound (the sink is faked: only its
consume-loop age is read, through the health endpoint's SinkView)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import orjson

from keystone_nexus.config import Settings
from keystone_nexus.ops.health import HealthServer


def _healthz(loop_age_s: float, bound_s: float) -> tuple[int, dict[str, Any]]:
    sink = SimpleNamespace(loop_age_s=lambda: loop_age_s)
    server = HealthServer(cast(Any, sink), "127.0.0.1:9092", "127.0.0.1", 0, liveness_bound_s=bound_s)

    async def call() -> Any:
        return await server.healthz(cast(Any, None))

    response = asyncio.run(call())
    return response.status, orjson.loads(response.body)


def test_a_loop_within_the_bound_is_alive_and_one_beyond_it_is_stalled() -> None:
    status, doc = _healthz(loop_age_s=5, bound_s=10)
    assert (status, doc["status"], doc["bound_s"]) == (200, "ok", 10)
    status, doc = _healthz(loop_age_s=12, bound_s=10)
    assert (status, doc["status"]) == (503, "stalled")
    assert doc["consume_loop_age_s"] >= 12


def test_the_bound_is_a_setting(monkeypatch: Any) -> None:
    assert Settings().health.liveness_bound_s == 30.0
    monkeypatch.setenv("NEXUS_HEALTH__LIVENESS_BOUND_S", "90")
    assert Settings().health.liveness_bound_s == 90.0
