"""The encoding worker pool: real spawned processes, replaced when one dies."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from keystone_nexus.sink.workers import WorkerPool, encode_executor, warm_up


def _pid() -> int:
    return os.getpid()


def _die() -> None:
    os._exit(3)


def _signals() -> tuple[object, object]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    executor = encode_executor(1, 2)
    assert isinstance(executor, WorkerPool)
    try:
        yield executor
    finally:
        executor.shutdown()


def test_work_runs_in_another_process_that_ignores_stop_signals(pool: WorkerPool) -> None:
    warm_up(pool, 1)
    assert pool.submit(_pid).result(timeout=60) != os.getpid()
    assert pool.submit(_signals).result(timeout=60) == (signal.SIG_IGN, signal.SIG_IGN)


def test_a_dead_worker_fails_its_batch_and_the_next_batch_gets_a_new_pool(pool: WorkerPool) -> None:
    first = pool.submit(_pid).result(timeout=60)
    with pytest.raises(BrokenProcessPool):
        pool.submit(_die).result(timeout=60)
    second = pool.submit(_pid).result(timeout=60)
    assert second != first
    assert pool.replaced == 1


def test_zero_processes_means_threads_in_this_process() -> None:
    executor = encode_executor(0, 2)
    try:
        assert executor.submit(_pid).result(timeout=10) == os.getpid()
    finally:
        executor.shutdown()
