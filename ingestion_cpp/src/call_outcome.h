// What every call ends with, Publish or PublishStream: the service's limits and
// counters, the log line for a call with rejections, and the call's status.
#pragma once

#include <atomic>
#include <cstdint>

#include <grpcpp/support/status.h>
#include <nlohmann/json.hpp>

#include "keystone/olist/v1/ingestion.pb.h"
#include "event_queuer.h"
#include "metrics.h"

namespace nexus {

struct ServiceLimits {
  int max_batch_events = 10000;
  int queue_full_timeout_ms = 2000;
  int max_stream_rejections = 10000;
};

struct ServiceCounters {
  std::atomic<uint64_t> calls_publish{0};
  std::atomic<uint64_t> calls_stream{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected_invalid{0};
  std::atomic<uint64_t> rejected_queue_full{0};
  std::atomic<uint64_t> rejected_delivery{0};
  std::atomic<uint64_t> rejected_permission{0};  // events of an entity their producer may not publish
  std::atomic<uint64_t> auth_missing_token{0};   // calls refused UNAUTHENTICATED: no bearer token
  std::atomic<uint64_t> auth_unknown_token{0};   // ... a token no producer has
  LatencyHistogram publish_latency;  // a Publish call, from its start to its answer
  LatencyHistogram stream_latency;   // a PublishStream call, from its start to its answer
};

// Counts the call's events, logs "publish_rejected" (with `extra` fields) when it has
// rejections, and gives its status: RESOURCE_EXHAUSTED when the producer queue stayed
// full and nothing was accepted (safe to retry whole), else OK.
grpc::Status FinishCall(ServiceCounters& counters, const EventQueuer& queuer, const char* method,
                        const keystone::olist::v1::PublishResponse& response, nlohmann::ordered_json extra);

}  // namespace nexus
