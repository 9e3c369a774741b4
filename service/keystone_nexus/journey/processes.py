"""The journey's child processes: an ingestion server and the bronze sink, each with its
log in a file, each stopped with SIGTERM (then SIGKILL) by whoever started it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from keystone_nexus.errors import NexusError

ROOT = Path(__file__).resolve().parents[3]
CPP_SERVER = ROOT / "ingestion_cpp" / "build" / "olist_ingestion_enterprise"
NEXUS = (sys.executable, "-m", "keystone_nexus")


class JourneyError(NexusError):
    """A stage of the journey failed; the message names it and the log to read."""


class Child:
    """A child process whose stderr goes to a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name, self.log = name, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file, env=dict(env)
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, wait, SIGKILL if need be; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def server_command(kind: str, bootstrap: str, schema_ids: Path) -> list[str]:
    """The command line of the C++ server (`cpp`) or of the Python twin (`twin`)."""
    head = [str(CPP_SERVER)] if kind == "cpp" else [*NEXUS, "ingest", "serve"]
    return [*head, "--listen", "127.0.0.1:0", "--brokers", bootstrap, "--schema-ids", str(schema_ids)]


def start_server(
    kind: str, bootstrap: str, schema_ids: Path, env: Mapping[str, str], log: Path
) -> tuple[Child, str]:
    """Start an ingestion server; (the process, its grpc:// URL) once it logs `serving`."""
    child = Child(f"ingestion server ({kind})", server_command(kind, bootstrap, schema_ids), env, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for raw in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict) and line.get("event") == "serving":
                    return child, f"grpc://127.0.0.1:{line['port']}"
        if not child.alive():
            break
        time.sleep(0.1)
    child.stop(5)
    raise JourneyError(f"the {kind} ingestion server did not start; log {log}:\n{child.tail()}")


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the sink's /status."""

    t_s: float  # since the sink was started
    records_valid: int
    records_dead: int
    offset_lag: int
    buffered: int
    partitions: int

    @property
    def records(self) -> int:
        return self.records_valid + self.records_dead


def read_status(url: str, timeout_s: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/status", timeout=timeout_s) as response:
        doc: dict[str, Any] = json.loads(response.read())
    return doc


def sample_of(doc: Mapping[str, Any], t_s: float) -> Sample:
    parts = doc.get("partitions", [])
    totals = doc.get("totals", {})
    return Sample(
        t_s=round(t_s, 2),
        records_valid=int(totals.get("records_valid", 0)),
        records_dead=int(totals.get("records_dead", 0)),
        offset_lag=sum(int(p.get("offset_lag") or 0) for p in parts),
        buffered=sum(int(p.get("buffered") or 0) for p in parts),
        partitions=len(parts),
    )


class SinkWatcher:
    """Samples a running sink's /status every `interval_s` on a thread of its own."""

    def __init__(self, child: Child, status_url: str, interval_s: float = 0.5) -> None:
        self.child, self.url, self.interval_s = child, status_url, interval_s
        self.started = time.monotonic()
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sink-status", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with contextlib.suppress(OSError, ValueError):
                self.samples.append(sample_of(read_status(self.url), time.monotonic() - self.started))

    def wait_for(self, records: int, timeout_s: float) -> Sample:
        """Until the sink has committed `records` records (to bronze or the dead letters)
        and holds none buffered; the sample that showed it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise JourneyError(
                    f"the bronze sink exited early; log {self.child.log}:\n{self.child.tail()}"
                )
            last = self.samples[-1] if self.samples else None
            if last is not None and last.records >= records and last.buffered == 0:
                return last
            time.sleep(self.interval_s / 2)
        seen = self.samples[-1].records if self.samples else 0
        raise JourneyError(
            f"the bronze sink committed {seen:,} of {records:,} records in {timeout_s:.0f} s; "
            f"see {self.url}/status and {self.child.log}"
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
