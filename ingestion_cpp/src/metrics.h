// The server's metrics, named once here, and their Prometheus text rendering.
//
// Counters are atomics bumped once per call (per request message for a stream),
// never per event under a lock; the latency histogram has fixed buckets. Rendering
// is pure (MetricFamily in, text out) and unit-tested; metrics_http serves it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace nexus {

// Metric names: <namespace>_<name>_<unit>, counters end in _total.
constexpr char kMetricCalls[] = "nexus_ingest_calls_total";
constexpr char kMetricAccepted[] = "nexus_ingest_events_accepted_total";
constexpr char kMetricRejected[] = "nexus_ingest_events_rejected_total";
constexpr char kMetricProduced[] = "nexus_ingest_kafka_produced_total";
constexpr char kMetricDeliveryErrors[] = "nexus_ingest_kafka_delivery_errors_total";
constexpr char kMetricQueueDepth[] = "nexus_ingest_kafka_queue_messages";
constexpr char kMetricLatency[] = "nexus_ingest_request_duration_seconds";
// {reason="missing_token"|"unknown_token"}: calls refused UNAUTHENTICATED; "permission_denied": events.
constexpr char kMetricAuthRejections[] = "nexus_ingest_auth_rejections_total";

struct MetricSample {
  std::string suffix;  // appended to the family name: "", "_bucket", "_sum", "_count"
  std::string labels;  // rendered label pairs without braces: method="Publish",le="0.5"
  double value = 0;
};

struct MetricFamily {
  std::string name;
  std::string help;
  std::string type;  // counter, gauge or histogram
  std::vector<MetricSample> samples;
};

// The text exposition format, version 0.0.4.
std::string RenderPrometheus(const std::vector<MetricFamily>& families);

// A label value, escaped for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& value);

// Request latency: fixed buckets from 1 ms to 60 s, lock-free.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,  60};

  void Observe(double seconds);
  // Adds the _bucket (cumulative, with le="+Inf"), _sum and _count samples.
  void AppendTo(MetricFamily* family, const std::string& labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // the last is +Inf
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace nexus
