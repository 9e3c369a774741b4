"""Fixtures for the integration tests: one local stack (Tansu + moto) per session."""

from __future__ import annotations

import atexit
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import StackInfo
from tests.integration.sinkkit import Broker

INTEGRATION_PARTITIONS = 3


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    return devstack.free_port()


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Python dies on SIGTERM without running finalizers or atexit; as an interrupt,
    # pytest stops and still tears the fixtures down (and so stops the stack).
    raise KeyboardInterrupt(f"signal {signum}")


def _up_with_retries(state_dir: Path, attempts: int = 3) -> StackInfo:
    """`up` on fresh ports; a port picked free can be taken before the broker binds it."""
    for attempt in range(attempts):
        try:
            return devstack.up(state_dir, topics=contracts.topics(), partitions=INTEGRATION_PARTITIONS)
        except devstack.DevStackError:
            devstack.down(state_dir)
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    """The session's local stack: every contract topic with 3 partitions, the lake
    bucket and the Glue registry. Stopped at the end of the session, also when the
    session is interrupted or sent SIGTERM (not on SIGKILL: the processes are
    detached; `python -m keystone_nexus dev down --state-dir DIR` cleans up after that)."""
    state_dir = tmp_path_factory.mktemp("stack")
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    atexit.register(devstack.down, state_dir)
    try:
        yield _up_with_retries(state_dir)
    finally:
        devstack.down(state_dir)
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own, with the sink tests' topics, stopped afterwards."""
    b = Broker(tmp_path)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def state_dsn(stack: StackInfo) -> Iterator[str]:
    """A database of the test's own in the stack's PostgreSQL (no schema yet); dropped after."""
    import uuid

    import psycopg

    assert stack.postgres_dsn, "the session stack runs PostgreSQL"
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(stack.postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield stack.postgres_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(stack.postgres_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
