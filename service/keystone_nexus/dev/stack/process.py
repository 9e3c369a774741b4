"""The stack's processes: free loopback ports, :class:`ManagedProcess` (a detached
server identified by pid + command line + start time, so a recorded pid that the
kernel has given to another program is never signalled), and the checks that turn
"it did not answer" into an error that says whether it died and shows its log.

Named ``process`` (one process), not ``processes``: :func:`~keystone_nexus.dev.stack.processes`
is the function that reads the recorded ones from a state dir.
"""

from __future__ import annotations

import contextlib
import os
import random
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keystone_nexus.dev.stack.info import HOST, DevStackError

__all__ = [
    "ManagedProcess",
    "check_alive",
    "free_port",
    "free_ports",
    "not_ready",
    "port_is_free",
    "require_free",
    "tcp_open",
]


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    return free_ports(1, host)[0]


# Ports are picked below the kernel's ephemeral range (32768+ on Linux): there, outgoing
# connections take ports too, and a port just used by one lingers in TIME_WAIT, which the
# broker (no SO_REUSEADDR) cannot bind: it says "ready" and dies. Seen on busy test runs.
_PORT_RANGE = (20_000, 32_000)


def free_ports(count: int, host: str = HOST) -> list[int]:
    # Keep every socket bound until all are chosen, so the ports are distinct.
    socks: list[socket.socket] = []
    rng = random.Random()
    try:
        while len(socks) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((host, rng.randrange(*_PORT_RANGE)))
            except OSError:
                sock.close()
                continue
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Strict, as the broker binds without SO_REUSEADDR: TIME_WAIT counts as taken.
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _proc_identity(pid: int) -> tuple[list[str], int | None] | None:
    """(argv, start time in clock ticks) of a live, non-zombie process, else None."""
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self/stat").exists():
        try:
            stat = (proc / "stat").read_text()
            raw = (proc / "cmdline").read_bytes()
        except OSError:
            return None
        # The command name (field 2) may contain spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X", "x"):
            return None
        argv = [a.decode(errors="replace") for a in raw.split(b"\0")]
        if argv and argv[-1] == "":
            argv.pop()
        return argv, int(fields[19])
    # No /proc (macOS): ask ps; argv can only be compared joined with spaces.
    result = subprocess.run(
        ["ps", "-o", "stat=", "-o", "command=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    line = result.stdout.strip()
    if result.returncode != 0 or not line:
        return None
    state, _, command = line.partition(" ")
    if state.startswith("Z"):
        return None
    return [command.strip()], None


# Popen handles of the processes this interpreter started: used to reap them (no
# zombies while the parent lives) and to keep `subprocess` from warning about
# still-running children when a handle is garbage-collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_EXIT_CODES: dict[int, int] = {}


@dataclass
class ManagedProcess:
    """A detached server process, identified by pid + command line (+ start time)."""

    name: str
    argv: tuple[str, ...]
    port: int
    log_path: Path
    pid: int
    start_ticks: int | None = None
    env: dict[str, str] | None = field(default=None, repr=False)
    stop_signal: str = "SIGTERM"  # PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for clients)

    # -- creation

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        stop_signal: str = "SIGTERM",
    ) -> ManagedProcess:
        """Start `argv` in its own session, appending its output to `log_path`;
        :meth:`stop` sends it `stop_signal` first."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"\n=== {stamp} starting {name}: {shlex.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=dict(env) if env is not None else None,
            )
        _CHILDREN[popen.pid] = popen
        _EXIT_CODES.pop(popen.pid, None)
        identity = _proc_identity(popen.pid)
        return cls(
            name=name,
            argv=tuple(argv),
            port=port,
            log_path=log_path,
            pid=popen.pid,
            start_ticks=identity[1] if identity else None,
            env=dict(env) if env is not None else None,
            stop_signal=stop_signal,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "argv": list(self.argv),
            "port": self.port,
            "log_path": str(self.log_path),
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "stop_signal": self.stop_signal,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ManagedProcess:
        ticks = data.get("start_ticks")
        return cls(
            name=str(data["name"]),
            argv=tuple(str(a) for a in data["argv"]),
            port=int(data["port"]),
            log_path=Path(data["log_path"]),
            pid=int(data["pid"]),
            start_ticks=int(ticks) if ticks is not None else None,
            stop_signal=str(data.get("stop_signal", "SIGTERM")),
        )

    # -- inspection

    def _reap(self) -> None:
        popen = _CHILDREN.get(self.pid)
        if popen is not None and popen.poll() is not None:
            _EXIT_CODES[self.pid] = popen.returncode
            del _CHILDREN[self.pid]

    def alive(self) -> bool:
        """Whether `pid` is still this process (same command line and start time).

        A child of this interpreter is answered from its Popen handle: right after
        exec, /proc/PID/cmdline can still be empty (the kernel sets the new argv
        after the exec has closed the pipe Popen waits on), which would read as "a
        different process" and fail a healthy start.
        """
        self._reap()
        if self.pid in _CHILDREN:
            return True
        if self.pid in _EXIT_CODES:
            return False
        identity = _proc_identity(self.pid)
        if identity is None:
            return False
        argv, ticks = identity
        if len(argv) == 1 and len(self.argv) > 1:  # from ps: joined with spaces
            same_argv = argv[0] == " ".join(self.argv)
        else:
            # Or the tail it exec'd (setpriv ... -- postgres ...: the server's own argv).
            same_argv = tuple(argv) == self.argv or (
                0 < len(argv) < len(self.argv) and self.argv[-len(argv) :] == tuple(argv)
            )
        same_start = ticks is None or self.start_ticks is None or ticks == self.start_ticks
        return same_argv and same_start

    def paused(self) -> bool:
        """Whether the process is alive and stopped by SIGSTOP (Linux only)."""
        if not self.alive():
            return False
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")

    def returncode(self) -> int | None:
        """The exit status if this interpreter started it and it has exited."""
        self._reap()
        return _EXIT_CODES.get(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- signals

    def _signal(self, sig: signal.Signals) -> bool:
        if not self.alive():
            return False
        try:
            # Its own session, so its own process group: reach any children too.
            if os.getpgid(self.pid) == self.pid:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            popen = _CHILDREN.get(self.pid)
            if popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
            if not self.alive():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> bool:
        """`stop_signal` (SIGTERM), wait up to `timeout`, then SIGKILL. False if it was not running."""
        if not self._signal(signal.Signals[self.stop_signal]):
            self._reap()
            return False
        self._signal(signal.SIGCONT)  # a paused process only sees SIGTERM once resumed
        if not self._wait_gone(timeout):
            self._signal(signal.SIGKILL)
            if not self._wait_gone(5.0):
                raise DevStackError(f"{self.name} (pid {self.pid}) survived SIGKILL")
        self._reap()
        return True

    def _await_paused(self, paused: bool, timeout: float = 2.0) -> None:
        # Signals are delivered asynchronously: wait until /proc shows the new state.
        if not Path("/proc/self/stat").exists():
            return
        deadline = time.monotonic() + timeout
        while self.paused() != paused and time.monotonic() < deadline:
            time.sleep(0.01)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers."""
        if not self._signal(signal.SIGSTOP):
            raise DevStackError(f"{self.name} (pid {self.pid}) is not running")
        self._await_paused(True)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if not self._signal(signal.SIGCONT):
            raise DevStackError(f"{self.name} (pid {self.pid}) is not running")
        self._await_paused(False)

    def restart(self, timeout: float = 10.0) -> ManagedProcess:
        """Stop this process and start the same command (same port) again.

        Returns the new process, not yet checked for readiness. For the broker
        this is an empty broker (memory storage): re-create the topics at once.
        """
        self.stop(timeout)
        return ManagedProcess.spawn(
            self.name,
            self.argv,
            port=self.port,
            log_path=self.log_path,
            env=self.env,
            stop_signal=self.stop_signal,
        )


def require_free(name: str, port: int) -> None:
    if not port_is_free(port):
        raise DevStackError(f"cannot start {name}: {HOST}:{port} is already in use")


# ------------------------------------------------------------------- readiness
# Shared by the broker's and moto's waits: fail fast when the process died, and say why.


def not_ready(what: str, process: ManagedProcess | None, detail: str) -> DevStackError:
    if process is None:
        return DevStackError(f"{what}: {detail}")
    code = process.returncode()
    exited = f" (exited with status {code})" if code is not None else ""
    tail = process.log_tail()
    return DevStackError(
        f"{what}: {detail}{exited}; see {process.log_path}"
        + (f"\n--- last lines of {process.log_path.name} ---\n{tail}" if tail else "")
    )


def check_alive(what: str, process: ManagedProcess | None) -> None:
    if process is not None and not process.alive():
        raise not_ready(what, process, "the process died")


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
