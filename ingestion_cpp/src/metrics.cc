#include "metrics.h"

#include <charconv>
#include <cmath>

namespace nexus {
namespace {

void AppendNumber(double value, std::string* out) {
  if (std::isnan(value)) {
    *out += "NaN";
  } else if (std::isinf(value)) {
    *out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    out->append(buf, res.ptr);
  }
}

std::string EscapeHelp(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderPrometheus(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const MetricFamily& family : families) {
    out += "# HELP " + family.name + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + family.name + " " + family.type + "\n";
    for (const MetricSample& sample : family.samples) {
      out += family.name + sample.suffix;
      if (!sample.labels.empty()) out += "{" + sample.labels + "}";
      out += ' ';
      AppendNumber(sample.value, &out);
      out += '\n';
    }
  }
  return out;
}

void LatencyHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
}

void LatencyHistogram::AppendTo(MetricFamily* family, const std::string& labels) const {
  const std::string prefix = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le;
    if (i == kBounds.size()) {
      le = "+Inf";
    } else {
      AppendNumber(kBounds[i], &le);
    }
    family->samples.push_back({"_bucket", prefix + "le=\"" + le + "\"", static_cast<double>(cumulative)});
  }
  family->samples.push_back({"_sum", labels, sum_micros_.load(std::memory_order_relaxed) / 1e6});
  family->samples.push_back({"_count", labels, static_cast<double>(cumulative)});
}

}  // namespace nexus
