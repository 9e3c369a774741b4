"""Helpers for the ingestion-server tests: a server process, schema ids, reading back.

Both servers (the C++ binary and `nexus ingest serve`) log JSON lines on stderr and say
`serving` with the bound `port` and `metrics_port`, so one class runs either, and one
scrape reads either's /metrics.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

ROOT = Path(__file__).resolve().parents[2]
CPP_SERVER = ROOT / "ingestion_cpp" / "build" / "olist_ingestion_enterprise"
NEXUS = [sys.executable, "-m", "keystone_nexus"]


class ServerProcess:
    """An ingestion server as a child process; its JSON log lines are collected."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.logs: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60) or self.proc.poll() is not None:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {self.logs}")
        serving = next((line for line in self.logs if line.get("event") == "serving"), None)
        if serving is None:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {self.logs}")
        self.address = f"127.0.0.1:{serving['port']}"
        self.url = f"grpc://{self.address}"
        self.metrics_port: int = serving.get("metrics_port", 0)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"event": "raw", "text": raw.decode(errors="replace")}
            self.logs.append(line)
            if line.get("event") in ("serving", "startup_failed"):
                self._ready.set()
        self._ready.set()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.logs if line.get("event") == name]

    def wait_for_log(self, name: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not self.events(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events(name)

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


DEFAULT_METRICS_ADDRESS = ("127.0.0.1", 9464)


@contextmanager
def default_metrics_port_taken() -> Iterator[None]:
    """Hold both servers' default /metrics address (127.0.0.1:9464) while a server starts
    without choosing one; if another server on this machine holds it, it is taken all the
    same."""
    with socket.socket() as default:
        default.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            default.bind(DEFAULT_METRICS_ADDRESS)
            default.listen()
        except OSError:
            pass
        yield


def scrape_metrics(port: int) -> dict[str, float]:
    """A server's /metrics on loopback as {"name{labels}": value} (text format 0.0.4),
    the labels in name order (a server may write them in any order)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4"), answer.headers
        body = answer.read().decode()
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            pairs = sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
            key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else "")
            samples[key] = float(value)
    return samples


def sync_schema_ids(tmp: Path) -> tuple[Path, dict[str, str]]:
    """`nexus schemas sync --ids-out` against a local registry in `tmp`."""
    path = tmp / "ids.json"
    env = {**os.environ, "NEXUS_REGISTRY__LOCAL_PATH": str(tmp / "registry")}
    env.pop("NEXUS_REGISTRY__KIND", None)
    subprocess.run(
        [*NEXUS, "schemas", "sync", "--ids-out", str(path)], check=True, env=env, capture_output=True
    )
    return path, json.loads(path.read_text())


def twin_command(bootstrap: str, ids: Path, *extra: str) -> list[str]:
    return [
        *NEXUS,
        "ingest",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        bootstrap,
        "--schema-ids",
        str(ids),
        *extra,
    ]


def cpp_command(bootstrap: str, ids: Path, *extra: str) -> list[str]:
    return [
        str(CPP_SERVER),
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        bootstrap,
        "--schema-ids",
        str(ids),
        *extra,
    ]


SERVER_KINDS = ("twin", "cpp")


def server_command(kind: str, bootstrap: str, ids: Path, *extra: str) -> list[str]:
    """The command line of either server (`kind` "twin" or "cpp") on a free loopback port;
    both take these flags, and every NEXUS_* variable, the same way."""
    if kind == "cpp":
        assert CPP_SERVER.exists(), f"{CPP_SERVER} is not built; `make test` builds it (or `make cpp`)"
        return cpp_command(bootstrap, ids, *extra)
    assert kind == "twin", kind
    return twin_command(bootstrap, ids, *extra)


def server_env(settings: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without NEXUS_INGEST__* (a developer's own would change
    what is under test), plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_INGEST__")}
    return {**env, **(settings or {})}


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"ingest-{uuid.uuid4()}", "enable.auto.commit": False}
    )


@dataclass(frozen=True)
class Read:
    event_id: str
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: dict[str, bytes]


def read_back(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    want: Callable[[Read], bool],
    expected: int,
    *,
    timeout: float = 90.0,
    idle_s: float = 1.5,
) -> list[Read]:
    """The messages of `topics`, read from the start, that `want` picks: read until
    `expected` were found and nothing more came for `idle_s` (so a duplicate behind the
    last one shows up too). From the start, as the local broker's high watermarks are
    not reliable."""
    consumer = _consumer(bootstrap)
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(partitions)])
    found: list[Read] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = _batch(consumer, 0.2)
            if batch:
                quiet_since = time.monotonic()
                found += [r for r in batch if want(r)]
            elif len(found) >= expected and time.monotonic() - quiet_since >= idle_s:
                break
    finally:
        consumer.close()
    return found


def _batch(consumer: Consumer, timeout: float) -> list[Read]:
    out = []
    for msg in consumer.consume(5000, timeout):
        if msg.error():
            continue
        headers: dict[str, bytes] = {}
        for header in msg.headers() or []:
            name, raw = str(header[0]), header[1]
            headers[name] = raw if isinstance(raw, bytes) else str(raw or "").encode()
        key, value = msg.key(), msg.value()
        out.append(
            Read(
                event_id=headers.get("event_id", b"").decode(),
                topic=msg.topic() or "",
                partition=msg.partition() or 0,
                offset=msg.offset() or 0,
                key=key if isinstance(key, bytes) else b"",
                value=value if isinstance(value, bytes) else b"",
                headers=headers,
            )
        )
    return out
