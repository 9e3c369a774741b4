"""Start-up: wait for each dependency the sink needs (Kafka, S3, the Glue registry and
catalog) instead of dying on the first refused connection.

The health endpoint comes up before any dependency is tried, so an orchestrator sees a
live process (/healthz 200) that is not ready (/readyz 503, naming what it waits for).
Each dependency is tried by one `attempt`; an attempt that fails with an error saying
trying again can help (``retriable`` on the error, as aiokafka's and ours carry it, or
a timeout) is tried again after a capped, jittered, doubling delay (0.5 s, 1 s, 2 s ...
30 s). An error that is not retriable -- a bad setting, a store that cannot fence,
credentials refused -- stops start-up at once: waiting cannot fix it.

One log line when a dependency starts failing, then at most one per `log_window_s`
(or when the kind of error changes), and one when it comes back: an outage of an hour
logs a few dozen lines, not one per retry.

The pure parts (:class:`Backoff`, :func:`should_log`) decide; :class:`Startup` does the
waiting and keeps what /readyz and /healthz show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

log = logging.getLogger("keystone_nexus.startup")

T = TypeVar("T")

__all__ = ["Backoff", "Startup", "StartupAborted", "Waiting", "retriable", "should_log"]


class StartupAborted(Exception):
    """`stop` was set while start-up was still waiting: leave without starting."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between tries: `initial_s` doubling up to `max_s`, each scaled by a random
    factor in [1 - jitter, 1 + jitter] (and still at most `max_s`), so many sinks
    restarted together do not retry in step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.2

    def delay(self, failures: int, rand: float) -> float:
        """The wait after the `failures`-th failure in a row; `rand` in [0, 1)."""
        base = min(self.max_s, self.initial_s * 2.0 ** max(0, failures - 1))
        return min(self.max_s, base * (1 - self.jitter + 2 * self.jitter * rand))


def retriable(exc: BaseException) -> bool:
    """Whether trying the start-up step again can help: the error says so, or it is a
    timeout of the attempt itself."""
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, TimeoutError)


def should_log(
    *, failures: int, kind: str, last_kind: str, now: float, last_line: float, window_s: float
) -> bool:
    """One line per window: the first failure, a new kind of error, or `window_s` since
    the last line."""
    return failures == 1 or kind != last_kind or now - last_line >= window_s


@dataclass
class Waiting:
    """A dependency start-up is waiting for, as /readyz shows it."""

    dependency: str  # "Kafka", "S3", "Glue Schema Registry", ...
    target: str  # where: bootstrap servers, the lake uri, the endpoint
    since: float
    attempts: int = 0
    error: str = ""
    kind: str = ""
    last_line: float = 0.0

    def reason(self, now: float) -> str:
        return (
            f"waiting for {self.dependency} ({self.target}): {self.error} "
            f"(attempt {self.attempts}, {now - self.since:.0f} s)"
        )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or "no answer in time"
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


@dataclass
class Startup:
    """Runs the start-up steps and records what they wait for."""

    backoff: Backoff = field(default_factory=Backoff)
    attempt_timeout_s: float = 120.0
    log_window_s: float = 30.0
    notify: Callable[[str], None] = lambda _message: None
    clock: Callable[[], float] = time.monotonic
    rand: Callable[[], float] = random.random
    waiting: dict[str, Waiting] = field(default_factory=dict)
    starting: set[str] = field(default_factory=set)
    done: bool = False
    waited: bool = False  # some dependency was not there at the first try

    def reasons(self) -> list[str]:
        """Why the sink is not ready yet, one line per dependency still pending."""
        now = self.clock()
        out = [w.reason(now) for _, w in sorted(self.waiting.items())]
        out += [f"starting: connecting to {d}" for d in sorted(self.starting - set(self.waiting))]
        return out or ([] if self.done else ["starting"])

    def waiting_for(self) -> list[str]:
        return sorted({w.dependency for w in self.waiting.values()})

    @contextlib.contextmanager
    def _step(self, dependency: str) -> Iterator[None]:
        self.starting.add(dependency)
        try:
            yield
        finally:
            self.starting.discard(dependency)
            self.waiting.pop(dependency, None)

    async def wait_for(
        self,
        dependency: str,
        target: str,
        attempt: Callable[[], Awaitable[T]],
        stop: asyncio.Event,
    ) -> T:
        """`attempt()` until it succeeds; retriable failures are waited out, any other
        error is raised at once. Raises StartupAborted when `stop` is set meanwhile."""
        with self._step(dependency):
            while True:
                try:
                    result = await _unless_stopped(_bounded(attempt(), self.attempt_timeout_s), stop)
                except StartupAborted as exc:
                    raise StartupAborted(dependency) from exc
                except Exception as exc:
                    if not retriable(exc):
                        raise
                    delay = self._failed(dependency, target, exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    if stop.is_set():
                        raise StartupAborted(dependency) from None
                    continue
                self._recovered(dependency)
                return result

    def _failed(self, dependency: str, target: str, exc: BaseException) -> float:
        now = self.clock()
        self.waited = True
        w = self.waiting.setdefault(dependency, Waiting(dependency, target, since=now))
        w.attempts += 1
        kind, last_kind = type(exc).__name__, w.kind
        w.error, w.kind = _describe(exc), kind
        delay = self.backoff.delay(w.attempts, self.rand())
        if should_log(
            failures=w.attempts,
            kind=kind,
            last_kind=last_kind,
            now=now,
            last_line=w.last_line,
            window_s=self.log_window_s,
        ):
            w.last_line = now
            log.warning(
                f"waiting for {dependency}",
                extra={
                    "dependency": dependency,
                    "target": target,
                    "error": w.error,
                    "attempts": w.attempts,
                    "waited_s": round(now - w.since, 1),
                    "retry_in_s": round(delay, 2),
                },
            )
            self.notify(f"STATUS=waiting for {dependency} ({target})")
        # systemd would kill a start-up that takes longer than TimeoutStartSec: extend it
        # by what the next try may take, so only a start-up that stops trying is killed.
        self.notify(f"EXTEND_TIMEOUT_USEC={int((delay + self.attempt_timeout_s + 10) * 1e6)}")
        return delay

    def _recovered(self, dependency: str) -> None:
        w = self.waiting.get(dependency)
        if w is None:
            return
        log.info(
            f"{dependency} available",
            extra={
                "dependency": dependency,
                "target": w.target,
                "attempts": w.attempts + 1,
                "waited_s": round(self.clock() - w.since, 1),
            },
        )


async def _bounded(aw: Awaitable[T], timeout_s: float) -> T:
    async with asyncio.timeout(timeout_s):
        return await aw


async def _unless_stopped(aw: Awaitable[T], stop: asyncio.Event) -> T:
    """`aw`'s result, or StartupAborted (with `aw` cancelled) once `stop` is set."""
    task = asyncio.ensure_future(aw)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        stopped.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise StartupAborted
    return task.result()
