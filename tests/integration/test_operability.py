"""The daemon's health endpoint, lag metrics and sd_notify against a real broker."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from keystone_nexus import devstack
from tests.integration.sinkkit import TOPICS, Broker, SinkProcess, produce_known_set, sink_env

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def metric(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}}") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_health_lag_and_notify(broker: Broker, tmp_path: Path) -> None:
    port = devstack.free_port()
    base = f"http://127.0.0.1:{port}"
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(0.2)
    env = sink_env(
        broker.bootstrap,
        f"file://{tmp_path / 'lake'}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_HEALTH__PORT=str(port),
        # Nothing is due by count or age: everything fetched stays unflushed, so the lag is exact.
        NEXUS_SINK__MAX_BATCH_RECORDS="1000000",
        NEXUS_SINK__MAX_LATENCY_S="3600",
        NEXUS_SINK__IDLE_FLUSH_S="3600",
        NOTIFY_SOCKET=notify_path,
        WATCHDOG_USEC="2000000",
    )
    messages: list[tuple[float, str]] = []
    reading = threading.Event()
    reading.set()

    def read_notifications() -> None:  # systemd reads its socket promptly; so does this test
        while reading.is_set():
            try:
                messages.append((time.monotonic(), notify.recv(256).decode()))
            except TimeoutError:
                continue

    reader = threading.Thread(target=read_notifications, daemon=True)
    reader.start()

    run = SinkProcess(env, tmp_path)
    try:
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, 30), run.log()
        assert wait_for(lambda: get(f"{base}/readyz")[0] == 200, 30), get(f"{base}/readyz")
        produced = produce_known_set(broker.bootstrap, 250)
        expected = {
            topic: sum(end for (t, _), end in produced.ends.items() if t == topic) for topic in TOPICS
        }

        def lag_is_exact() -> bool:
            text = get(f"{base}/metrics")[1].decode()
            return all(
                metric(text, "nexus_sink_sum_offset_lag_records", topic=t) == expected[t] for t in TOPICS
            )

        assert wait_for(lag_is_exact, 30), get(f"{base}/metrics")[1].decode()[-3000:]
        status = orjson.loads(get(f"{base}/status")[1])
        assert {p["topic"] for p in status["partitions"]} == set(TOPICS)
        for p in status["partitions"]:
            end = produced.ends.get((p["topic"], p["partition"]), 0)
            assert (p["committed"], p["high_water"], p["offset_lag"]) == (0, end, end)
            assert p["buffered"] == end
        assert status["topics"]["olist.orders.v1"]["max_offset_lag"] == max(
            end for (t, _), end in produced.ends.items() if t == "olist.orders.v1"
        )
        assert status["topics"]["olist.orders.v1"]["estimated_max_time_lag_s"] > 0
        top = subprocess.run(
            [sys.executable, "-m", "keystone_nexus", "top", "--url", base, "--once"],
            capture_output=True,
            text=True,
            check=True,
        )
        orders_line = next(line for line in top.stdout.splitlines() if line.startswith("olist.orders.v1 "))
        assert f"{expected['olist.orders.v1']:,}" in orders_line

        steady_from = time.monotonic()
        time.sleep(4)  # a steady loop: watchdog pings come at half the 2 s interval
        broker.process.stop()  # the broker goes away: not ready, still alive
        assert wait_for(lambda: get(f"{base}/readyz")[0] == 503, 15)
        assert b"broker unreachable" in get(f"{base}/readyz")[1]
        assert get(f"{base}/healthz")[0] == 200
        broker.process = broker.process.restart()
        devstack.wait_for_broker(broker.bootstrap, timeout=30)
        devstack.create_topics(broker.bootstrap, list(TOPICS), 3)
        assert wait_for(lambda: get(f"{base}/readyz")[0] == 200, 30), get(f"{base}/readyz")
    finally:
        assert run.stop() == 0, run.log()
        time.sleep(0.5)
        reading.clear()
        reader.join(5)
        notify.close()
    texts = [m for _, m in messages]
    assert texts[0] == "READY=1", texts[:5]
    assert texts[-1] == "STOPPING=1"
    pings = [t for t, m in messages if m == "WATCHDOG=1" and steady_from <= t <= steady_from + 4]
    assert len(pings) >= 2
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) < 2.0, "watchdog pings must come more often than the watchdog interval"
