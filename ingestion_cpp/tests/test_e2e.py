"""What only the C++ server does, as a process: its `starting` line, systemd's notify
protocol. Everything the twin does too (the ingestion contract, limits, backpressure,
/metrics, TLS, settings, shutdown) is in the conformance suite, run against both servers:
tests/integration/conformance.

Run:  make cpp && .venv/bin/pytest -q ingestion_cpp/tests/test_e2e.py
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from keystone_nexus.dev import stack as devstack
from tests.integration.ingestkit import CPP_SERVER, ServerProcess, cpp_command, server_env, sync_schema_ids

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def schema_ids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert CPP_SERVER.exists(), f"{CPP_SERVER} is not built; `make test` builds it (or `make cpp`)"
    return sync_schema_ids(tmp_path_factory.mktemp("cpp-registry"))[0]


def nowhere() -> str:
    """A broker address nothing listens on: neither test produces."""
    return f"127.0.0.1:{devstack.free_port()}"


def test_logs_the_librdkafka_version_and_stops_cleanly(schema_ids: Path) -> None:
    server = ServerProcess(cpp_command(nowhere(), schema_ids, "--metrics-listen", "none"), env=server_env())
    assert server.stop() == 0
    starting = server.events("starting")[0]
    major, minor = (int(x) for x in starting["librdkafka_version"].split(".")[:2])
    assert (major, minor) >= (2, 2), "older librdkafka cannot talk to the local broker"
    assert server.events("serving")[0]["reflection"] is True
    stopped = server.events("stopped")[0]
    assert (stopped["unflushed"], stopped["events_accepted_total"]) == (0, 0)


def test_tells_systemd_when_ready_alive_and_stopping(schema_ids: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(30)
        env = server_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})
        env.pop("WATCHDOG_PID", None)
        server = ServerProcess(cpp_command(nowhere(), schema_ids, "--metrics-listen", "none"), env=env)
        ready = notify.recv(4096).decode()
        assert ready.startswith("READY=1\n") and f"port {server.address.rsplit(':', 1)[1]}" in ready
        pings = [notify.recv(4096).decode() for _ in range(3)]  # every 150 ms: half the period
        assert pings == ["WATCHDOG=1"] * 3
        server.proc.send_signal(signal.SIGTERM)
        while (state := notify.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert state.startswith("STOPPING=1\n")
        assert server.proc.wait(60) == 0
