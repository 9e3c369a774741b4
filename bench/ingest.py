"""Ingestion throughput: the C++ server and the Python twin, same data, same run.

    .venv/bin/python -m bench.ingest [--events 1000000] [--servers cpp,twin] [--streams 1]
                                     [--replay-scale 1.0]

One run starts a fresh local broker (Tansu, memory storage) with the contract topics
(6 partitions), writes the schema version ids with `nexus schemas sync --ids-out` (local
registry), and takes order items of a generated Olist dataset (fresh order ids, so every
event is distinct) as 40 PublishRequests of 500 events, serialized once. Then for each
server, as its own process: start it, stream the requests round-robin (PublishStream,
batches of 500) until --events were sent, and time from the first request to the
server's answer, which comes after every event's delivery report: end to end into the
broker. For each: events/s, the server's CPU seconds (user+sys) over the stream and its
peak RSS (VmHWM), the broker's and the client's CPU seconds; the load average before
the run says how busy the (possibly shared) machine was. The C++ server's floor,
100k events/s, is reported as met or missed; nothing about time is asserted.

Then, with the C++ server, `replay --via` from CSV: a generated Olist dataset at
--replay-scale (1.0: 1.55M rows; 0 skips it) sent by `nexus replay --from DIR --via
grpc://... --stream` as its own process into a fresh C++ server on the same broker. The
client reads, types and encodes every row itself, so this is the path a user takes; its
figure is the replay's own events/s (its elapsed time, from the first row read to the last
answer), with the client's CPU seconds (the whole process, start-up included), the
server's and the broker's. Its floor, 150k events/s, is reported as met or missed.

The C++ server is ingestion_cpp/build/olist_ingestion_enterprise (built with
scripts/build_cpp.sh when missing); the twin is `python -m keystone_nexus ingest serve`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.harness import (
    ROOT,
    Child,
    bootstrap_of,
    emit_result,
    proc_cpu_rss,
    schema_ids,
    start_broker,
)
from keystone.olist.v1 import ingestion_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.ingest.client import record_event
from keystone_nexus.olist.generate import build_tables, generate

CPP_SERVER = ROOT / "ingestion_cpp" / "build" / "olist_ingestion_enterprise"
BATCH = 500
DISTINCT_BATCHES = 40
CPP_FLOOR_EVENTS_PER_S = 100_000
REPLAY_FLOOR_EVENTS_PER_S = 150_000
STREAM_METHOD = "/keystone.olist.v1.IngestionService/PublishStream"


def requests(seed: int) -> list[bytes]:
    """DISTINCT_BATCHES serialized PublishRequests of BATCH order items each."""
    items = build_tables(scale=0.02, seed=seed)["order_items"].to_pylist()
    spec = contracts.entity("order_items")
    out = []
    for b in range(DISTINCT_BATCHES):
        events = []
        for i in range(BATCH):
            n = b * BATCH + i
            record = {**items[n % len(items)], "order_id": f"{n:032x}"}
            events.append(record_event(spec, record, event_id=f"bench-{n:012d}", source="bench"))
        out.append(ingestion_pb2.PublishRequest(events=events).SerializeToString())
    return out


class Server:
    """A server process that logs JSON lines on stderr and says `serving` with its port."""

    def __init__(self, name: str, command: Sequence[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        self.port = 0
        self.tail: list[str] = []
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").strip()
            self.tail = [*self.tail[-20:], line]
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("event") == "serving":
                self.port = int(doc["port"])
                break
        if not self.port:
            self.proc.kill()
            raise SystemExit(f"{name} did not start:\n" + "\n".join(self.tail))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.tail = [*self.tail[-20:], raw.decode(errors="replace").strip()]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(120)


@dataclass
class Row:
    server: str
    events: int
    accepted: int
    rejected: int
    seconds: float
    events_per_s: int
    server_cpu_s: float
    server_peak_rss_mb: int
    broker_cpu_s: float
    client_cpu_s: float
    exit_code: int


def stream_through(server: Server, batches: list[bytes], events: int, streams: int, broker_pid: int) -> Row:
    per_stream = max(1, events // streams // BATCH)

    def one(offset: int) -> tuple[int, int]:
        options = [("grpc.max_receive_message_length", -1)]
        with grpc.insecure_channel(f"127.0.0.1:{server.port}", options=options) as channel:
            call = channel.stream_unary(
                STREAM_METHOD,
                request_serializer=None,
                response_deserializer=ingestion_pb2.PublishResponse.FromString,
            )
            messages: Iterator[bytes] = (batches[(offset + i) % len(batches)] for i in range(per_stream))
            response = call(messages, timeout=1800)
        return response.accepted, response.rejected

    cpu0, _ = proc_cpu_rss(server.proc.pid)
    broker0, _ = proc_cpu_rss(broker_pid)
    client0 = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        answers = list(pool.map(one, range(streams)))
    elapsed = time.perf_counter() - started
    cpu1, rss = proc_cpu_rss(server.proc.pid)
    broker1, _ = proc_cpu_rss(broker_pid)
    accepted = sum(a for a, _ in answers)
    rejected = sum(r for _, r in answers)
    return Row(
        server=server.name,
        events=accepted + rejected,
        accepted=accepted,
        rejected=rejected,
        seconds=round(elapsed, 2),
        events_per_s=round(accepted / elapsed),
        server_cpu_s=round(cpu1 - cpu0, 2),
        server_peak_rss_mb=round(rss / 1e6),
        broker_cpu_s=round(broker1 - broker0, 2),
        client_cpu_s=round(time.process_time() - client0, 2),
        exit_code=server.stop(),
    )


@dataclass
class ReplayRow:
    rows: int
    accepted: int
    rejected: int
    seconds: float
    events_per_s: int
    client_cpu_s: float
    client_peak_rss_mb: int
    server_cpu_s: float
    broker_cpu_s: float
    load_average: str
    exit_code: int


def replay_csv(
    server: Server, dataset: Path, rows: int, broker_pid: int, logs: Path, *, stream: bool = True
) -> ReplayRow:
    """`nexus replay --via` of `dataset` into `server` (PublishStream, or unary Publish of
    batches of 500), the client measured as a Child."""
    command = [
        sys.executable,
        "-m",
        "keystone_nexus",
        "replay",
        "--from",
        str(dataset),
        "--via",
        f"grpc://127.0.0.1:{server.port}",
        *(["--stream"] if stream else []),
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "service"), str(ROOT)])}
    cpu0, _ = proc_cpu_rss(server.proc.pid)
    broker0, _ = proc_cpu_rss(broker_pid)
    client = Child(command, env=env, cwd=ROOT, log_path=logs / "replay.log")
    usage = client.finish(terminate=False, timeout=1800)
    cpu1, _ = proc_cpu_rss(server.proc.pid)
    broker1, _ = proc_cpu_rss(broker_pid)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    out = client.out_path.read_text()
    total = re.search(r"^total\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d.]+) s", out, re.M)
    if total is None:
        tail = client.log_tail()
        raise SystemExit(f"replay --via printed no total (exit {usage.returncode}):\n{out}\n{tail}")
    _sent, accepted, rejected = (int(x.replace(",", "")) for x in total.groups()[:3])
    seconds = float(total.group(4))
    return ReplayRow(
        rows=rows,
        accepted=accepted,
        rejected=rejected,
        seconds=seconds,
        events_per_s=round(accepted / seconds) if seconds else 0,
        client_cpu_s=round(usage.cpu_total_s, 2),
        client_peak_rss_mb=round(usage.peak_rss_bytes / 1e6),
        server_cpu_s=round(cpu1 - cpu0, 2),
        broker_cpu_s=round(broker1 - broker0, 2),
        load_average=load,
        exit_code=usage.returncode,
    )


def replay_table(row: ReplayRow) -> str:
    return "\n".join(
        [
            "| replay --via from CSV | rows | accepted | s | events/s | client CPU s | client peak RSS MB "
            "| server CPU s | broker CPU s | load average after |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| C++ server | {row.rows:,} | {row.accepted:,} | {row.seconds} | {row.events_per_s:,} "
            f"| {row.client_cpu_s} | {row.client_peak_rss_mb} | {row.server_cpu_s} | {row.broker_cpu_s} "
            f"| {row.load_average} |",
        ]
    )


def table(rows: Sequence[Row]) -> str:
    head = (
        "| server | events | accepted | s | events/s | server CPU s | server peak RSS MB "
        "| broker CPU s | client CPU s |"
    )
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r.server} | {r.events:,} | {r.accepted:,} | {r.seconds} | {r.events_per_s:,} "
            f"| {r.server_cpu_s} | {r.server_peak_rss_mb} | {r.broker_cpu_s} | {r.client_cpu_s} |"
        )
    return "\n".join(out)


def run(args: argparse.Namespace) -> dict[str, Any]:
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if "cpp" in servers and not CPP_SERVER.exists():
        subprocess.run([str(ROOT / "scripts" / "build_cpp.sh")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    broker = start_broker(tmp, contracts.topics(), args.partitions)
    rows: list[Row] = []
    replayed: ReplayRow | None = None
    try:
        bootstrap = bootstrap_of(broker)
        ids = schema_ids(tmp)
        nexus = [sys.executable, "-m", "keystone_nexus"]
        batches = requests(args.seed)
        proto_bytes = sum(len(b) for b in batches) / (len(batches) * BATCH)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average before: {load} ({os.cpu_count()} CPUs; a busy machine disturbs the figures)")
        print(
            f"{args.events:,} order-item events per server, batches of {BATCH}, {args.streams} stream(s), "
            f"{args.partitions} partitions, {proto_bytes:.0f} protobuf bytes per event",
            flush=True,
        )
        common = ["--listen", "127.0.0.1:0", "--brokers", bootstrap, "--schema-ids", str(ids)]
        commands = {"cpp": [str(CPP_SERVER), *common], "twin": [*nexus, "ingest", "serve", *common]}
        for name in servers:
            server = Server(name, commands[name])
            row = stream_through(server, batches, args.events, args.streams, broker.pid)
            rows.append(row)
            print(
                f"{name:<5} {row.events_per_s:>9,} events/s  ({row.accepted:,} accepted in {row.seconds} s, "
                f"server CPU {row.server_cpu_s} s, peak RSS {row.server_peak_rss_mb} MB)",
                flush=True,
            )
        if "cpp" in servers and args.replay_scale > 0:
            dataset = tmp / "olist"
            written = sum(generate(dataset, scale=args.replay_scale, seed=args.seed).values())
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"replay --via from CSV: {written:,} rows, scale {args.replay_scale}, load average {load}")
            server = Server("cpp", [*commands["cpp"], "--metrics-listen", "none"])
            try:
                replayed = replay_csv(server, dataset, written, broker.pid, tmp / "logs")
            finally:
                server.stop()
    finally:
        broker.stop()
    print()
    markdown = table(rows)
    print(markdown)
    result: dict[str, Any] = {"rows": [asdict(r) for r in rows], "markdown": markdown}
    by_name = {r.server: r for r in rows}
    if "cpp" in by_name:
        met = by_name["cpp"].events_per_s >= CPP_FLOOR_EVENTS_PER_S
        verdict = "met" if met else "MISSED"
        floor = (
            f"C++ server >= {CPP_FLOOR_EVENTS_PER_S:,} events/s: {verdict} ({by_name['cpp'].events_per_s:,})"
        )
        print(floor)
        result["cpp_floor_met"] = met
        result["markdown"] += "\n\n" + floor
    if "cpp" in by_name and "twin" in by_name and by_name["twin"].events_per_s:
        ratio = by_name["cpp"].events_per_s / by_name["twin"].events_per_s
        print(f"C++ / twin: {ratio:.1f}x")
        result["cpp_over_twin"] = round(ratio, 2)
    if replayed is not None:
        print()
        markdown = replay_table(replayed)
        met = replayed.events_per_s >= REPLAY_FLOOR_EVENTS_PER_S
        floor = (
            f"replay --via from CSV >= {REPLAY_FLOOR_EVENTS_PER_S:,} events/s: "
            f"{'met' if met else 'MISSED'} ({replayed.events_per_s:,})"
        )
        print(markdown)
        print(floor)
        result["replay"] = asdict(replayed)
        result["replay_floor_met"] = met
        result["markdown"] += "\n\n" + markdown + "\n\n" + floor
        if replayed.accepted != replayed.rows or replayed.exit_code:
            print(f"NOT every row accepted by replay --via (exit {replayed.exit_code})")
    lost = [r.server for r in rows if r.accepted != r.events or r.rejected]
    if lost:
        print(f"NOT every event accepted: {', '.join(lost)}")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events per server")
    parser.add_argument("--servers", default="cpp,twin", help="comma-separated: cpp, twin")
    parser.add_argument("--streams", type=int, default=1, help="concurrent PublishStream calls")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--replay-scale", type=float, default=1.0, help="dataset scale of replay --via from CSV (0: skip)"
    )
    result = run(parser.parse_args(argv))
    emit_result(result)


if __name__ == "__main__":
    main()
