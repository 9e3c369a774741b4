"""The whole journey, in stages, each timed:

    stack      the local broker and AWS stand-in (`nexus dev up`)
    generate   an Olist dataset (`nexus olist generate`)
    schemas    the schemas registered in the Glue registry (`nexus schemas sync`)
    server     the ingestion server: the C++ one when it is built, the Python twin otherwise
    ingest     the dataset, then the deliberately bad events, through the server; a few
               malformed records straight to the topics (the bronze sink is already running)
    sink       until the sink has committed every record that reached Kafka (/status)
    lake       bronze rows and dead letters per entity (an S3 lake is copied down first)
    transform  GX bronze, dbt build (silver, gold), GX silver and gold, on DuckDB
    gold       the highlights, read from the DuckDB file

Everything started here is stopped here, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import Producer

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.mirror import mirror_lake
from keystone_nexus.dev.transform import (
    DEFAULT_PROJECT,
    Toolchain,
    TransformReport,
    TransformRun,
    run_transform,
)
from keystone_nexus.ingest.client import IngestClient
from keystone_nexus.ingest.server import load_schema_ids
from keystone_nexus.journey.bad import BadRecord, server_rejects, sink_dead_letters
from keystone_nexus.journey.gold import GoldHighlights, read_highlights
from keystone_nexus.journey.processes import (
    CPP_SERVER,
    NEXUS,
    Child,
    JourneyError,
    Sample,
    SinkWatcher,
    start_server,
)
from keystone_nexus.lake.local import LocalStore
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, dataset_file, read
from keystone_nexus.repair.lake_summary import LakeSummary, summarize
from keystone_nexus.replay.via_grpc import ViaReport, replay_via

ServerKind = Literal["auto", "cpp", "twin"]
LakeKind = Literal["local", "s3"]


@dataclass(frozen=True, kw_only=True)
class JourneyOptions:
    state_dir: Path
    scale: float = 0.1
    seed: int = 42
    server: ServerKind = "auto"
    lake: LakeKind = "local"  # local: file://<state_dir>/lake; s3: the stack's bucket in moto
    partitions: int = 6
    batch: int = 500
    sink_timeout_s: float = 1800.0
    progress: bool = False  # a progress bar while sending


@dataclass
class JourneyResult:
    options: JourneyOptions
    seconds: dict[str, float] = field(default_factory=dict)
    server: str = ""
    via: ViaReport = field(default_factory=ViaReport)
    bad_events: list[tuple[str, bool, str]] = field(default_factory=list)  # defect, accepted, reason
    bad_records: list[BadRecord] = field(default_factory=list)
    lake: LakeSummary = field(default_factory=LakeSummary)
    transform: TransformReport | None = None
    gold: GoldHighlights | None = None
    samples: list[Sample] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.via.total_sent + len(self.bad_events)

    @property
    def accepted(self) -> int:
        return self.via.total_accepted + sum(accepted for _, accepted, _ in self.bad_events)

    @property
    def rejected(self) -> int:
        return self.sent - self.accepted

    @property
    def in_kafka(self) -> int:
        """Records that reached the topics: accepted by the server, or produced straight."""
        return self.accepted + len(self.bad_records)

    @property
    def bronze_rows(self) -> int:
        return sum(self.lake.bronze_rows.values())

    @property
    def dead_lettered(self) -> int:
        return sum(self.lake.dlq_rows.values())


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@contextmanager
def _stage(result: JourneyResult, name: str, say: Say) -> Iterator[None]:
    say(f"== {name}")
    started = time.monotonic()
    try:
        yield
    finally:
        result.seconds[name] = round(time.monotonic() - started, 1)


def _child_env(stack: devstack.StackInfo, lake_uri: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_"))}
    return {**env, **stack.env(), "NEXUS_LAKE__URI": lake_uri, **extra}


def _samples(directory: Path) -> dict[str, dict[str, Any]]:
    """The first readable record of every entity's file."""
    out = {}
    for spec in contracts.entities():
        path, fmt = dataset_file(directory, spec)
        out[spec.name] = next(r for r in read(path, spec, fmt, validate=True) if isinstance(r, Row)).record
    return out


def _choose_server(wanted: ServerKind) -> str:
    if wanted == "auto":
        return "cpp" if os.access(CPP_SERVER, os.X_OK) else "twin"
    if wanted == "cpp" and not os.access(CPP_SERVER, os.X_OK):
        raise JourneyError(f"the C++ ingestion server is not built ({CPP_SERVER}): make cpp")
    return wanted


def _produce(bootstrap: str, records: list[BadRecord]) -> None:
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all"})
    for record in records:
        producer.produce(record.topic, key=record.key, value=record.value, on_delivery=delivered)
    left = producer.flush(30)
    if left or failures:
        raise JourneyError(f"producing the malformed records: {left} undelivered, errors {failures}")


def run_journey(options: JourneyOptions, say: Say = _quiet) -> JourneyResult:
    """Run every stage; stops what it started, also when interrupted. Raises JourneyError
    (or the failing part's own error) at the first failure."""
    state = options.state_dir.resolve()
    result = JourneyResult(options)
    csvs, lake_dir, warehouse = state / "olist", state / "lake", state / "warehouse.duckdb"
    for stale in (lake_dir, state / "lake-mirror", state / "warehouse.duckdb.transform"):
        shutil.rmtree(stale, ignore_errors=True)
    warehouse.unlink(missing_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    logs = state / "logs"

    with ExitStack() as cleanup:
        with _stage(result, "stack", say):
            stack_dir = state / "stack"
            devstack.down(stack_dir)
            cleanup.callback(devstack.down, stack_dir)
            stack = devstack.up(stack_dir, topics=contracts.topics(), partitions=options.partitions)
        lake_uri = f"file://{lake_dir}" if options.lake == "local" else f"{stack.lake_uri}-{int(time.time())}"
        health_port = devstack.free_port()
        env = _child_env(stack, lake_uri, NEXUS_HEALTH__PORT=str(health_port), NEXUS_SINK__MAX_LATENCY_S="2")
        status_url = f"http://127.0.0.1:{health_port}"
        result.paths = {
            "status": f"{status_url}/status",
            "lake": lake_uri,
            "dataset": str(csvs),
            "logs": str(logs),
        }

        with _stage(result, "generate", say):
            shutil.rmtree(csvs, ignore_errors=True)
            generate(csvs, scale=options.scale, seed=options.seed, fmt="csv")
            samples = _samples(csvs)

        with _stage(result, "schemas", say):
            ids_path = state / "schema-ids.json"
            done = subprocess.run(
                [*NEXUS, "schemas", "sync", "--ids-out", str(ids_path)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise JourneyError(f"nexus schemas sync failed:\n{done.stderr[-2000:]}")
            schema_ids = load_schema_ids(ids_path)

        with _stage(result, "server", say):
            kind = _choose_server(options.server)
            try:
                server, url = start_server(
                    kind, stack.bootstrap_servers, ids_path, env, logs / f"server-{kind}.log"
                )
            except JourneyError as exc:
                if options.server != "auto" or kind != "cpp":
                    raise
                say(f"   the C++ server did not start, using the Python twin: {exc}")
                kind = "twin"
                server, url = start_server(
                    kind, stack.bootstrap_servers, ids_path, env, logs / "server-twin.log"
                )
            cleanup.callback(server.stop)
            result.server = f"{'C++ server' if kind == 'cpp' else 'Python twin'} at {url}"

        # The sink runs while the events arrive, as it would in production.
        sink = Child("bronze sink", [*NEXUS, "run"], env, logs / "sink.log")
        cleanup.callback(sink.stop)
        watcher = SinkWatcher(sink, status_url)
        cleanup.callback(watcher.close)

        with _stage(result, "ingest", say):
            with IngestClient(url) as client:
                client.wait_ready(30)
                result.via = replay_via(
                    csvs, client, batch=options.batch, stream=True, progress=options.progress
                )
                bad = server_rejects(samples)
                answer = client.publish([b.event for b in bad])
                result.bad_events = [
                    (b.defect, r.accepted, r.reason) for b, r in zip(bad, answer.results, strict=True)
                ]
            result.bad_records = sink_dead_letters(samples, schema_ids)
            _produce(stack.bootstrap_servers, result.bad_records)

        with _stage(result, "sink", say):
            watcher.wait_for(result.in_kafka, options.sink_timeout_s)
            watcher.close()
            result.samples = list(watcher.samples)
            if sink.stop() != 0:
                raise JourneyError(f"the bronze sink did not stop cleanly; log {sink.log}:\n{sink.tail()}")

        with _stage(result, "lake", say):
            local_lake = lake_dir
            if options.lake == "s3":
                local_lake = state / "lake-mirror"
                mirror_lake(stack, lake_uri, local_lake)
            result.lake = _summary(local_lake)

        with _stage(result, "transform", say):
            result.transform = run_transform(
                TransformRun(lake=local_lake, warehouse=warehouse), Toolchain.find(DEFAULT_PROJECT)
            )
            result.paths["duckdb"] = str(warehouse)
            result.paths["data docs"] = result.transform.data_docs

        with _stage(result, "gold", say):
            result.gold = read_highlights(warehouse)
    return result


def _summary(lake: Path) -> LakeSummary:
    import asyncio

    async def main() -> LakeSummary:
        store = LocalStore(lake)
        try:
            return await summarize(store)
        finally:
            await store.close()

    return asyncio.run(main())
