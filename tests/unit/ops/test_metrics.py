"""The ingestion servers' latency histogram: the C++ server's buckets, cumulative."""

from __future__ import annotations

from keystone_nexus.ops.metrics import LatencyHistogram


def test_a_duration_on_a_bound_counts_in_that_bucket_and_every_later_one() -> None:
    histogram = LatencyHistogram()
    for seconds in (0.001, 0.0011, 0.3, 60.0, 61.0):
        histogram.observe(seconds)
    buckets = dict(histogram.buckets())
    assert list(buckets) == [
        *("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1"),
        *("2.5", "5", "10", "60", "+Inf"),
    ]
    assert (buckets["0.001"], buckets["0.0025"], buckets["0.25"], buckets["0.5"]) == (1, 2, 2, 3)
    assert (buckets["60"], buckets["+Inf"]) == (4, 5)
    assert histogram.sum_s == 0.001 + 0.0011 + 0.3 + 60.0 + 61.0


def test_an_empty_histogram_has_every_bucket_at_zero() -> None:
    histogram = LatencyHistogram()
    assert {count for _, count in histogram.buckets()} == {0.0}
    assert histogram.sum_s == 0.0
