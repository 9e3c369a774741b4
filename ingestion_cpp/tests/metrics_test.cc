#include "metrics.h"

#include <gtest/gtest.h>

namespace nexus {
namespace {

TEST(Metrics, RendersHelpTypeAndSamples) {
  std::vector<MetricFamily> families = {
      {kMetricAccepted, "Events written to Kafka", "counter", {{"", "", 12}}},
      {kMetricRejected, "Events rejected", "counter",
       {{"", "reason=\"invalid\"", 3}, {"", "reason=\"queue_full\"", 0}}},
      {kMetricQueueDepth, "Messages in librdkafka's queue", "gauge", {{"", "", 1.5}}},
  };
  EXPECT_EQ(RenderPrometheus(families),
            "# HELP nexus_ingest_events_accepted_total Events written to Kafka\n"
            "# TYPE nexus_ingest_events_accepted_total counter\n"
            "nexus_ingest_events_accepted_total 12\n"
            "# HELP nexus_ingest_events_rejected_total Events rejected\n"
            "# TYPE nexus_ingest_events_rejected_total counter\n"
            "nexus_ingest_events_rejected_total{reason=\"invalid\"} 3\n"
            "nexus_ingest_events_rejected_total{reason=\"queue_full\"} 0\n"
            "# HELP nexus_ingest_kafka_queue_messages Messages in librdkafka's queue\n"
            "# TYPE nexus_ingest_kafka_queue_messages gauge\n"
            "nexus_ingest_kafka_queue_messages 1.5\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  const std::string text = RenderPrometheus({{"x_total", "line one\nline two \\", "counter", {}}});
  EXPECT_EQ(text, "# HELP x_total line one\\nline two \\\\\n# TYPE x_total counter\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  LatencyHistogram histogram;
  histogram.Observe(0.0005);  // le 0.001
  histogram.Observe(0.001);   // le 0.001: bounds are inclusive
  histogram.Observe(0.3);     // le 0.5
  histogram.Observe(100);     // only +Inf
  MetricFamily family{kMetricLatency, "Call duration", "histogram", {}};
  histogram.AppendTo(&family, "method=\"Publish\"");
  ASSERT_EQ(family.samples.size(), LatencyHistogram::kBounds.size() + 3);
  EXPECT_EQ(family.samples.front().labels, "method=\"Publish\",le=\"0.001\"");
  EXPECT_EQ(family.samples.front().value, 2);
  EXPECT_EQ(family.samples[7].labels, "method=\"Publish\",le=\"0.25\"");
  EXPECT_EQ(family.samples[7].value, 2);
  EXPECT_EQ(family.samples[8].labels, "method=\"Publish\",le=\"0.5\"");
  EXPECT_EQ(family.samples[8].value, 3);
  const MetricSample& inf = family.samples[LatencyHistogram::kBounds.size()];
  EXPECT_EQ(inf.labels, "method=\"Publish\",le=\"+Inf\"");
  EXPECT_EQ(inf.value, 4);
  EXPECT_EQ(family.samples[family.samples.size() - 2].suffix, "_sum");
  EXPECT_NEAR(family.samples[family.samples.size() - 2].value, 100.3015, 1e-6);
  EXPECT_EQ(family.samples.back().suffix, "_count");
  EXPECT_EQ(family.samples.back().value, 4);
  const std::string text = RenderPrometheus({family});
  EXPECT_NE(text.find("nexus_ingest_request_duration_seconds_bucket{method=\"Publish\",le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("nexus_ingest_request_duration_seconds_count{method=\"Publish\"} 4\n"), std::string::npos);
}

}  // namespace
}  // namespace nexus
