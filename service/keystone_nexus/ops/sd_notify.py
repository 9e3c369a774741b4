"""systemd's notify protocol (sd_notify) over the AF_UNIX datagram socket it names.

READY=1 once consuming, WATCHDOG=1 from the consume loop (rate-limited to half the
watchdog interval, so a hung loop stops the pings and systemd restarts the service),
STATUS=<text>, STOPPING=1 on shutdown. Without NOTIFY_SOCKET every call is a no-op.
"""

from __future__ import annotations

import contextlib
import socket
import time


class Notifier:
    def __init__(self, socket_path: str | None, watchdog_usec: int | None = None) -> None:
        self.path = socket_path
        if self.path and self.path.startswith("@"):
            self.path = "\0" + self.path[1:]  # an abstract socket
        self.watchdog_interval_s = watchdog_usec / 1e6 / 2 if watchdog_usec else None
        self._last_watchdog = 0.0
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.path)

    def send(self, message: str) -> None:
        """Send one notification; WATCHDOG=1 at most twice per watchdog interval."""
        if not self.path:
            return
        if message == "WATCHDOG=1":
            if self.watchdog_interval_s is None:
                return
            now = time.monotonic()
            if now - self._last_watchdog < self.watchdog_interval_s:
                return
            self._last_watchdog = now
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the event loop: a reader that stopped reading costs a message, not the loop.
            self._socket.setblocking(False)
        with contextlib.suppress(OSError):  # full queue or systemd gone: nothing to tell
            self._socket.sendto(message.encode(), self.path)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
