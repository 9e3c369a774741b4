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

The shared parts are in bench.harness (measured processes, the broker and the data,
the result line); the figures and the report in bench.sink_report, the profile in
bench.sink_profile. This module holds the variants and the runner.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import sink_profile
from bench.harness import (
    PARTITIONS,
    POLL_S,
    ROOT,
    SCRATCH_ROOT,
    TOPIC,
    Child,
    Dataset,
    await_quiet,
    code_digest,
    emit_result,
    free_port,
    log_events,
    log_ts,
    machine,
    machine_cpu,
    newest_mtime,
    parquet_files,
    prepare,
)
from bench.sink_report import Figures, floors, report, table, usage_into

GLUE_HEADER_SIZE = 18
QUIX_VENV = SCRATCH_ROOT / "venv-quix"
QUIX_REQUIREMENTS = ("quixstreams==3.28.1",)  # + the project's pyarrow version, for the same writer
DEFAULT_TUNED = "MAX_BATCH_BYTES=8388608,MEMORY_BUDGET_BYTES=67108864"  # smaller batches, less memory

VARIANTS = {
    "a": "aiokafka getmany(max_records=10000), counting only (the limit)",
    "b": "nexus run, default settings",
    "t": "nexus run, TUNED {tuned}",
    "c": 'quixstreams {quix} LocalFileSink(format="parquet") (the peer)',
}


# ----------------------------------------------------------------------------- variant a


def run_limit(data: Dataset, state: Path, timeout: float) -> Figures:
    """a: aiokafka alone, counting records (a child running `consume_child`)."""
    fig = Figures("a", VARIANTS["a"], data.events)
    argv = [sys.executable, "-m", "bench.sink", "--child-consume", data.bootstrap, str(data.events)]
    child = Child(argv, env=dict(os.environ), cwd=ROOT, log_path=state / "logs" / "a.log")
    usage = child.finish(terminate=False, timeout=timeout)
    lines = child.stdout_lines()
    usage_into(fig, usage)
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


# ---------------------------------------------------------------------- variants b and t


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
                assigned = [e for e in log_events(child.log_path) if e.get("event") == "partition assigned"]
                if assigned:
                    cpu_start = child.cpu_s()
                    main_start = child.main_thread_cpu_s()
                    start_ts = min(log_ts(e["ts"]) for e in assigned)
            elif _caught_up(lake, data.ends):
                fig.cpu_s = child.cpu_s() - (cpu_start or 0.0)
                fig.main_cpu_s = child.main_thread_cpu_s() - (main_start or 0.0)
                fig.window_s = newest_mtime(parquet_files(lake / "bronze")) - start_ts
                fig.peak_rss_bytes = child.peak_rss()
                break
            time.sleep(POLL_S)
        else:
            fig.error = "did not catch up" if child.running() else "exited early"
    finally:
        usage = child.finish(terminate=True)
    usage_into(fig, usage)
    if fig.error:
        fig.error += f" (exit {usage.returncode}): {child.log_tail()}"
        return fig
    fig.rows_written, fig.verified = verify_lake(lake, data.ends)
    fig.details = _batch_summary(child.log_path, start_ts or 0.0)
    return fig


def _nexus_env(data: Dataset, lake: Path, name: str) -> dict[str, str]:
    return {
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": data.bootstrap,
        "NEXUS_KAFKA__TOPICS": TOPIC,
        "NEXUS_KAFKA__GROUP_ID": f"bench-nexus-{name}-{uuid.uuid4()}",
        "NEXUS_LAKE__URI": f"file://{lake}",
        "NEXUS_REGISTRY__KIND": "local",
        "NEXUS_REGISTRY__LOCAL_PATH": str(data.registry),
        "NEXUS_HEALTH__PORT": str(free_port()),
    }


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
    for path in parquet_files(lake / "bronze"):
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
    dead = sum(pq.read_metadata(f).num_rows for f in parquet_files(lake / "dlq"))
    if dead:
        problems.append(f"{dead:,} rows dead-lettered")
    if problems:
        return rows, "ROWS WRONG: " + "; ".join(problems)
    return rows, f"exactly {rows:,} rows, every offset once (_partition, _offset), 0 dead-lettered"


def _batch_summary(log_path: Path, start_ts: float) -> dict[str, Any]:
    """What the "batch committed" log lines say. `bulk_events_per_s`: the records of the
    batches cut by count or bytes over the time to the last of them committed, i.e. the
    rate before the stream's tail waits for an age cut (max_latency_s)."""
    batches = [e for e in log_events(log_path) if e.get("event") == "batch committed"]
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
        seconds = max(log_ts(e["ts"]) for e in bulk) - start_ts
        records = sum(int(e.get("valid", 0)) + int(e.get("dead_lettered", 0)) for e in bulk)
        summary["bulk_events_per_s"] = round(records / seconds) if seconds > 0 else None
        summary["bulk_records"] = records
        summary["bulk_window_s"] = round(seconds, 2)
    return summary


# ----------------------------------------------------------------------------- variant c


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
                fig.window_s = newest_mtime(list(rows)) - started["first_ts"]
                fig.peak_rss_bytes = child.peak_rss()
                break
            time.sleep(POLL_S)
        else:
            fig.error = "did not write every row" if child.running() else "exited early"
    finally:
        usage = child.finish(terminate=True)
    usage_into(fig, usage)
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

    for path in parquet_files(out):
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


# ------------------------------------------------------------------------------- profile


def profile_nexus(data: Dataset, state: Path, timeout: float) -> dict[str, Any]:
    """One more `nexus run` (default settings) sampled by py-spy; the hottest functions."""
    lake = state / "lake_profile"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env.update(_nexus_env(data, lake, "profile"))
    return sink_profile.sample(
        [sys.executable, "-m", "keystone_nexus", "run"],
        env=env,
        cwd=state / "cwd_profile",
        state=state,
        done=lambda: _caught_up(lake, data.ends),
        timeout=timeout,
    )


# ---------------------------------------------------------------------------------- main


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
    digest = code_digest()
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
            await_quiet(broker.pid, args.quiet_wait)
            print(f"running {name} ...", flush=True)
            before = machine_cpu(broker.pid)
            fig = steps[name]()
            after = machine_cpu(broker.pid)
            fig.other_cpu_s = after.others_since(before)
            fig.kernel_cpu_s = after.kernel_since(before)
            figures.append(fig)
            print(f"  {fig.events_per_s:,.0f} events/s; {fig.verified or fig.error}", flush=True)
        if args.profile:
            await_quiet(broker.pid, args.quiet_wait)
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
        "machine": machine(),
        "code_digest": digest,
        "code_changed_during_run": code_digest() != digest,
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
    emit_result(result)


if __name__ == "__main__":
    main()
