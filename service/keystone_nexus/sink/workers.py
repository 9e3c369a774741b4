"""The executor that validates and encodes batches: worker processes, or threads.

The consume loop (aiokafka's record parsing above all) keeps the main thread busy; the
validation and Parquet encoding of a batch is mostly native code but still holds the
GIL for a good part. Worker processes take it off the main interpreter so both run at
once on two cores. A batch crosses as plain lists (`RecordColumns`) and comes back as
bytes (`EncodedBatch`); nothing in a worker touches the network or the lake.

Workers are started with `spawn` (the parent runs threads; `fork` would copy their
locks), ignore SIGINT and SIGTERM (the parent decides when to stop and drains first),
and are killed by the kernel when the parent dies, kill -9 included, so they never
outlive it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

log = logging.getLogger("keystone_nexus.sink")
P = ParamSpec("P")
T = TypeVar("T")

PR_SET_PDEATHSIG = 1


def encode_executor(processes: int, threads: int) -> Executor:
    """`processes` worker processes, or `threads` threads in this process when 0."""
    if processes == 0:
        return ThreadPoolExecutor(threads, thread_name_prefix="nexus-encode")
    return WorkerPool(processes)


class WorkerPool(Executor):
    """A process pool that replaces itself when a worker dies (killed for memory, a
    crash in native code): the batches in flight fail and are retried from their
    announced cuts, and the next batch gets a fresh pool instead of BrokenProcessPool
    for ever."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.replaced = 0
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_started
        )

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            log.warning("an encoding worker died; starting new workers", extra={"workers": self.processes})
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new()
            self.replaced += 1
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def warm_up(executor: Executor, workers: int) -> None:
    """Start every worker and import the encoder there now, not on the first batch."""
    if isinstance(executor, WorkerPool):
        for future in [executor.submit(_ready) for _ in range(workers)]:
            future.result()


def _worker_started() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    import keystone_nexus.sink.encode  # noqa: F401  (the import is the warm-up)


def _ready() -> bool:
    return True
