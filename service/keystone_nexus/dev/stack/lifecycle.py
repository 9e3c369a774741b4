"""Up, down, status and restart of a whole stack recorded in a state dir.

:func:`up` starts the broker, moto and PostgreSQL (all detached), creates the topics before any
other client is told where the broker is (see :mod:`~keystone_nexus.dev.stack.broker`
for why), provisions the bucket and registry, and writes stack.json and the env file.
On a dir whose recorded stack is still fully alive it returns the recorded
:class:`StackInfo` when the request is identical (same topics, partitions, bucket,
registry, region, and the same ports where ports were given) and raises
:class:`StackAlreadyRunningError` otherwise (also when only part of it is alive).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keystone_nexus.dev.stack.broker import create_topics, start_broker, wait_for_broker
from keystone_nexus.dev.stack.info import (
    BROKER,
    DEFAULT_BUCKET,
    DEFAULT_REGION,
    DEFAULT_REGISTRY_NAME,
    ENV_FILE,
    HOST,
    LAKE_PREFIX,
    LOG_DIR,
    MOTO,
    POSTGRES,
    READY_TIMEOUT,
    STATE_FILE,
    DevStackError,
    StackAlreadyRunningError,
    StackInfo,
    render_env_file,
    require_local_packages,
)
from keystone_nexus.dev.stack.moto import provision_aws, start_moto, wait_for_http
from keystone_nexus.dev.stack.postgres import postgres_dsn, start_postgres, wait_for_postgres
from keystone_nexus.dev.stack.process import ManagedProcess, free_port, free_ports
from keystone_nexus.dev.stack.state import locked, read_state, recorded_processes, write_atomic, write_state

__all__ = ["down", "restart", "status", "up"]


def _default_topics() -> tuple[str, ...]:
    from keystone_nexus.contracts import entities as contracts

    return contracts.topics()


def _same_request(
    info: StackInfo,
    procs: Mapping[str, ManagedProcess],
    *,
    topics: tuple[str, ...],
    partitions: int,
    kafka_port: int,
    aws_port: int,
    bucket: str,
    registry_name: str,
    region: str,
    postgres: bool,
) -> bool:
    return (
        bool(info.postgres_dsn) == postgres
        and info.topics == topics
        and info.partitions == partitions
        and info.bucket == bucket
        and info.registry_name == registry_name
        and info.region == region
        and kafka_port in (0, procs[BROKER].port)
        and aws_port in (0, procs[MOTO].port)
    )


def _wait_ready(state_dir: Path, proc: ManagedProcess, timeout: float) -> None:
    if proc.name == BROKER:
        wait_for_broker(f"{HOST}:{proc.port}", timeout=timeout, process=proc)
    elif proc.name == POSTGRES:
        wait_for_postgres(state_dir, proc.port, timeout=timeout, process=proc)
    else:
        wait_for_http(f"http://{HOST}:{proc.port}", timeout=timeout, process=proc)


def up(
    state_dir: Path,
    *,
    topics: Sequence[str] | None = None,
    partitions: int = 6,
    kafka_port: int = 0,
    aws_port: int = 0,
    bucket: str = DEFAULT_BUCKET,
    registry_name: str = DEFAULT_REGISTRY_NAME,
    region: str = DEFAULT_REGION,
    ready_timeout: float = READY_TIMEOUT,
    postgres: bool = True,
) -> StackInfo:
    """Start the broker, moto and (unless `postgres` is false) PostgreSQL, create topics,
    bucket and registry, write the env file (with NEXUS_STATE__DSN when PostgreSQL runs).

    `topics` defaults to ``contracts.topics()``; ports 0 pick free loopback ports.
    If the stack recorded in `state_dir` is still fully alive, the recorded info is
    returned when the request is identical, else StackAlreadyRunningError is raised.
    On any failure everything started here is stopped again; without the ``local``
    extra's packages nothing is started (one error names the extra).
    """
    require_local_packages()
    state_dir = Path(state_dir).resolve()
    wanted = tuple(dict.fromkeys(topics if topics is not None else _default_topics()))
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    if kafka_port and kafka_port == aws_port:
        raise ValueError(f"kafka_port and aws_port are both {kafka_port}")
    with locked(state_dir):
        data = read_state(state_dir)
        recorded = recorded_processes(data)
        alive = {name: proc for name, proc in recorded.items() if proc.alive()}
        if alive and data is not None:
            info = StackInfo.from_json(data["info"])
            complete = set(alive) == set(recorded)
            if complete and _same_request(
                info,
                alive,
                topics=wanted,
                partitions=partitions,
                kafka_port=kafka_port,
                aws_port=aws_port,
                bucket=bucket,
                registry_name=registry_name,
                region=region,
                postgres=postgres,
            ):
                return info
            running = ", ".join(f"{p.name} pid {p.pid} port {p.port}" for p in alive.values())
            kind = "a different stack" if complete else "part of a stack"
            raise StackAlreadyRunningError(
                f"{kind} is still running from {state_dir} ({running}); "
                f"stop it first: python -m keystone_nexus dev down --state-dir {state_dir}"
            )

        (state_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
        starters = {BROKER: start_broker, MOTO: start_moto, POSTGRES: start_postgres}
        requested = {BROKER: kafka_port, MOTO: aws_port, POSTGRES: 0}
        names = (BROKER, MOTO, POSTGRES) if postgres else (BROKER, MOTO)
        started: dict[str, ManagedProcess] = {}

        def make_info() -> StackInfo:
            return StackInfo(
                state_dir=state_dir,
                bootstrap_servers=f"{HOST}:{started[BROKER].port}",
                aws_endpoint_url=f"http://{HOST}:{started[MOTO].port}",
                region=region,
                bucket=bucket,
                lake_uri=f"s3://{bucket}/{LAKE_PREFIX}",
                registry_name=registry_name,
                topics=wanted,
                partitions=partitions,
                postgres_dsn=postgres_dsn(state_dir, started[POSTGRES].port) if POSTGRES in started else "",
            )

        try:
            # Start them all before waiting on any: moto's import takes a second.
            ports = free_ports(len(names))
            for name in names:
                port = requested[name] or ports.pop()
                started[name] = starters[name](state_dir, port, wait=False)
            # Recorded at once, so `down` finds them even if this process dies here.
            write_state(state_dir, make_info(), started, state="starting")
            for name in names:
                for attempt in range(3):
                    try:
                        _wait_ready(state_dir, started[name], ready_timeout)
                        break
                    except DevStackError:
                        # Died at once on a port picked here: most likely someone took
                        # the port in between; try another one. Otherwise give up.
                        if requested[name] or started[name].alive() or attempt == 2:
                            raise
                        started[name] = starters[name](state_dir, free_port(), wait=False)
                        write_state(state_dir, make_info(), started, state="starting")
            info = make_info()
            create_topics(info.bootstrap_servers, wanted, partitions)
            provision_aws(info.aws_endpoint_url, bucket=bucket, registry_name=registry_name, region=region)
            write_atomic(state_dir / ENV_FILE, render_env_file(info.env()))
            write_state(state_dir, info, started, state="running")
            return info
        except BaseException:
            for proc in reversed(list(started.values())):
                with contextlib.suppress(Exception):
                    proc.stop()
            with contextlib.suppress(OSError):
                (state_dir / STATE_FILE).unlink()
            raise


def down(state_dir: Path, *, timeout: float = 10.0) -> list[str]:
    """Stop the processes recorded in `state_dir` that are still the same processes
    (pid + command line + start time); return the names of those stopped.

    Idempotent: a second call (or a call on a dir without a stack) returns [].
    stack.json, env and the logs stay for inspection (stack.json marked stopped).
    """
    state_dir = Path(state_dir).resolve()
    if not (state_dir / STATE_FILE).exists():
        return []
    with locked(state_dir):
        data = read_state(state_dir)
        if data is None:
            return []
        stopped = []
        failures = []
        # Reverse start order: PostgreSQL and moto first, the broker last.
        for name, proc in reversed(list(recorded_processes(data).items())):
            try:
                if proc.stop(timeout):
                    stopped.append(name)
            except DevStackError as exc:
                failures.append(str(exc))
        if data.get("state") != "stopped":
            data["state"] = "stopped"
            data["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            write_atomic(state_dir / STATE_FILE, json.dumps(data, indent=2) + "\n")
        if failures:
            raise DevStackError("; ".join(failures))
        return stopped


def status(state_dir: Path) -> dict[str, Any]:
    """What is recorded in `state_dir` and which of its processes are alive::

    {"state_dir": str, "recorded": bool, "running": bool (all alive),
     "processes": {"broker": {"pid", "port", "alive", "paused", "log"}, "moto": ...},
     "info": {...StackInfo...} | None}
    """
    state_dir = Path(state_dir).resolve()
    data = read_state(state_dir)
    procs = recorded_processes(data)
    report = {
        name: {
            "pid": proc.pid,
            "port": proc.port,
            "alive": proc.alive(),
            "paused": proc.paused(),
            "log": str(proc.log_path),
        }
        for name, proc in procs.items()
    }
    return {
        "state_dir": str(state_dir),
        "recorded": data is not None,
        "running": bool(report) and all(p["alive"] for p in report.values()),
        "processes": report,
        "info": data["info"] if data else None,
    }


def restart(state_dir: Path, name: str, *, timeout: float = READY_TIMEOUT) -> ManagedProcess:
    """Restart the recorded `name` ("broker", "moto" or "postgres") on the same port and
    record the new pid. A restarted broker is empty (memory storage): its topics are
    created again at once, and a restarted moto gets its bucket and registry back;
    everything else stored in them is gone. PostgreSQL keeps its data.
    """
    state_dir = Path(state_dir).resolve()
    with locked(state_dir):
        data = read_state(state_dir)
        procs = recorded_processes(data)
        if data is None or name not in procs:
            raise DevStackError(f"no {name!r} recorded in {state_dir}")
        info = StackInfo.from_json(data["info"])
        old = procs[name]
        old.stop()
        start = {BROKER: start_broker, MOTO: start_moto, POSTGRES: start_postgres}[name]
        procs[name] = start(state_dir, old.port, timeout=timeout)
        write_state(state_dir, info, procs, state="running")
        if name == BROKER:
            create_topics(info.bootstrap_servers, info.topics, info.partitions)
        elif name == MOTO:
            provision_aws(
                info.aws_endpoint_url,
                bucket=info.bucket,
                registry_name=info.registry_name,
                region=info.region,
            )
        return procs[name]
