"""sd_notify over a real AF_UNIX datagram socket."""

import socket
import time
from pathlib import Path

from keystone_nexus.notify import Notifier


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
