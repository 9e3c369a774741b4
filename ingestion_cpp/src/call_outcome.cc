#include "call_outcome.h"

#include <string>
#include <utility>

#include "log.h"

namespace nexus {

namespace v1 = keystone::olist::v1;

grpc::Status FinishCall(ServiceCounters& c, const EventQueuer& queuer, const char* method,
                        const v1::PublishResponse& response, nlohmann::ordered_json extra) {
  c.accepted.fetch_add(response.accepted(), std::memory_order_relaxed);
  c.rejected_invalid.fetch_add(queuer.invalid, std::memory_order_relaxed);
  c.rejected_queue_full.fetch_add(queuer.queue_full, std::memory_order_relaxed);
  c.rejected_delivery.fetch_add(queuer.delivery_failed, std::memory_order_relaxed);
  c.rejected_permission.fetch_add(queuer.forbidden, std::memory_order_relaxed);
  if (response.rejected() > 0) {
    std::string first;
    for (const v1::EventResult& r : response.results()) {
      if (!r.accepted()) {
        first = r.reason();
        break;
      }
    }
    nlohmann::ordered_json fields = {{"method", method},
                                     {"accepted", response.accepted()},
                                     {"rejected", response.rejected()},
                                     {"invalid", queuer.invalid},
                                     {"queue_full", queuer.queue_full},
                                     {"delivery_failed", queuer.delivery_failed},
                                     {"permission_denied", queuer.forbidden},
                                     {"first_reason", first}};
    for (auto& [key, value] : extra.items()) fields[key] = value;
    Log(LogLevel::kInfo, "publish_rejected", std::move(fields));
  }
  if (queuer.exhausted() && response.accepted() == 0) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the Kafka producer queue is full; nothing was written, retry later");
  }
  return grpc::Status::OK;
}

}  // namespace nexus
