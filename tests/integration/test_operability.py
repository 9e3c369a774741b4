"""The daemon's health endpoint, lag metrics, CloudWatch and EMF figures, sd_notify and
shutdown under load, against a real broker and moto's server."""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import StackInfo
from tests.integration.sinkkit import (
    TOPICS,
    Broker,
    Produced,
    SinkProcess,
    checkpoint_offsets,
    get,
    lake_coords,
    produce_known_set,
    sink_env,
    wait_for,
)

pytestmark = pytest.mark.integration


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


def merged(*parts: Produced) -> Produced:
    out = Produced()
    for part in parts:
        out.valid |= part.valid
        out.invalid |= part.invalid
        for key, end in part.ends.items():
            out.ends[key] = max(out.ends.get(key, 0), end)
    return out


def emf_lines(log: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in log.splitlines() if line.startswith('{"_aws":')]


def json_logs(log: str, event: str) -> list[dict[str, Any]]:
    out = []
    for line in log.splitlines():
        if line.startswith("{") and f'"event":"{event}"' in line:
            out.append(orjson.loads(line))
    return out


def test_sigterm_under_load_then_true_lag_after_restart_and_pause(
    stack: StackInfo, broker: Broker, tmp_path: Path
) -> None:
    """SIGTERM while records stream in: exit 0 within the drain bound. Records produced
    while the sink is down, then while it is stopped (SIGSTOP), show on /metrics, /status,
    in CloudWatch (read back from moto) and in EMF lines as exactly their true lag: the
    broker's end offsets (from the delivery reports) minus the lake checkpoints. A last
    SIGTERM flushes everything: every record is in the lake exactly once."""
    lake = tmp_path / "lake"
    group = f"g-{uuid.uuid4().hex[:6]}"
    drain_s = 10
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        group,
        NEXUS_SINK__DRAIN_TIMEOUT_S=str(drain_s),
    )

    # 1. Under load: a producer keeps writing while the sink runs; SIGTERM in the middle.
    first = SinkProcess(env, tmp_path)
    rounds: list[Produced] = []
    producing = threading.Event()
    producing.set()

    def load() -> None:
        start = 0
        while producing.is_set():
            rounds.append(produce_known_set(broker.bootstrap, 60, start=start))
            start += 60

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        assert wait_for(lambda: len(checkpoint_offsets(lake)) >= 4, 60), first.log()
        started = time.monotonic()
        code = first.stop(timeout=drain_s + 30)
        stopped_in = time.monotonic() - started
    finally:
        producing.clear()
        loader.join(60)
    assert code == 0, first.log()
    assert stopped_in < drain_s + 10, f"SIGTERM took {stopped_in:.1f} s, the drain bound is {drain_s} s"
    committed_lines = json_logs(first.log_path.read_text(), "batch committed")
    assert committed_lines, first.log()
    for line in committed_lines:
        assert line["batch_id"] == f"{line['topic']}/{line['partition']}/{line['offsets'][0]}"
        assert isinstance(line["duration_s"], float | int) and line["level"] == "info"

    # 2. Produced while the sink is down.
    while_down = produce_known_set(broker.bootstrap, 50, start=1_000_000)
    produced = merged(*rounds, while_down)
    checkpoints = checkpoint_offsets(lake)
    assert set(checkpoints) <= set(produced.ends)
    true_lag = {key: end - checkpoints.get(key, 0) for key, end in produced.ends.items()}
    assert sum(true_lag.values()) >= 2 * 50

    # 3. A sink that flushes nothing by count or age: the lag it shows is exact.
    port = devstack.free_port()
    base = f"http://127.0.0.1:{port}"
    namespace = f"Test{uuid.uuid4().hex[:8]}"
    second = SinkProcess(
        env,
        tmp_path,
        NEXUS_HEALTH__PORT=str(port),
        NEXUS_SINK__MAX_BATCH_RECORDS="1000000",
        NEXUS_SINK__MAX_LATENCY_S="3600",
        NEXUS_SINK__IDLE_FLUSH_S="3600",
        NEXUS_METRICS__CLOUDWATCH="true",
        NEXUS_METRICS__CLOUDWATCH_NAMESPACE=namespace,
        NEXUS_METRICS__CLOUDWATCH_INTERVAL_S="1",
        NEXUS_METRICS__EMF="true",
        NEXUS_AWS__ENDPOINT_URL=stack.aws_endpoint_url,
        NEXUS_AWS__REGION=stack.region,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )

    def per_topic(lag: dict[tuple[str, int], int]) -> dict[str, int]:
        return {t: sum(v for (topic, _), v in lag.items() if topic == t) for t in TOPICS}

    def shows(lag: dict[tuple[str, int], int]) -> bool:
        text = get(f"{base}/metrics")[1].decode()
        sums = per_topic(lag)
        return all(metric(text, "nexus_sink_sum_offset_lag_records", topic=t) == sums[t] for t in TOPICS)

    try:
        assert wait_for(lambda: shows(true_lag), 60), (get(f"{base}/status"), second.log())
        status = orjson.loads(get(f"{base}/status")[1])
        for p in status["partitions"]:
            key = (p["topic"], p["partition"])
            assert (p["committed"], p["high_water"]) == (checkpoints.get(key, 0), produced.ends[key])
            assert p["offset_lag"] == true_lag[key]
        text = get(f"{base}/metrics")[1].decode()
        for (topic, partition), lag in true_lag.items():
            found = metric(
                text, "nexus_sink_partition_offset_lag_records", partition=str(partition), topic=topic
            )
            assert found == lag, (topic, partition)

        # 4. Paused: records produced while the process is stopped count once it runs again.
        second.signal(signal.SIGSTOP)
        try:
            while_paused = produce_known_set(broker.bootstrap, 40, start=2_000_000)
        finally:
            second.signal(signal.SIGCONT)
        produced = merged(produced, while_paused)
        true_lag = {key: end - checkpoints.get(key, 0) for key, end in produced.ends.items()}
        assert wait_for(lambda: shows(true_lag), 60), get(f"{base}/status")
        final = per_topic(true_lag)

        # CloudWatch, read back from moto: the datums the daemon put.
        cw = boto3.client(
            "cloudwatch",
            endpoint_url=stack.aws_endpoint_url,
            region_name=stack.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def cloudwatch_max(topic: str) -> float | None:
            stats = cw.get_metric_statistics(
                Namespace=namespace,
                MetricName="SumOffsetLag",
                Dimensions=[{"Name": "ConsumerGroup", "Value": group}, {"Name": "Topic", "Value": topic}],
                StartTime=datetime.now(tz=UTC) - timedelta(minutes=10),
                EndTime=datetime.now(tz=UTC) + timedelta(minutes=5),
                Period=60,
                Statistics=["Maximum"],
            )
            return max((p["Maximum"] for p in stats["Datapoints"]), default=None)

        assert wait_for(lambda: all(cloudwatch_max(t) == final[t] for t in TOPICS), 30), {
            t: cloudwatch_max(t) for t in TOPICS
        }
        text = get(f"{base}/metrics")[1].decode()
        put_calls = metric(
            text, "nexus_aws_call_duration_seconds_count", operation="PutMetricData", service="cloudwatch"
        )
        assert put_calls is not None and put_calls >= 1

        # EMF lines on stdout carry the same figures.
        def emf_shows() -> bool:
            latest = {d["Topic"]: d for d in emf_lines(second.log_path.read_text()) if "Topic" in d}
            return all(t in latest and latest[t]["SumOffsetLag"] == final[t] for t in TOPICS)

        assert wait_for(emf_shows, 15), second.log()
        for doc in emf_lines(second.log_path.read_text()):
            directive = doc["_aws"]["CloudWatchMetrics"][0]
            assert directive["Namespace"] == namespace and doc["ConsumerGroup"] == group
    finally:
        started = time.monotonic()
        code = second.stop(timeout=drain_s + 30)
        stopped_in = time.monotonic() - started
    assert code == 0, second.log()
    assert stopped_in < drain_s + 10
    # Nothing lost, nothing twice: the last drain flushed all it held.
    assert checkpoint_offsets(lake) == produced.ends
    bronze, dlq = lake_coords(lake, "bronze"), lake_coords(lake, "dlq")
    assert max(bronze.values()) == 1 and max(dlq.values()) == 1
    assert set(bronze) == produced.valid and set(dlq) == produced.invalid
