"""The metrics' conventions: counters count (with `_total`, without `_created`), the
schema cache's hits and misses are counters, durations are `_duration_seconds`, and the
sink's registry carries the process collector and its process tree's RSS."""

from __future__ import annotations

import multiprocessing
import re

from prometheus_client import CollectorRegistry, generate_latest

from keystone_nexus.ops.metrics import AwsCallMetrics, SinkMetrics, tree_rss_bytes


def _exposition(metrics: SinkMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_no_created_series_and_the_cache_counts_as_counters() -> None:
    metrics = SinkMetrics()
    metrics.records_written.labels("olist.orders.v1").inc(3)
    counts = [5, 1]
    metrics.watch_cache(lambda: (counts[0], counts[1]))
    text = _exposition(metrics)
    assert "_created" not in text
    assert "# TYPE nexus_registry_cache_hits_total counter" in text
    assert "nexus_registry_cache_hits_total 5.0" in text and "nexus_registry_cache_misses_total 1.0" in text
    counts[0] = 9
    assert "nexus_registry_cache_hits_total 9.0" in _exposition(metrics), "read at each scrape"


def test_durations_share_one_naming_scheme() -> None:
    names = set(re.findall(r"^# TYPE (\S+) histogram", _exposition(SinkMetrics()), re.M))
    registry = CollectorRegistry()
    AwsCallMetrics(registry).seconds.labels("s3", "PutObject").observe(0.1)
    names |= set(re.findall(r"^# TYPE (\S+) histogram", generate_latest(registry).decode(), re.M))
    assert names and all(n.endswith("_duration_seconds") for n in names), names


def _sleep() -> None:
    import time

    time.sleep(5)


def test_the_process_collector_and_the_trees_memory() -> None:
    text = _exposition(SinkMetrics())
    assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text
    alone = tree_rss_bytes(multiprocessing.current_process().pid or 0)
    child = multiprocessing.get_context("spawn").Process(target=_sleep)
    child.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while (
            tree_rss_bytes(multiprocessing.current_process().pid or 0) <= alone
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert tree_rss_bytes(multiprocessing.current_process().pid or 0) > alone, "a worker counts"
    finally:
        child.terminate()
        child.join()
    assert "nexus_sink_process_tree_resident_memory_bytes" in text
