"""sd_notify over a real AF_UNIX datagram socket."""

import asyncio
import contextlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from keystone_nexus.lake.local import LocalStore
from keystone_nexus.ops.sd_notify import Notifier
from keystone_nexus.registry.local import LocalRegistry
from keystone_nexus.sink.batcher import CutRules
from keystone_nexus.sink.commit import CommitOptions
from keystone_nexus.sink.daemon import BronzeSink, SinkOptions


def test_messages_and_watchdog_rate(tmp_path: Path) -> None:
    path = str(tmp_path / "n.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(0.5)
    notifier = Notifier(path, watchdog_usec=400_000)  # pings at most every 0.2 s
    notifier.send("READY=1")
    for _ in range(50):
        notifier.send("WATCHDOG=1")
        time.sleep(0.01)
    notifier.send("STOPPING=1")
    got = []
    try:
        while True:
            got.append(receiver.recv(64).decode())
    except TimeoutError:
        pass
    assert got[0] == "READY=1" and got[-1] == "STOPPING=1"
    assert 2 <= got.count("WATCHDOG=1") <= 4  # ~0.5 s of pings at 0.2 s spacing


def test_a_reader_that_stops_reading_never_blocks_the_sender(tmp_path: Path) -> None:
    path = str(tmp_path / "n.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    notifier = Notifier(path)
    started = time.monotonic()
    for i in range(5_000):
        notifier.send(f"STATUS=message {i}")
    assert time.monotonic() - started < 5
    assert receiver.recv(64).startswith(b"STATUS=")


def test_without_a_socket_nothing_happens() -> None:
    notifier = Notifier(None)
    notifier.send("READY=1")
    assert not notifier.enabled


class _StallableConsumer:
    """Stands in for the Kafka consumer: getmany answers (empty) until `stall` is set,
    then never again, as a consume loop hung on an await would."""

    def __init__(self) -> None:
        self.stall = asyncio.Event()
        self.calls = 0

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        self.calls += 1
        if self.stall.is_set():
            await asyncio.Event().wait()  # hangs until cancelled
        await asyncio.sleep(timeout_ms / 1000 / 4)
        return {}


async def test_a_stuck_consume_loop_stops_the_watchdog_pings(tmp_path: Path) -> None:
    """The pings come from the consume loop itself: when it hangs, they stop, although
    the event loop still runs (so systemd's watchdog restarts the service)."""
    path = str(tmp_path / "n.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.setblocking(False)
    notifier = Notifier(path, watchdog_usec=200_000)  # a ping at most every 0.1 s
    consumer = _StallableConsumer()
    sink = BronzeSink(
        consumer=consumer,
        store=LocalStore(str(tmp_path / "lake")),
        registry=LocalRegistry(tmp_path / "registry"),
        executor=ThreadPoolExecutor(1),
        options=SinkOptions(rules=CutRules(), commit=CommitOptions()),
        owner="test",
        notify=notifier.send,
    )

    def drain() -> list[float]:
        stamps = []
        while True:
            try:
                if receiver.recv(64) == b"WATCHDOG=1":
                    stamps.append(time.monotonic())
            except BlockingIOError:
                return stamps

    stop = asyncio.Event()
    running = asyncio.create_task(sink.run(stop))
    ticks = 0
    try:
        for _ in range(15):  # 1.5 s of a healthy loop
            await asyncio.sleep(0.1)
            ticks += 1
        healthy = drain()
        assert len(healthy) >= 5, healthy
        consumer.stall.set()
        await asyncio.sleep(0.3)  # the loop's last round ends and it hangs in getmany
        drain()
        calls = consumer.calls
        for _ in range(15):  # 1.5 s of a hung loop, the event loop still turning
            await asyncio.sleep(0.1)
            ticks += 1
        assert drain() == [], "a hung consume loop must not ping the watchdog"
        assert ticks == 30 and consumer.calls == calls
        assert time.monotonic() - sink.last_loop > 1.5
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        notifier.close()
        receiver.close()
