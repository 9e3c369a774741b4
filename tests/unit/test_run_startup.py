"""`nexus run` at start-up, as a process: a bad setting or a taken health port stops it
at once with one line and exit 78 (CONFIG); a dependency that is down is waited for, and SIGTERM
meanwhile ends it cleanly (exit 0); its log level is the sink.log_level setting, or
--log-level."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from keystone_nexus.dev.stack import free_port


def _nexus_run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    return subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "run"],
        env={**base, "NEXUS_LAKE__URI": f"file://{tmp_path / 'lake'}", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_setting_stops_start_up_at_once_naming_the_field(tmp_path: Path) -> None:
    done = _nexus_run(tmp_path, NEXUS_SINK__MAX_BATCH_RECORDS="0")
    assert done.returncode == 78
    assert "Traceback" not in done.stderr
    assert "max_batch_records" in done.stderr.lower(), done.stderr


def test_a_health_port_in_use_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _nexus_run(
            tmp_path, NEXUS_HEALTH__PORT=str(port), NEXUS_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1"
        )
    assert done.returncode == 78, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("nexus: health.port") and f"127.0.0.1:{port}" in last, done.stderr


def _readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _stopped_while_waiting_for_kafka(
    tmp_path: Path, *flags: str, **settings: str
) -> tuple[subprocess.Popen[str], str]:
    """`nexus run` with Kafka down, sent SIGTERM once /readyz says it is waiting; the
    process (ended) and its stderr."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    health = free_port()
    env = {
        **base,
        "NEXUS_LAKE__URI": f"file://{tmp_path / 'lake'}",
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "NEXUS_HEALTH__PORT": str(health),
        **settings,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "keystone_nexus", "run", *flags],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while _readyz(health) != 503 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert _readyz(health) == 503
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, err


def test_sigterm_while_waiting_for_kafka_exits_cleanly(tmp_path: Path) -> None:
    proc, err = _stopped_while_waiting_for_kafka(tmp_path)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped during start-up" in err


def _levels(stderr: str) -> set[str]:
    return {json.loads(line)["level"] for line in stderr.splitlines() if line.startswith("{")}


def test_the_sink_logs_at_its_level_setting(tmp_path: Path) -> None:
    proc, err = _stopped_while_waiting_for_kafka(tmp_path, NEXUS_SINK__LOG_LEVEL="warn")
    assert proc.returncode == 0, err
    assert "info" not in _levels(err) and '"event":"starting"' not in err, err


def test_the_log_level_flag_wins_over_the_setting(tmp_path: Path) -> None:
    proc, err = _stopped_while_waiting_for_kafka(
        tmp_path, "--log-level", "info", NEXUS_SINK__LOG_LEVEL="error"
    )
    assert proc.returncode == 0, err
    assert "info" in _levels(err) and '"event":"starting"' in err, err
